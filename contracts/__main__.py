"""`python -m contracts export DIR`: write the JSON Schemas."""

from __future__ import annotations

import sys
from pathlib import Path

from contracts.export import export_schemas


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "export":
        print("usage: python -m contracts export DIR", file=sys.stderr)
        return 2
    for path in export_schemas(Path(argv[1])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
