"""``http``: one HTTP request; the status decides success (``expect_status``, 2xx by default).

Only ``http`` and ``https`` URLs are accepted: urllib would also open ``file:`` and ``ftp:``
URLs, which would let a template value read the machine's files. Server errors (5xx), 429
and connection failures are retryable; other unexpected statuses are not.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from baton.errors import StepFailedError
from baton.steps.base import Invocation, StepResult, StepType

if TYPE_CHECKING:
    from email.message import Message

    from baton.engine.expressions import Expressions

DEFAULT_TIMEOUT_SECONDS = 60.0
MAX_BODY_BYTES = 16 * 1024 * 1024
_RETRYABLE_STATUSES = {408, 425, 429}


def prepare(fields: dict[str, Any], context: dict[str, Any], expressions: Expressions) -> dict[str, Any]:
    """Render the URL, headers and body (these are what the cache key covers)."""
    url = expressions.render(str(fields["url"]), context)
    if urlsplit(url).scheme not in ("http", "https"):
        raise StepFailedError(f"url: only http and https URLs are allowed, got {url[:80]!r}", retryable=False)
    body = fields.get("body")
    return {
        "method": fields.get("method", "GET"),
        "url": url,
        "headers": {str(k): str(v) for k, v in (expressions.render_data(fields.get("headers") or {}, context)).items()},
        "json": expressions.render_data(fields.get("json"), context),
        "body": expressions.render(body, context) if isinstance(body, str) else None,
        "expect_status": fields.get("expect_status", "2xx"),
    }


def run(prepared: dict[str, Any], invocation: Invocation) -> StepResult:
    """Send the request; outputs ``status``, ``headers``, ``body`` and ``json``."""
    request = _request(prepared)
    timeout = invocation.timeout_seconds or DEFAULT_TIMEOUT_SECONDS
    # The engine keeps a process-mode step's two streams as its logs.
    invocation.stdout_path.parent.mkdir(parents=True, exist_ok=True)
    invocation.stdout_path.write_text(invocation.masker.text(f"{request.method} {prepared['url']}\n"), encoding="utf-8")
    invocation.stderr_path.write_text("", encoding="utf-8")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, headers, data = response.status, response.headers, response.read(MAX_BODY_BYTES + 1)
    except urllib.error.HTTPError as error:
        status, headers, data = error.code, error.headers, error.read(MAX_BODY_BYTES + 1)
    except TimeoutError:
        return StepResult.failure(f"{request.method} {prepared['url']}: no answer within {timeout:g}s", kind="timeout")
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return StepResult.failure(f"{request.method} {prepared['url']}: {reason}")
    with invocation.stdout_path.open("a", encoding="utf-8") as log:
        log.write(f"status {status}\n")
    if len(data) > MAX_BODY_BYTES:
        return StepResult.failure(f"response body larger than {MAX_BODY_BYTES} bytes", retryable=False)
    outputs = _outputs(status, headers, data)
    if not status_expected(status, prepared["expect_status"]):
        retryable = status >= 500 or status in _RETRYABLE_STATUSES
        expected = prepared["expect_status"]
        return StepResult(outputs, f"expected status {expected}, got {status}", retryable=retryable)
    return StepResult(outputs)


def status_expected(status: int, expected: int | list[int] | str) -> bool:
    """Whether ``status`` is one ``expect_status`` accepts (a number, a list, or ``2xx``-style)."""
    if isinstance(expected, int):
        return status == expected
    if isinstance(expected, list):
        return status in expected
    return str(status)[0] == str(expected)[0]


def _request(prepared: dict[str, Any]) -> urllib.request.Request:
    headers = dict(prepared["headers"])
    data: bytes | None = None
    if prepared["json"] is not None:
        data = json.dumps(prepared["json"]).encode("utf-8")
        headers.setdefault("Content-Type", "application/json")
    elif prepared["body"] is not None:
        data = prepared["body"].encode("utf-8")
    headers.setdefault("User-Agent", "baton")
    return urllib.request.Request(prepared["url"], data=data, headers=headers, method=prepared["method"])


def _outputs(status: int, headers: Message, data: bytes) -> dict[str, Any]:
    text = data.decode(headers.get_content_charset() or "utf-8", errors="replace")
    parsed: Any = None
    if headers.get_content_type().endswith("json") and text.strip():
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
    return {"status": status, "headers": {k.lower(): v for k, v in headers.items()}, "body": text, "json": parsed}


STEP_TYPE = StepType(name="http", mode="process", prepare=prepare, run=run)
