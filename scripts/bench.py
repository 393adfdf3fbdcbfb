"""`make bench`: time `baton run` on generated workflows and report per-step cost.

Workloads (each run as a real `baton run` process on the embedded backend, every state
change committed to SQLite in WAL mode):

- chain of N `command: "true"` steps (N = 50, 200);
- chain of N `command: "true; true"` steps: a script, so bash starts every time;
- chain of N in-process no-op steps (`assert` of `true`): engine cost alone;
- fan-out of N `sleep 0.05` items (`for_each`).

For each: the median wall time of the process over several runs, the marginal cost per
step (wall time minus that of a one-step workflow, over N - 1), the engine overhead per
step (that, minus the median cost of starting the same command directly), and the peak
resident memory of the `baton` process. The one-step time is `baton run` start-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATON = str(Path(sys.executable).with_name("baton"))


def chain(name: str, count: int, body: str) -> str:
    steps = "".join(f"  - id: s{i}\n{body}" for i in range(count))
    return f"name: {name}\nsteps:\n{steps}"


def fan_out(count: int) -> str:
    return f"name: fan-{count}\nsteps:\n  - id: fan\n    for_each: range({count}) | list\n    command: sleep 0.05\n"


WORKLOADS = {
    "true": lambda n: chain(f"true-{n}", n, '    command: "true"\n'),
    "bash": lambda n: chain(f"bash-{n}", n, '    command: "true; true"\n'),
    "assert": lambda n: chain(f"assert-{n}", n, "    type: assert\n    condition: true\n"),
    "fan-out": fan_out,
}
BARE_COMMANDS = {"true": ["true"], "bash": ["bash", "-eo", "pipefail", "-c", "true; true"]}


def run_once(workflow: Path, state_dir: Path, workspace: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one `baton run`."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [BATON, "run", str(workflow), "--state-dir", str(state_dir)],
        cwd=workspace,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(
            f"baton run {workflow.name} failed: {process.stderr.read().decode() if process.stderr else ''}"
        )
    return elapsed, usage.ru_maxrss


def measure(text: str, name: str, repeats: int, scratch: Path) -> tuple[float, int]:
    """Median wall time and peak memory over ``repeats`` runs (after one warm-up run that
    also stores the compiled definition)."""
    workflow = scratch / f"{name}.yaml"
    workflow.write_text(text)
    state_dir = scratch / "state"
    run_once(workflow, state_dir, scratch)
    results = [run_once(workflow, state_dir, scratch) for _ in range(repeats)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


def bare_cost(argv: list[str], repeats: int = 200) -> float:
    """Median seconds to start and wait for ``argv`` directly."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(argv, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    options = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="baton-bench-"))
    try:
        print(f"machine: {machine()}; load average before: {os.getloadavg()[0]:.2f}")
        one_step, one_rss = measure(WORKLOADS["true"](1), "one-step", options.repeats, scratch)
        print(
            f"`baton run` of a one-step workflow: {one_step * 1000:.0f} ms median, peak RSS {one_rss / 1024:.0f} MiB\n"
        )
        bare = {name: bare_cost(argv) for name, argv in BARE_COMMANDS.items()}
        print("| workload | N | median wall | per step | engine overhead per step | peak RSS |")
        print("|---|---:|---:|---:|---:|---:|")
        for workload in options.workloads:
            for size in options.sizes:
                wall, rss = measure(WORKLOADS[workload](size), f"{workload}-{size}", options.repeats, scratch)
                per_step = (wall - one_step) / (size - 1)
                overhead = per_step - bare.get(workload, 0.0)
                shown = "-" if workload == "fan-out" else f"{overhead * 1000:.2f} ms"
                cells = [
                    workload,
                    str(size),
                    f"{wall:.3f} s",
                    f"{per_step * 1000:.2f} ms",
                    shown,
                    f"{rss / 1024:.0f} MiB",
                ]
                print(f"| {' | '.join(cells)} |")
        print(
            "\nbare process start (median): " + ", ".join(f"{name} {cost * 1000:.2f} ms" for name, cost in bare.items())
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
