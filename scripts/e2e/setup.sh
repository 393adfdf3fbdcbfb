#!/usr/bin/env bash
# Installs what `make e2e` needs, idempotently, outside the repository tree:
#   $BATON_E2E_CACHE/localstack   Python 3.13 venv: pinned localstack-core + baton-ls-host plugin
#   $BATON_E2E_CACHE/lambda-py312 Python 3.12 venv with boto3 (and pytest): the Lambda runtime interpreter
#   ./node_modules                the CDK CLI and cdklocal, pinned by package-lock.json
# Prints the environment the e2e tests read (eval-able `export` lines) on stdout.
# Each part is skipped when its stamp matches what would be installed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${BATON_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/baton-e2e}"
PLUGIN="$ROOT/scripts/e2e/localstack_host"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# LocalStack's internals change between releases; the plugin is written against these.
LOCALSTACK_PINS=(
  "localstack-core[runtime]==2026.3.0"
  "cbor2<6" "pyopenssl<25" "cryptography<45" "service-identity<24.3"
)
# boto3 as the Lambda runtime ships it; pytest and pytest-cov stand in for a layer that gives the
# worker the tools of the agent workflow's shell steps (tests/e2e/test_e2e_agent.py).
LAMBDA_PINS=("boto3>=1.34" "pytest>=8,<10" "pytest-cov>=5,<8")

log() { printf 'e2e setup: %s\n' "$*" >&2; }

# A Python interpreter of version $1: $PYTHON<major><minor> if set, else on PATH, else pyenv's.
find_python() {
  local version="$1" var="PYTHON${1/./}" candidate
  if [[ -n "${!var:-}" ]]; then echo "${!var}"; return; fi
  # A pyenv shim is on PATH even when it cannot run that version: try each candidate.
  for candidate in "$(command -v "python$version" || true)" \
    "$(pyenv root 2>/dev/null || echo /nonexistent)"/versions/"$version".*/bin/"python$version"; do
    if [[ -x "$candidate" ]] && "$candidate" -c '' 2>/dev/null; then echo "$candidate"; return; fi
  done
  log "no Python $version found: install it (pyenv install $version) or set $var"
  exit 1
}

# stamp_ok DIR TEXT: true when DIR/.baton-stamp holds TEXT (DIR was built from it).
stamp_ok() { [[ -f "$1/.baton-stamp" && "$(cat "$1/.baton-stamp")" == "$2" ]]; }

ensure_venv() {  # ensure_venv DIR PYTHON STAMP PACKAGES...
  local dir="$1" python="$2" stamp="$3"
  shift 3
  if stamp_ok "$dir" "$stamp"; then return; fi
  log "creating $dir (one-off, a few minutes)"
  rm -rf "$dir"
  "$python" -m venv "$dir"
  "$dir/bin/pip" install -q --upgrade pip
  "$dir/bin/pip" install -q "$@"
  echo "$stamp" > "$dir/.baton-stamp"
}

plugin_digest() {
  # pip's build/ and egg-info copies are left out: installing rewrites them.
  (cd "$PLUGIN" && find . \( -name build -o -name '*.egg-info' \) -prune -o \( -name '*.py' -o -name '*.toml' \) -print \
    | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -c1-16
}

setup_localstack() {
  local venv="$CACHE/localstack" python digest
  python="$(find_python 3.13)"
  ensure_venv "$venv" "$python" "$("$python" -V) ${LOCALSTACK_PINS[*]}" "${LOCALSTACK_PINS[@]}"
  digest="$(plugin_digest)"
  if [[ "$(cat "$venv/.plugin-stamp" 2>/dev/null)" != "$digest" ]]; then
    log "installing the baton-ls-host plugin"
    "$venv/bin/pip" install -q --no-deps --force-reinstall "$PLUGIN"
    echo "$digest" > "$venv/.plugin-stamp"
  fi
}

setup_lambda_python() {
  local python
  python="$(find_python 3.12)"
  ensure_venv "$CACHE/lambda-py312" "$python" "$("$python" -V) ${LAMBDA_PINS[*]}" "${LAMBDA_PINS[@]}"
}

setup_node() {
  local stamp
  stamp="$(sha256sum "$ROOT/package-lock.json" | cut -c1-16)"
  if [[ "$(cat "$ROOT/node_modules/.baton-stamp" 2>/dev/null)" == "$stamp" ]]; then return; fi
  log "npm ci (aws-cdk and aws-cdk-local as pinned in package-lock.json)"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$stamp" > "$ROOT/node_modules/.baton-stamp"
}

mkdir -p "$CACHE"
setup_localstack
setup_lambda_python
setup_node
cat <<EOF
export BATON_E2E_LOCALSTACK_PYTHON="$CACHE/localstack/bin/python"
export BATON_E2E_LAMBDA_PYTHON="$CACHE/lambda-py312/bin/python"
export BATON_E2E_CDKLOCAL="$ROOT/node_modules/.bin/cdklocal"
EOF
