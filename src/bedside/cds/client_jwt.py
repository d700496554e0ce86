"""Trusting CDS Clients: the signed JWT every CDS Hooks request carries (CDS Hooks 2.0, "Trusting CDS Clients").

The EHR signs a JWT with its private key; bedside verifies it with the EHR's public keys, a JWK Set configured
out of band (BEDSIDE_CDS_JWKS names the file). The header must name the key (`kid`) and an asymmetric algorithm
(never `none`, never HMAC); the payload must carry `iss` (from the configured allowlist when one is set), `aud`
(the exact URL of the endpoint called), `exp`, `iat` and a `jti` not seen before (replays are refused until the
token expires). A `jku` header is not followed: only configured keys are trusted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bedside.errors import BackendUnavailable, BedsideError, InvalidInput

__all__ = ["ASYMMETRIC", "ClientVerifier", "NotTrusted", "load_jwks"]

ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY = 30  # seconds of clock skew tolerated on exp and iat
CDS_HINT = "install with: pip install 'bedside[cds]'"


class NotTrusted(BedsideError):
    """The request's JWT is missing, malformed, unsigned, from an unknown key or issuer, expired or replayed."""


def load_jwks(path: Path) -> dict[str, Any]:
    """The JWK Set in a file; InvalidInput naming the file when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"BEDSIDE_CDS_JWKS: cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise InvalidInput(f"BEDSIDE_CDS_JWKS: {path} is not JSON: {exc}") from None
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) and k.get("kid") for k in keys):
        raise InvalidInput(f"BEDSIDE_CDS_JWKS: {path} must be a JWK Set whose every key has a kid")
    return {"keys": keys}


class ClientVerifier:
    """Verifies CDS Clients' JWTs against configured public keys; remembers `jti`s until their tokens expire."""

    def __init__(
        self, jwks: dict[str, Any], issuers: Sequence[str] = (), *, clock: Callable[[], float] = time.time
    ) -> None:
        try:
            import jwt
        except ImportError:
            raise BackendUnavailable(f"CDS Hooks authentication needs PyJWT; {CDS_HINT}") from None
        self._jwt = jwt
        self._keys: dict[str, Any] = {}
        for jwk in jwks["keys"]:
            try:
                self._keys[str(jwk["kid"])] = jwt.PyJWK(jwk)
            except (jwt.PyJWKError, jwt.InvalidKeyError) as exc:
                raise InvalidInput(f"BEDSIDE_CDS_JWKS: key {jwk.get('kid')!r} is not usable: {exc}") from None
        self._issuers = frozenset(issuers)
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def verify(self, authorization: str | None, audience: str) -> dict[str, Any]:
        """The token's claims, or NotTrusted saying why not. `audience` is the URL of the endpoint called."""
        jwt = self._jwt
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotTrusted("a CDS Hooks request needs an Authorization: Bearer JWT signed by the CDS Client")
        try:
            header = jwt.get_unverified_header(token.strip())
        except jwt.DecodeError as exc:
            raise NotTrusted(f"malformed JWT: {exc}") from None
        alg, kid = str(header.get("alg", "")), header.get("kid")
        if alg not in ASYMMETRIC:
            raise NotTrusted(f"JWT algorithm {alg or 'none'!r} not accepted (asymmetric signatures only)")
        key = self._keys.get(str(kid)) if kid else None
        if key is None:
            raise NotTrusted(f"JWT key {kid!r} is not among the configured CDS Client keys")
        try:
            claims: dict[str, Any] = jwt.decode(
                token.strip(),
                key=key,
                algorithms=[alg],
                audience=audience,
                leeway=LEEWAY,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise NotTrusted(f"JWT not accepted: {exc}") from None
        if self._issuers and claims["iss"] not in self._issuers:
            raise NotTrusted(f"JWT issuer {claims['iss']!r} is not a trusted CDS Client")
        if float(claims["iat"]) > self._clock() + LEEWAY:
            raise NotTrusted("JWT issued in the future")
        self._once(str(claims["jti"]), float(claims["exp"]))
        return claims

    def _once(self, jti: str, exp: float) -> None:
        now = self._clock()
        with self._lock:
            for old in [j for j, until in self._seen.items() if until + LEEWAY < now]:
                del self._seen[old]
            if jti in self._seen:
                raise NotTrusted("JWT replayed (its jti was already used)")
            self._seen[jti] = exp
