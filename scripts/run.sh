#!/usr/bin/env bash
# The README's run command: set up from nothing, then the whole stack with a demo driving real traffic.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/linkgate demo "$@"
