"""Where the real Asterisk captures live, and the README's frame counts."""

from __future__ import annotations

import os
from pathlib import Path

# Byte-exact copies of ../shared/ami-captures (real Asterisk 23.4.1), vendored so a clean
# clone, CI and the demo's simulated PBX need nothing outside the repo.
CAPTURES_DIR = Path(
    os.environ.get("LINKGATE_AMI_CAPTURES", str(Path(__file__).resolve().parent / "captures"))
)

# "frames in" column of the captures' README (banner included)
FRAME_COUNTS: dict[str, int] = {
    "01-login-ping-logoff": 9,
    "01b-login-wrong-secret": 2,
    "01c-login-plaintext": 6,
    "01d-login-events-off": 4,
    "02-inbound-110-call": 92,
    "03-threeway-connected": 162,
    "04-threeway-unit-busy": 102,
    "05-threeway-unit-noanswer": 104,
    "06-threeway-unit-offline": 100,
    "06b-threeway-unit-offline-sip-timeout": 102,
    "07-blindtransfer-to-12345": 91,
    "08-coreshowchannels-during-call": 112,
    "09-errors": 26,
    "09b-errors-limited-user": 11,
    "10-event-filter": 28,
    "11-burst": 1651,
    "12-originate-via-local": 118,
    "12b-originate-via-local-bad-extension": 16,
}


def capture_path(name: str) -> Path:
    """Path of a capture by its stem or its number prefix (`"03"`)."""
    for stem in FRAME_COUNTS:
        if stem == name or stem.split("-", 1)[0] == name:
            return CAPTURES_DIR / f"{stem}.txt"
    raise KeyError(f"no capture {name!r}")
