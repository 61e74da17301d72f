"""Credentials: making tenant keys and admin tokens, hashing them for storage, reading them from headers.

Keys are 256 bits from :mod:`secrets`, so a plain SHA-256 of the key is enough to store: a slow password
hash (bcrypt, scrypt) defends low-entropy secrets against guessing, and 2**256 keys cannot be guessed.
A fast hash also lets every request authenticate with one lookup by hash, without a per-request KDF.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

API_KEY_PREFIX: Final = "lp_"
ADMIN_TOKEN_PREFIX: Final = "lpadm_"
_SECRET_BYTES: Final = 32  # 256 bits; token_urlsafe(32) gives 43 base64url characters

# Lowercase letters, digits, "-" and "_", 2–63 characters: safe in URLs, SQL, DynamoDB keys and file names.
TENANT_ID_RE: Final = re.compile(r"[a-z0-9_-]{2,63}")


# What a tenant key may do (issue 15). A key created before scopes existed has none stored and is an
# ingest key, as it always was: reading with it would widen what an already-issued secret can do.
SCOPE_INGEST: Final = "ingest"
SCOPE_READ: Final = "read"
SCOPES: Final = (SCOPE_INGEST, SCOPE_READ)
LEGACY_SCOPES: Final = frozenset({SCOPE_INGEST})


@dataclass(frozen=True)
class KeyGrant:
    """Whose key it is and what it may do."""

    tenant_id: str
    scopes: frozenset[str]


def parse_scopes(text: str | Iterable[str] | None) -> frozenset[str]:
    """Scopes from ``"ingest,read"`` (or an iterable of names); ValueError naming an unknown one.

    None or empty is a key stored before scopes existed: ``LEGACY_SCOPES``.
    """
    names = text.split(",") if isinstance(text, str) else list(text or ())
    scopes = frozenset(n.strip().lower() for n in names if n.strip())
    unknown = sorted(scopes - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r}: use {', '.join(SCOPES)}")
    return scopes or LEGACY_SCOPES


def scopes_text(scopes: Iterable[str]) -> str:
    """The stored form: names in ``SCOPES`` order, comma-separated."""
    wanted = set(scopes)
    return ",".join(s for s in SCOPES if s in wanted)


def new_api_key() -> str:
    """A new tenant key: ``lp_`` + 43 base64url characters."""
    return API_KEY_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)


def new_admin_token() -> str:
    """A new admin token: ``lpadm_`` + 43 base64url characters."""
    return ADMIN_TOKEN_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)


def hash_secret(secret: str) -> str:
    """SHA-256 hex of the secret: what the key stores keep instead of the secret (see module docstring)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def secrets_equal(a: str, b: str) -> bool:
    """Constant-time comparison, so timing does not reveal how much of a secret matched."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def valid_tenant_id(t: str) -> bool:
    return isinstance(t, str) and TENANT_ID_RE.fullmatch(t) is not None


def _get(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    for key, candidate in headers.items():  # tolerate a caller that did not lower-case the names
        if key.lower() == name:
            return candidate
    return None


def credential_from_headers(headers: Mapping[str, str]) -> str | None:
    """The credential sent as ``Authorization: Bearer <x>`` (scheme any case) or ``X-Api-Key: <x>``.

    An Authorization header with another scheme (e.g. SigV4) is not a credential here; None when absent.
    """
    found = request_credential(headers, basic=False)
    return None if found is None else found.key


@dataclass(frozen=True)
class Credential:
    """A tenant key as a request sent it, with the tenant the client names beside it (Basic auth's user)."""

    key: str
    user: str | None = None


def _basic(token: str) -> Credential | None:
    """``user:password`` of a Basic credential (RFC 7617 §2); the password is the key, the user the tenant id.

    None when it does not decode or has no password: a malformed Basic header is no credential (401).
    """
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(":")
    if not colon or not password:
        return None
    return Credential(key=password, user=user)


def request_credential(
    headers: Mapping[str, str], *, schemes: tuple[str, ...] = ("bearer",), basic: bool = True
) -> Credential | None:
    """The credential of a request: ``Authorization: <scheme> <key>`` for one of ``schemes`` (lower case;
    Splunk HEC sends ``Splunk <token>``), ``Authorization: Basic`` with user = tenant id and password = key
    (what Loki clients and many shippers send) when ``basic``, else ``X-Api-Key``. None when absent."""
    authorization = _get(headers, "authorization")
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        scheme = scheme.lower()
        if token and scheme in schemes:
            return Credential(key=token)
        if token and basic and scheme == "basic":
            return _basic(token)
    api_key = _get(headers, "x-api-key")
    if api_key and api_key.strip():
        return Credential(key=api_key.strip())
    return None
