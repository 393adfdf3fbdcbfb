"""`make bench`: time `baton run` on generated workflows and report per-step cost.

Workloads (each run as a real `baton run` process on the embedded backend, every state
change committed to SQLite in WAL mode; a chain step's end is committed while the next
step's process runs, see docs/engine.md):

- chain of N `command: "true"` steps (N = 50, 200);
- chain of N `command: "true; true"` steps: a script, so bash starts every time;
- chain of N in-process no-op steps (`assert` of `true`): the engine's cost alone;
- fan-out of N `sleep 0.05` items (`for_each`, at most 32 at once).

Then, in the same run and interleaved round by round: a cold `baton run` (a new file each
time, with a fresh state folder: the validator runs) beside pypyr running a one-step
pipeline, and the per-step slope of a `true` chain beside pypyr's `pypyr.steps.cmd` chain
(pypyr persists nothing), with the median ratio of the rounds; then the
scale of an `assert` chain from 100 to 10,000 steps and of a `for_each` of 10,000 and
100,000 `assert` items (wall time, time per unit and peak memory).

For each: the median wall time of the `baton run` process over several runs; the time per
step inside the run (from the execution record's start to its end, over N: start-up is
excluded); the marginal cost per step, as the slope of the median wall time between the
smallest and the largest N; the engine overhead per step (the in-run time per step minus
the median cost of starting the same command directly); the CPU time per step (user +
system of `baton` and the processes it starts, as a slope; other work on a shared machine
disturbs it less than wall time); and the peak resident memory. The one-step run shows
the start-up of `baton run` itself.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

BATON = str(Path(sys.executable).with_name("baton"))


def chain(name: str, count: int, body: str) -> str:
    steps = "".join(f"  - id: s{i}\n{body}" for i in range(count))
    return f"name: {name}\nsteps:\n{steps}"


def fan_out(count: int) -> str:
    return f"name: fan-{count}\nsteps:\n  - id: fan\n    for_each: range({count}) | list\n    command: sleep 0.05\n"


def wide_fan_out(count: int) -> str:
    """One ``for_each`` of ``count`` in-process no-op items (``assert`` of ``true``)."""
    return (
        f"name: wide-{count}\nsteps:\n  - id: fan\n    for_each: range({count}) | list\n"
        "    type: assert\n    condition: true\n"
    )


WORKLOADS = {
    "true": lambda n: chain(f"true-{n}", n, '    command: "true"\n'),
    "bash": lambda n: chain(f"bash-{n}", n, '    command: "true; true"\n'),
    "assert": lambda n: chain(f"assert-{n}", n, "    type: assert\n    condition: true\n"),
    "fan-out": fan_out,
}
BARE_COMMANDS = {"true": ["true"], "bash": ["bash", "-eo", "pipefail", "-c", "true; true"]}
PYPYR = str(Path(sys.executable).with_name("pypyr"))
SCALE_SIZES = (100, 1000, 10000)
FAN_OUT_SIZES = (10000, 100000)


def pypyr_pipeline(count: int) -> str:
    """pypyr's counterpart of a chain of ``true`` steps."""
    return "steps:\n" + "".join("  - name: pypyr.steps.cmd\n    in:\n      cmd: 'true'\n" for _ in range(count))


def timed(argv: list[str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        error = process.stderr.read().decode() if process.stderr else ""
        raise SystemExit(f"{' '.join(argv)} failed: {error}")
    return elapsed, usage.ru_maxrss


def cold_baton_once(folder: Path) -> float:
    """Wall seconds of `baton run` on a file never seen before, in a fresh state folder."""
    folder.mkdir()
    (folder / "w.yaml").write_text(f'name: {folder.name}\nsteps:\n  - id: a\n    command: "true"\n')
    return timed([BATON, "run", "w.yaml", "--state-dir", str(folder / "state")], folder)[0]


def pypyr_folder(count: int, scratch: Path) -> Path:
    """A folder with pypyr's pipeline of ``count`` ``true`` commands (``chain{count}``)."""
    folder = scratch / f"pypyr-{count}"
    folder.mkdir(exist_ok=True)
    (folder / f"chain{count}.yaml").write_text(pypyr_pipeline(count))
    return folder


def peers(repeats: int, scratch: Path) -> None:
    """Baton beside pypyr, measured in this run, interleaved: each round times every
    figure of both once, so a busy minute of a shared machine slows both sides of a ratio.
    The table shows the medians over the rounds, and the median of the rounds' ratios."""
    if not Path(PYPYR).exists():
        print("pypyr is not installed here (`make install` adds it): peer comparison skipped\n")
        return
    workflows = {n: scratch / f"peer-true-{n}.yaml" for n in (50, 200)}
    state = scratch / "peer-state"
    folders = {n: pypyr_folder(n, scratch) for n in (1, 50, 200)}
    for n, workflow in workflows.items():  # warm up; the compiled definitions are stored
        workflow.write_text(WORKLOADS["true"](n))
        run_once(workflow, state, scratch)
    for n, folder in folders.items():
        timed([PYPYR, f"chain{n}"], folder)
    rounds: list[dict[str, float]] = []
    for index in range(repeats):
        walls = {f"baton {n}": run_once(workflow, state, scratch)[0] for n, workflow in workflows.items()}
        walls |= {f"pypyr {n}": timed([PYPYR, f"chain{n}"], folder)[0] for n, folder in folders.items()}
        walls["cold"] = cold_baton_once(scratch / f"peer-cold-{index}")
        rounds.append({
            "step": (walls["baton 200"] - walls["baton 50"]) / 150,
            "pypyr step": (walls["pypyr 200"] - walls["pypyr 50"]) / 150,
            "cold": walls["cold"],
            "pypyr cold": walls["pypyr 1"],
        })  # fmt: skip

    def median(name: str) -> float:
        return statistics.median(r[name] for r in rounds)

    def ratio(name: str) -> float:
        return statistics.median(r[name] / r[f"pypyr {name}"] for r in rounds)

    print(f"| beside pypyr (same run, {repeats} rounds interleaved) | Baton | pypyr | Baton / pypyr |")
    print("|---|---:|---:|---:|")
    print(f"| a new one-step file, first run | {median('cold') * 1000:.0f} ms | {median('pypyr cold') * 1000:.0f} ms "
          f"| {ratio('cold'):.2f} |")  # fmt: skip
    print(f"| per `true` step (slope, 50 to 200) | {median('step') * 1000:.2f} ms | "
          f"{median('pypyr step') * 1000:.2f} ms | {ratio('step'):.2f} |\n")  # fmt: skip


def scale(scratch: Path) -> None:
    """An ``assert`` chain from 100 to 10,000 steps and a ``for_each`` of 10,000 and 100,000
    ``assert`` items: the engine's cost per unit and memory (one run each)."""
    rows = [("chain", size, WORKLOADS["assert"](size)) for size in SCALE_SIZES]
    rows += [("fan-out", size, wide_fan_out(size)) for size in FAN_OUT_SIZES]
    print("| `assert` units | N | wall | in-run per unit | peak RSS |\n|---|---:|---:|---:|---:|")
    for shape, size, text in rows:
        workflow = scratch / f"scale-{shape}-{size}.yaml"
        workflow.write_text(text)
        wall, _, rss, span = run_once(workflow, scratch / f"scale-state-{shape}-{size}", scratch)
        print(f"| {shape} | {size:,} | {wall:.2f} s | {span / size * 1000:.3f} ms | {rss / 1024:.0f} MiB |")
    print()


@dataclass(frozen=True)
class Stats:
    """Wall and CPU seconds and peak RSS (KiB) of a workload over several runs."""

    wall: float
    best: float
    cpu: float
    rss: int
    span: float
    """Median seconds between the execution's start and end, from its record."""

    def slope(self, small: Stats, steps: int) -> tuple[float, float, float]:
        """Wall (median, best) and CPU seconds per step from ``small`` to this workload,
        ``steps`` steps apart."""
        return (
            (self.wall - small.wall) / steps,
            (self.best - small.best) / steps,
            (self.cpu - small.cpu) / steps,
        )


def run_once(workflow: Path, state_dir: Path, workspace: Path) -> tuple[float, float, int, float]:
    """Wall seconds, CPU seconds, peak RSS (KiB) of one `baton run`, and the seconds from the
    execution's start to its end as its record says (start-up excluded).

    The run prints its execution record (``--json``) as usual, but the record is read back
    from the state file: a wide fan-out prints tens of megabytes, and parsing them here would
    grow this process, whose size Linux counts in the peak of every process it starts next.
    """
    started = time.perf_counter()
    process = subprocess.Popen(
        [BATON, "run", str(workflow), "--state-dir", str(state_dir), "--json"],
        cwd=workspace,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        error = process.stderr.read().decode() if process.stderr else ""
        raise SystemExit(f"baton run {workflow.name} failed: {error}")
    if process.stderr:
        process.stderr.close()
    with contextlib.closing(sqlite3.connect(state_dir / "state.db")) as db:
        (data,) = db.execute("SELECT data FROM executions ORDER BY started_at DESC LIMIT 1").fetchone()
    record = json.loads(data)
    span = (_moment(record["finished_at"]) - _moment(record["started_at"])).total_seconds()
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, span


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def measure(text: str, name: str, repeats: int, scratch: Path) -> Stats:
    """Statistics over ``repeats`` runs, after one warm-up run that also stores the compiled
    definition. On a shared machine the best run is the one least disturbed."""
    workflow = scratch / f"{name}.yaml"
    workflow.write_text(text)
    state_dir = scratch / "state"
    run_once(workflow, state_dir, scratch)
    runs = [run_once(workflow, state_dir, scratch) for _ in range(repeats)]
    walls = [r[0] for r in runs]
    return Stats(
        statistics.median(walls),
        min(walls),
        statistics.median(r[1] for r in runs),
        max(r[2] for r in runs),
        statistics.median(r[3] for r in runs),
    )


def bare_cost(argv: list[str], repeats: int = 200) -> float:
    """Median seconds to start and wait for ``argv`` directly."""
    times = []
    for _ in range(repeats):  # the median of many: starting a process is short and noisy
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


def compile_baton() -> None:
    """Write Baton's bytecode first, as ``pip install`` does for pypyr and every other
    installed package: an editable install run with ``PYTHONDONTWRITEBYTECODE`` set would
    otherwise compile every Baton module again in each process (about 0.1 s a run)."""
    import baton

    compileall.compile_dir(Path(baton.__file__).parent, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    options = parser.parse_args()

    compile_baton()
    scratch = Path(tempfile.mkdtemp(prefix="baton-bench-"))
    try:
        print(f"machine: {machine()}; load average before: {os.getloadavg()[0]:.2f}")
        one = measure(WORKLOADS["true"](1), "one-step", options.repeats, scratch)
        print(
            f"`baton run` of a one-step workflow: {one.wall * 1000:.0f} ms median, {one.best * 1000:.0f} ms best, "
            f"{one.cpu * 1000:.0f} ms CPU, peak RSS {one.rss / 1024:.0f} MiB\n"
        )
        peers(options.repeats, scratch)
        scale(scratch)
        bare = {name: bare_cost(argv) for name, argv in BARE_COMMANDS.items()}
        columns = ["workload", "N", "median wall", "in-run per step", "per step", "engine overhead", "CPU per step"]
        print(f"| {' | '.join([*columns, 'peak RSS'])} |")
        print("|---|" + "---:|" * len(columns))
        sizes = sorted(options.sizes)
        for workload in options.workloads:
            results = {n: measure(WORKLOADS[workload](n), f"{workload}-{n}", options.repeats, scratch) for n in sizes}
            for size, stats in results.items():
                in_run = stats.span / size
                overhead = "-" if workload == "fan-out" else f"{(in_run - bare.get(workload, 0.0)) * 1000:.2f} ms"
                cells = [workload, str(size), f"{stats.wall:.3f} s", f"{in_run * 1000:.2f} ms", "", overhead, ""]
                if size == sizes[-1] and len(sizes) > 1:
                    per_step, _, cpu = stats.slope(results[sizes[0]], size - sizes[0])
                    cells[4], cells[6] = f"{per_step * 1000:.2f} ms", f"{cpu * 1000:.2f} ms"
                print(f"| {' | '.join([*cells, f'{stats.rss / 1024:.0f} MiB'])} |")
        print("\nbare process start (median): " + ", ".join(f"{k} {v * 1000:.2f} ms" for k, v in bare.items()))
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
