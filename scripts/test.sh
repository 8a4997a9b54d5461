#!/usr/bin/env bash
# The README's test command: set up from nothing, lint, type-check, run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/ensure-test-tools.sh
echo "[test] ruff" >&2
.venv/bin/ruff check .
echo "[test] mypy" >&2
.venv/bin/mypy
echo "[test] pytest" >&2
# pytest exits 5 when it collected no tests: that is a failure here, and set -e keeps it one.
exec .venv/bin/python -m pytest "$@"
