#!/usr/bin/env bash
# Create .venv at the repo root, install the project into it, make sure services run.
set -euo pipefail
cd "$(dirname "$0")/.."

pick_python() {
  for py in python3.13 python3.12 python3.11 python3; do
    if command -v "$py" >/dev/null && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      echo "$py"; return 0
    fi
  done
  return 1
}

if [ ! -x .venv/bin/python ]; then
  PY=$(pick_python) || {
    apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
    PY=$(pick_python)
  }
  echo "[bootstrap] creating .venv with $PY" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  echo "[bootstrap] installing linkage-gateway into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/python -m pip install -q -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -c 'import gateway, bus, contracts, adapters' >/dev/null
  rm -f .venv/.installed-* && touch "$stamp"
fi
bash scripts/ensure-services.sh
