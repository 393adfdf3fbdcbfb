#!/usr/bin/env bash
# `make demo`: run workflows/hello.yaml twice for real on the embedded backend (SQLite and
# files, no AWS). The first run executes every step, fans out over four languages and
# builds a report; the second restores the slow `build` step from the cache.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BATON="$ROOT/.venv/bin/baton"
PYTHON="$ROOT/.venv/bin/python"
# The workspace is kept: the runs print paths inside it (the report), which must still exist.
WORKSPACE="$(mktemp -d "${TMPDIR:-/tmp}/baton-demo.XXXXXX")"
export BATON_STATE_DIR="$WORKSPACE/.baton"
export PATH="$ROOT/.venv/bin:$PATH"
cd "$WORKSPACE"

banner() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
latest() { "$BATON" list --json --limit 1 | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["execution_id"])'; }
seconds() { "$PYTHON" -c 'import time; print(time.monotonic())'; }

banner "baton run workflows/hello.yaml   (first run: every step runs)"
start=$(seconds)
"$BATON" run "$ROOT/workflows/hello.yaml"
first_time=$("$PYTHON" -c "import time; print(f'{time.monotonic() - $start:.2f}')")
first=$(latest)

banner "baton run workflows/hello.yaml   (second run: 'build' comes from the cache)"
start=$(seconds)
"$BATON" run "$ROOT/workflows/hello.yaml"
second_time=$("$PYTHON" -c "import time; print(f'{time.monotonic() - $start:.2f}')")
second=$(latest)

banner "baton status $second"
"$BATON" status "$second"

banner "baton logs $first --step greet"
"$BATON" logs "$first" --step greet

banner "what the cache did"
"$PYTHON" - "$first" "$second" <<'PY'
import json, subprocess, sys

records = [json.loads(subprocess.check_output(["baton", "status", run, "--json"])) for run in sys.argv[1:]]
for label, record in zip(("first run ", "second run"), records):
    build = record["steps"]["build"]
    print(f"{label}: build {build['status']:<9} cache_hit={build['cache_hit']}")
assert records[1]["steps"]["build"]["cache_hit"], "the second run should restore build from the cache"
items = records[1]["steps"]["translate"]["items"]
print(f"fan-out: {len(items)} items; outputs: {records[1]['outputs']}")
PY
echo "wall time: first run ${first_time}s, second run ${second_time}s"
echo "report: $WORKSPACE/out/report.txt"
echo "the demo's workspace and state are kept in $WORKSPACE; remove it with: rm -rf $WORKSPACE"
