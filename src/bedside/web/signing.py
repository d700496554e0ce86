"""Signed values for cookies and forms (itsdangerous): HMAC-SHA256 under the secret key, with one salt per purpose
so that a value signed for one use never passes for another.

Every signed cookie carries the time it was signed, and is refused once older than the age the browser was told to
keep it: a copied or replayed cookie expires on the server as well.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from itsdangerous import BadSignature, TimestampSigner

__all__ = ["Signer"]


class _Stamped(TimestampSigner):
    """itsdangerous's timestamped signer, reading the time from a clock that tests can set."""

    def __init__(self, key: bytes, purpose: str, clock: Callable[[], float]) -> None:
        super().__init__(key, salt=f"bedside {purpose}", digest_method=hashlib.sha256)
        self.clock = clock

    def get_timestamp(self) -> int:
        return int(self.clock())


class Signer:
    """Signs values under the secret key, one purpose at a time; the clock is an input so tests control time."""

    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._signers: dict[str, _Stamped] = {}
        self.clock = clock

    def _for(self, purpose: str) -> _Stamped:
        signer = self._signers.get(purpose)
        if signer is None:
            signer = self._signers[purpose] = _Stamped(self._key, purpose, lambda: self.clock())
        return signer

    def mac(self, purpose: str, value: str) -> str:
        """A keyed digest of `value` for `purpose` (no timestamp): form tokens, and keys that must not reveal the
        value."""
        return self._for(purpose).get_signature(value).decode("ascii")

    def matches(self, purpose: str, value: str, mac: str) -> bool:
        """Whether `mac` is `value`'s digest for `purpose` (compared in constant time)."""
        try:
            return self._for(purpose).verify_signature(value, mac)
        except UnicodeError:  # a lone surrogate in a form field
            return False

    def sign(self, purpose: str, value: str) -> str:
        """`value`, the time now and their signature, for a cookie."""
        return self._for(purpose).sign(value).decode("ascii")

    def unsign(self, purpose: str, signed: str, max_age: int) -> str | None:
        """The value when the signature matches and it was signed at most `max_age` seconds ago, else None."""
        try:
            return self._for(purpose).unsign(signed, max_age=max_age).decode("utf-8")
        except (BadSignature, UnicodeError):  # BadSignature covers an expired or future timestamp
            return None
