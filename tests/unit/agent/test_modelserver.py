"""The scripted model server speaks the Messages API (JSON and SSE) and Converse (through real
boto3), plays turns by conversation length, injects faults, and records what it got."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from baton.testing.modelserver import ModelServer, ScriptError, load_script

SCRIPT = {
    "usage": {"input_tokens": 11, "output_tokens": 7},
    "turns": [
        {"text": "looking", "tools": [{"name": "write", "input": {"path": "a.txt", "content": "x"}}]},
        {"text": "done"},
    ],
}
TOOLS = [{"name": "write_file", "description": "w", "input_schema": {"type": "object"}}]


def _post(url: str, body: dict[str, Any]) -> tuple[int, str, str]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"content-type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["content-type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["content-type"], exc.read().decode()


def _sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for chunk in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in chunk.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_messages_json_answers_the_turn_of_the_conversation() -> None:
    with ModelServer(SCRIPT) as server:
        first = json.loads(
            _post(
                f"{server.url}/v1/messages",
                {"messages": [{"role": "user", "content": "go"}], "tools": TOOLS, "max_tokens": 100},
            )[2]
        )
        history = [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": first["content"]},
            {"role": "user", "content": "r"},
        ]
        second = json.loads(
            _post(f"{server.url}/v1/messages", {"messages": history, "tools": TOOLS, "max_tokens": 100})[2]
        )

    assert first["stop_reason"] == "tool_use"
    assert first["content"][1] == {
        "type": "tool_use",
        "id": first["content"][1]["id"],
        "name": "write_file",
        "input": {"path": "a.txt", "content": "x"},
    }
    assert first["usage"]["input_tokens"] == 11
    assert first["usage"]["output_tokens"] == 7
    assert second["content"] == [{"type": "text", "text": "done"}]
    assert second["stop_reason"] == "end_turn"


def test_messages_stream_sends_the_sse_events_in_order() -> None:
    with ModelServer(SCRIPT) as server:
        status, kind, body = _post(
            f"{server.url}/v1/messages?beta=true",
            {"messages": [], "tools": [{"name": "Write"}], "stream": True, "system": "Primary working directory: /w"},
        )

    events = _sse(body)
    assert status == 200
    assert kind == "text/event-stream"
    assert [name for name, _ in events] == [
        "message_start", "ping",
        "content_block_start", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]  # fmt: skip
    assert events[3][1]["delta"] == {"type": "text_delta", "text": "looking"}
    assert events[5][1]["content_block"]["name"] == "Write"  # Claude Code's name for 'write'
    assert json.loads(events[6][1]["delta"]["partial_json"]) == {"file_path": "/w/a.txt", "content": "x"}
    assert events[8][1]["delta"]["stop_reason"] == "tool_use"
    assert events[8][1]["usage"]["output_tokens"] == 7


def test_a_request_without_enough_max_tokens_stops_at_the_limit() -> None:
    with ModelServer({"turns": [{"text": "long", "usage": {"output_tokens": 500}}]}) as server:
        reply = json.loads(_post(f"{server.url}/v1/messages", {"messages": [], "max_tokens": 100})[2])
    assert reply["stop_reason"] == "max_tokens"
    assert reply["usage"]["output_tokens"] == 100


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, "rate_limit_error"), (529, "overloaded_error"), (500, "api_error")],
    ids=["429", "529", "500"],
)
def test_messages_faults_are_api_errors(status: int, kind: str) -> None:
    with ModelServer({"turns": [{"text": "ok"}], "faults": [{"request": 1, "status": status}]}) as server:
        got, _, body = _post(f"{server.url}/v1/messages", {"messages": []})
        again, _, _ = _post(f"{server.url}/v1/messages", {"messages": []})
        calls = server.model_calls()
    assert (got, json.loads(body)["error"]["type"], again) == (status, kind, 200)
    assert [c.status for c in calls] == [status, 200]


def _bedrock(url: str) -> Any:
    config = Config(retries={"total_max_attempts": 1})
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="a",
        aws_secret_access_key="b",
        config=config,
    )


def test_converse_through_boto3() -> None:
    with ModelServer(SCRIPT) as server:
        client = _bedrock(server.url)
        tools = {"tools": [{"toolSpec": {"name": "write_file", "inputSchema": {"json": {"type": "object"}}}}]}
        reply = client.converse(
            modelId="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            messages=[{"role": "user", "content": [{"text": "go"}]}],
            toolConfig=tools,
        )
        recorded = server.model_calls()[0]

    assert reply["stopReason"] == "tool_use"
    assert reply["output"]["message"]["content"][1]["toolUse"]["input"] == {"path": "a.txt", "content": "x"}
    assert reply["usage"] == {"inputTokens": 11, "outputTokens": 7, "totalTokens": 18}
    assert recorded.api == "converse"
    assert recorded.path.startswith("/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/")


@pytest.mark.parametrize(
    ("status", "code"), [(429, "ThrottlingException"), (503, "ServiceUnavailableException")], ids=["429", "503"]
)
def test_converse_faults_are_the_errors_botocore_knows(status: int, code: str) -> None:
    script = {"turns": [{"text": "ok"}], "faults": [{"request": 1, "status": status}]}
    with ModelServer(script) as server, pytest.raises(ClientError) as caught:
        _bedrock(server.url).converse(modelId="m", messages=[{"role": "user", "content": [{"text": "go"}]}])
    assert caught.value.response["Error"]["Code"] == code


def test_the_server_runs_as_a_process_and_shows_its_record(tmp_path: Path) -> None:
    script = tmp_path / "script.yaml"
    script.write_text("turns:\n  - text: hello\n")
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, "-m", "baton.testing.modelserver", "--script", str(script), "--port-file", str(port_file)],
        stdout=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists() or not port_file.read_text():
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text()}"
        reply = json.loads(_post(f"{url}/v1/messages", {"messages": []})[2])
        with urllib.request.urlopen(f"{url}/_baton/requests", timeout=10) as response:
            record = json.loads(response.read())
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert reply["content"] == [{"type": "text", "text": "hello"}]
    assert [(r["api"], r["status"]) for r in record] == [("messages", 200)]


@pytest.mark.parametrize(
    "text",
    ["turns: 3", "[]", "turns:\n  - tools: [{input: {}}]"],
    ids=["turns-not-a-list", "not-a-mapping", "tool-without-name"],
)
def test_a_bad_script_is_a_clear_error(text: str) -> None:
    with pytest.raises(ScriptError):
        load_script(text)
