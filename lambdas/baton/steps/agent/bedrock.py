"""The ``bedrock`` provider: a tool-use loop over the Bedrock Runtime Converse API.

boto3 is imported when a run starts, not with the step module, so the worker's cold start
does not pay for it. boto3's own retries are off: throttling and server errors become
retryable step failures and the step's ``retry`` policy decides. The endpoint is boto3's
(``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` points it elsewhere, as tests do).
"""

from __future__ import annotations

from typing import Any

from baton.steps.agent.common import AgentLimitError, AgentRequest, ModelServiceError, Progress, full_prompt
from baton.steps.agent.tools import Toolbox

DEFAULT_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
DEFAULT_MAX_TOKENS = 8192
SYSTEM_PROMPT = (
    "You are a careful software agent working in a project directory. Use the tools to read "
    "and change files; paths are relative to the project directory. When the task is done, "
    "answer with a short summary and no tool call."
)
_RETRYABLE_CODES = {
    "ThrottlingException",
    "ServiceUnavailableException",
    "InternalServerException",
    "ModelNotReadyException",
    "ModelTimeoutException",
    "TooManyRequestsException",
}


def run(request: AgentRequest, progress: Progress) -> str:
    """Converse until the model answers without a tool call; returns its last text."""
    client = _client(request, progress)
    toolbox = Toolbox(request, progress)
    messages: list[dict[str, Any]] = [{"role": "user", "content": [{"text": full_prompt(request)}]}]
    max_tokens = request.limits.max_tokens or DEFAULT_MAX_TOKENS
    while True:
        progress.before_turn()
        response = _converse(client, request.model, messages, toolbox, max_tokens)
        usage = response.get("usage", {})
        message = response["output"]["message"]
        messages.append(message)
        text = "\n".join(block["text"] for block in message["content"] if "text" in block)
        uses = [block["toolUse"] for block in message["content"] if "toolUse" in block]
        progress.note("assistant", text=text, tools=[{"name": u["name"], "input": u["input"]} for u in uses])
        progress.add_turn(int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0)))
        stop = response.get("stopReason")
        if stop == "max_tokens":
            raise AgentLimitError(f"max_tokens: the model stopped at the limit of {max_tokens} output tokens")
        if stop != "tool_use" or not uses:
            return text
        results = []
        for use in uses:
            output, ok = toolbox.call(use["name"], dict(use.get("input") or {}))
            progress.note("tool", name=use["name"], ok=ok, result=output[:2000])
            results.append(
                {
                    "toolResult": {
                        "toolUseId": use["toolUseId"],
                        "content": [{"text": output}],
                        "status": "success" if ok else "error",
                    }
                }
            )
        messages.append({"role": "user", "content": results})


def _client(request: AgentRequest, progress: Progress) -> Any:
    import boto3
    from botocore.config import Config

    env = request.env
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    timeout = progress.remaining_seconds()
    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=10,
        read_timeout=min(timeout, 900) if timeout is not None else 900,
    )
    endpoint = env.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME") or env.get("AWS_ENDPOINT_URL") or None
    return boto3.client("bedrock-runtime", region_name=region, endpoint_url=endpoint, config=config)


def _converse(
    client: Any, model: str, messages: list[dict[str, Any]], toolbox: Toolbox, max_tokens: int
) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

    try:
        response: dict[str, Any] = client.converse(
            modelId=model,
            messages=messages,
            system=[{"text": SYSTEM_PROMPT}],
            toolConfig={"tools": toolbox.converse_specs()},
            inferenceConfig={"maxTokens": max_tokens},
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        retryable = code in _RETRYABLE_CODES or status == 429 or status >= 500
        raise ModelServiceError(f"bedrock {code or status}: {exc}", retryable=retryable) from exc
    except (ReadTimeoutError, ConnectTimeoutError) as exc:
        raise ModelServiceError(f"timed out waiting for the model: {exc}", kind="timeout") from exc
    except BotoCoreError as exc:
        raise ModelServiceError(f"bedrock: {exc}") from exc
    return response
