# Baton: `make demo` and `make test` do every set-up step on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION = 20
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: install demo test lint format schema docs bench clean e2e claude-code browser screenshots

install: $(STAMP)

# The Claude Code CLI the claude_code agent provider runs, pinned in tools/claude-code.
# Tests that need it are skipped, saying why, when npm cannot install it.
CLAUDE := tools/claude-code/node_modules/.bin/claude
claude-code: $(CLAUDE)
$(CLAUDE): tools/claude-code/package.json tools/claude-code/package-lock.json
	-cd tools/claude-code && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.bin/claude

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	@bash scripts/demo.sh

test: $(STAMP) claude-code browser
	$(BIN)/python -m pytest -n 2 -q

# The web view tests drive Debian's chromium with Playwright (never `playwright install`):
# installed here when missing and running as root, else those tests skip and say why.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing and this is not root: the browser tests will be skipped"; fi; \
	fi

# Re-take the screenshots of the web view and report committed under docs/images/.
screenshots: $(STAMP) browser
	BATON_UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest -q -p no:xdist tests/functional/test_ui_browser.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Regenerate the committed artefacts that tests check are current.
schema: $(STAMP)
	$(BIN)/baton schema > workflows/schema.json
docs: $(STAMP) schema
	$(BIN)/python -m baton.spec.reference > docs/yaml-reference.md
	$(BIN)/python -m baton.handlers.api > docs/api/openapi.json

# Deploy the real stack to LocalStack on this host (no Docker) and run workflows through it.
# scripts/e2e/setup.sh installs LocalStack, a Python 3.12 Lambda runtime and cdklocal once
# (outside the tree, in $$BATON_E2E_CACHE or ~/.cache/baton-e2e) and prints where they are.
e2e: $(STAMP)
	@env_lines="$$(bash scripts/e2e/setup.sh)" && eval "$$env_lines" && \
	BATON_E2E=1 $(BIN)/python -m pytest tests/e2e -q -p no:xdist -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python scripts/bench.py
	$(BIN)/python scripts/bench_aws.py
	$(BIN)/python scripts/bench_agent.py
	$(BIN)/python scripts/bench_stats.py

clean:
	rm -rf $(VENV) .baton cdk.out .pytest_cache .mypy_cache .ruff_cache
