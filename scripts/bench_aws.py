"""The AWS cost model: API calls per step of real runs on moto, priced at us-east-1 rates.

Runs four workflows through the real handlers against a moto server (the same harness
the end-to-end tests use): a 50-step chain, fan-outs 50 and 200 wide, and a 10-step workflow
whose steps are cached (run twice; the second run is the one priced). Every AWS call the
functions make is counted by botocore hooks; the counts, the DynamoDB units and the Lambda
time measured here are priced per million steps beside AWS Step Functions Standard.

Also measures the import time of the worker handler module (the cold-start criterion).

    .venv/bin/python scripts/bench_aws.py            # prints the Markdown report
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambdas")]
# The handlers' JSON logs and EMF metrics would drown the report.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
warnings.filterwarnings("ignore", message="No application metrics to publish")

from tests.aws.harness import AwsHarness  # noqa: E402
from tests.aws.moto_stack import create_stack, moto_server  # noqa: E402

from baton.adapters.aws.metering import DYNAMODB_READS, Usage  # noqa: E402

# us-east-1 list prices (USD), as published on the AWS pricing pages; on-demand DynamoDB
# after the November 2024 reduction. Free tiers are ignored.
PRICES = {
    "dynamodb_write_unit": 0.625 / 1e6,
    "dynamodb_read_unit": 0.125 / 1e6,
    "sqs_request": 0.40 / 1e6,
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000133334,  # arm64 (Graviton), the stack's default architecture
    "s3_put": 0.005 / 1e3,
    "s3_get": 0.0004 / 1e3,
    "eventbridge_event": 1.00 / 1e6,
    "scheduler_invocation": 1.00 / 1e6,
    "step_functions_transition": 25.0 / 1e6,
}
LAMBDA_MEMORY_GB = 1.0
"""Memory assumed for every function (1024 MB): the worker runs step processes."""
S3_PUT_CLASS = frozenset({"PutObject", "CopyObject", "PutObjectTagging", "ListObjectsV2", "CreateMultipartUpload"})


@dataclass
class Scenario:
    """One priced run."""

    name: str
    steps: int
    usage: Usage
    invocations: int
    lambda_seconds: float
    sfn_transitions: int
    max_sends: int
    """Most SQS send requests made by one worker invocation."""

    def dollars(self) -> dict[str, float]:
        """Cost of the run by service."""
        usage = self.usage
        s3_puts = sum(n for (svc, op), n in usage.calls.items() if svc == "s3" and op in S3_PUT_CLASS)
        s3_gets = usage.count("s3") - s3_puts
        # The event source mapping receives and deletes each message: two more requests.
        sqs_requests = usage.sqs_sends + 2 * usage.sqs_messages
        return {
            "DynamoDB": usage.write_units * PRICES["dynamodb_write_unit"]
            + usage.read_units * PRICES["dynamodb_read_unit"],
            "SQS": sqs_requests * PRICES["sqs_request"],
            "Lambda": self.invocations * PRICES["lambda_request"]
            + self.lambda_seconds * LAMBDA_MEMORY_GB * PRICES["lambda_gb_second"],
            "S3": s3_puts * PRICES["s3_put"] + s3_gets * PRICES["s3_get"],
            "EventBridge": usage.events * PRICES["eventbridge_event"],
        }

    def per_million_steps(self) -> float:
        """Dollars per million steps of this shape."""
        return sum(self.dollars().values()) / self.steps * 1e6

    def sfn_per_million_steps(self) -> float:
        """Step Functions Standard's charge for the same orchestration (transitions only)."""
        return self.sfn_transitions * PRICES["step_functions_transition"] / self.steps * 1e6


def chain(steps: int) -> str:
    body = "\n".join(f"  - id: s{i}\n    command: echo {i}" for i in range(steps))
    return f"name: chain\nsteps:\n{body}\n"


def fan_out(width: int) -> str:
    return f"name: fan\nsteps:\n  - id: fan\n    for_each: {list(range(width))}\n    command: echo {{{{ item }}}}\n"


def cached(steps: int) -> str:
    body = "\n".join(f"  - id: s{i}\n    cache_key: v1\n    command: echo {i}" for i in range(steps))
    return f"name: cached\nsteps:\n{body}\n"


def run(harness: AwsHarness, name: str, text: str, steps: int, transitions: int) -> Scenario:
    """Start and drain one execution; price what the functions did."""
    harness.upload(f"{name}.yaml", text)
    before, first = harness.meter.snapshot(), len(harness.invocations)
    started = time.perf_counter()
    execution_id = harness.start(name)
    start_seconds = time.perf_counter() - started
    final = harness.drain(execution_id, timeout=300)
    assert final.status == "succeeded", final.error
    invocations = harness.invocations[first:]
    return Scenario(
        name,
        steps,
        harness.meter.snapshot().minus(before),
        invocations=len(invocations) + 1,
        lambda_seconds=start_seconds + sum(i.seconds for i in invocations),
        sfn_transitions=transitions,
        max_sends=max(i.usage.sqs_sends for i in invocations),
    )


def scenarios(harness: AwsHarness) -> list[Scenario]:
    """The three shapes of the issue (the cached one priced on its second run)."""
    found = [
        run(harness, "chain", chain(50), 50, transitions=52),
        run(harness, "fan", fan_out(50), 50, transitions=53),
        run(harness, "fan", fan_out(200), 200, transitions=203),
    ]
    run(harness, "cached", cached(10), 10, transitions=12)
    found.append(run(harness, "cached", cached(10), 10, transitions=12))
    found[-1].name = "10 cached steps (2nd run)"
    found[0].name, found[1].name, found[2].name = "50-step chain", "50-way fan-out", "200-way fan-out"
    return found


def import_times(runs: int = 7) -> list[float]:
    """Milliseconds to import the worker handler module in a fresh interpreter."""
    code = "import time; t = time.perf_counter(); import baton.handlers.worker; print((time.perf_counter() - t) * 1000)"
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
        times.append(float(out.stdout.strip()))
    return times


def first_use_ms() -> float:
    """What the first invocation adds: boto3 and the X-Ray recorder behind the Tracer."""
    code = (
        "import time, baton.handlers.worker; from baton.handlers.observability import tracer; "
        "t = time.perf_counter(); import boto3; "
        "boto3.session.Session().client('dynamodb', region_name='us-east-1'); tracer(); "
        "print((time.perf_counter() - t) * 1000)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip())


def report(found: list[Scenario], imports: list[float], first_use: float) -> str:
    lines = ["## Cost per step (moto, counted by botocore hooks)", ""]
    lines += ["| scenario | DynamoDB writes/step | WRU/step | reads/step | RRU/step | SQS sends per worker invocation "
              "(max) | S3 req/step | events/step | invocations | $/M steps | Step Functions $/M steps |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for s in found:
        u = s.usage
        lines.append(
            f"| {s.name} | {u.dynamodb_writes / s.steps:.2f} | {u.write_units / s.steps:.2f} | "
            f"{u.count('dynamodb', DYNAMODB_READS) / s.steps:.2f} | {u.read_units / s.steps:.2f} | {s.max_sends} | "
            f"{u.count('s3') / s.steps:.2f} | {u.events / s.steps:.2f} | {s.invocations} | "
            f"{s.per_million_steps():.2f} | {s.sfn_per_million_steps():.2f} |"
        )
    lines += ["", "## Dollars per million steps by service", "", "| scenario | " + " | ".join(PRICE_COLUMNS) + " |",
              "|---|" + "---|" * len(PRICE_COLUMNS)]  # fmt: skip
    for s in found:
        dollars = s.dollars()
        lines.append(f"| {s.name} | " + " | ".join(f"{dollars[c] / s.steps * 1e6:.2f}" for c in PRICE_COLUMNS) + " |")
    lines += ["", "## Calls by operation", ""]
    for s in found:
        lines.append(f"- {s.name}: " + ", ".join(f"{op} {n}" for op, n in s.usage.by_operation().items()))
    lines += ["", "## Worker cold start", "",
              f"- import of `baton.handlers.worker`: min {min(imports):.0f} ms, "
              f"median {statistics.median(imports):.0f} ms ({len(imports)} fresh interpreters)",
              f"- first invocation adds (boto3 + one client + X-Ray recorder): {first_use:.0f} ms"]  # fmt: skip
    return "\n".join(lines)


PRICE_COLUMNS = ["DynamoDB", "SQS", "Lambda", "S3", "EventBridge"]


def main() -> None:
    with moto_server() as server, tempfile.TemporaryDirectory() as folder:
        settings = create_stack(server.clients())
        found = scenarios(AwsHarness(server, settings, Path(folder)))
    print(report(found, import_times(), first_use_ms()))


if __name__ == "__main__":
    main()
