"""Runs one handler invocation in a process of its own, as a Lambda sandbox would: the
module-level ``handler`` built from the environment, the event read from stdin.

``python -m tests.aws.lambda_process worker < event.json``
"""

from __future__ import annotations

import importlib
import json
import sys

from tests.aws.harness import FakeLambdaContext


def main() -> None:
    name = sys.argv[1]
    module = importlib.import_module(f"baton.handlers.{name}")
    event = json.load(sys.stdin)
    response = module.handler(event, FakeLambdaContext(f"baton-{name}"))
    print(json.dumps({"response": response}), flush=True)


if __name__ == "__main__":
    main()
