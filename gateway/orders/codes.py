"""Short order codes a liaison can type in an SMS reply (e.g. "到 K7M3P").

The alphabet leaves out look-alikes (0/O, 1/I/L, 2/Z, 5/S, 8/B, 6/G): a code read
aloud over a radio or typed on a phone keypad must not be mistaken for another.
"""

from __future__ import annotations

import secrets

ALPHABET = "ACDEFHJKMNPRTUVWXY3479"
LENGTH = 5


def new_code(length: int = LENGTH) -> str:
    """A random code; uniqueness among open orders is enforced by the store (HSETNX)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))
