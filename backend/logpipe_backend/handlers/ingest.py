"""``POST /ingest``: authenticate, validate, normalize, queue; 202 only once the queue has the records.

Checks run in this order, each before anything is written, so an error changes nothing stored or queued:
method (405) → credential (401) → the key's ``ingest`` scope (403 ``insufficient_scope``) → ``X-Tenant-Id``
(403) → tenant's rate bucket in debt (429) → content type / encoding (415) → body size and decoding
(413/400) → parse (400/413) → normalize each record, which also refuses a record naming another tenant
(403) or too big once normalized (413) → ``Idempotency-Key`` shape (400) → rate limit, one token per record
(429) → queue depth (429) → idempotency claim (422 for a reused key) → queue (503 when unavailable) → 202.

With an ``Idempotency-Key`` the log ids are derived from (tenant, key) and the first acceptance time, and
``received_at`` is that time too, so a retried request yields byte-identical records: the store's upsert
keeps one copy, and the client gets the same ``log_ids`` back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from logpipe_backend.core.auth import SCOPE_INGEST, Credential, request_credential
from logpipe_backend.core.body import decode_body, media_type, parse_records
from logpipe_backend.core.envelope import Serialized, pack
from logpipe_backend.core.errors import ApiError, bad_request, forbidden, too_many_requests, unauthorized
from logpipe_backend.core.http import body_bytes, header, json_text_response
from logpipe_backend.core.ids import new_log_ids
from logpipe_backend.core.ingest import accepted_json, prepare
from logpipe_backend.core.limits import Limits
from logpipe_backend.core.ratelimit import rate_limited
from logpipe_backend.handlers._common import Event, Response, guarded, method, request_id
from logpipe_backend.ports import IngestDeps, QueueUnavailable

QUEUE_FULL_RETRY_AFTER_S = 5
QUEUE_DOWN_RETRY_AFTER_S = 2


def handle(event: Event, deps: IngestDeps) -> Response:
    return guarded("ingest", lambda: _ingest(event, deps))


def _ingest(event: Event, deps: IngestDeps) -> Response:
    if method(event) != "POST":
        raise ApiError(405, "method_not_allowed", "use POST /ingest", allow="POST")

    credential = request_credential(event.get("headers") or {})
    tenant_id = authenticate(deps, credential, {"X-Tenant-Id": header(event, "x-tenant-id")})
    limits = deps.limits
    kind = media_type(header(event, "content-type"))
    data = decode_body(body_bytes(event), header(event, "content-encoding"), limits)
    raws = parse_records(data, kind, limits)
    # Parsed raws hold no NaN or infinity (parse_records refuses them).
    log_ids = accept(event, deps, tenant_id, raws, digest_of=(kind, data), finite_floats=True)
    return json_text_response(202, accepted_json(log_ids, request_id(event)))


def authenticate(deps: IngestDeps, credential: Credential | None, claims: dict[str, str | None]) -> str:
    """The tenant of the request's key: 401 without a known key; 403 ``insufficient_scope`` for a key that
    may only read; 403 ``tenant_mismatch`` when a tenant the request names (the Basic user, or ``claims``:
    where it is named → the value, None when absent) is another; 429 when the tenant's rate bucket is in
    debt. Every door calls this first, so they share one authentication."""
    grant = deps.keys.grant_for_key(credential.key) if credential else None
    if credential is None or grant is None:
        raise unauthorized()
    if SCOPE_INGEST not in grant.scopes:
        # RFC 6750 §3.1's name for a valid token without the scope the request needs.
        raise forbidden("insufficient_scope", "this key can only read; send logs with an ingest key")
    tenant_id = grant.tenant_id
    for where, claimed in {"the Basic user": credential.user, **claims}.items():
        if claimed is not None and claimed.strip() != tenant_id:
            raise forbidden("tenant_mismatch", f"{where} does not match the key's tenant")
    limiter = deps.rate_limiter
    if limiter is not None:
        # A tenant over its rate is refused before its body is decoded or parsed: a flood costs one lookup.
        wait_s = limiter.check(tenant_id)
        if wait_s is not None:
            raise rate_limited(wait_s)
    return tenant_id


def accept(
    event: Event,
    deps: IngestDeps,
    tenant_id: str,
    raws: list[dict[str, Any] | str],
    *,
    digest_of: tuple[str, bytes],
    finite_floats: bool = False,
) -> list[str]:
    """Normalize ``raws`` (the records a door parsed), apply the limits, the rate limit, the queue depth and
    the ``Idempotency-Key``, and queue them; their log ids once the queue has them. ``digest_of``: what the
    client sent (its kind and decoded bytes), which an idempotent retry must repeat."""
    limits = deps.limits

    def build(received_ms: int, log_ids: list[str]) -> Serialized:
        return prepare(
            raws, tenant_id=tenant_id, received_ms=received_ms, log_ids=log_ids, limits=limits,
            finite_floats=finite_floats,
        )  # fmt: skip

    return accept_built(event, deps, tenant_id, len(raws), build, digest_of=digest_of)


def accept_built(
    event: Event,
    deps: IngestDeps,
    tenant_id: str,
    count: int,
    build: Callable[[int, list[str]], Serialized],
    *,
    digest_of: tuple[str, bytes],
) -> list[str]:
    """:func:`accept` for a door that builds its ``count`` records itself: ``build(received_ms, log_ids)``
    gives them normalized and serialized (what core/ingest.py's ``prepare`` gives), and is called again
    with the first acceptance's time and ids for an idempotent retry."""
    limits = deps.limits
    received_ms = deps.clock()
    idem_key = header(event, "idempotency-key")
    seed: bytes | None = None
    if idem_key is not None:
        idem_key = idem_key.strip()
        seed = hashlib.sha256(f"{tenant_id}\0{idem_key}".encode()).digest()
    log_ids = new_log_ids(count, received_ms, seed=seed)
    records = build(received_ms, log_ids)

    if idem_key is not None:
        _check_idempotency_key(idem_key, limits)
    limiter = deps.rate_limiter
    if limiter is not None:
        wait_s = limiter.acquire(tenant_id, len(records))  # one token per record
        if wait_s is not None:
            raise rate_limited(wait_s)
    if deps.max_queue_depth > 0 and deps.queue.approximate_depth() >= deps.max_queue_depth:
        raise too_many_requests(
            "queue_full", "too much is queued; retry later", retry_after=QUEUE_FULL_RETRY_AFTER_S
        )
    if idem_key is not None and seed is not None:
        # The content type is part of what was sent: the same bytes as text or JSON are different records.
        kind, data = digest_of
        digest = hashlib.sha256(kind.encode() + b"\0" + data).hexdigest()
        claim = deps.idempotency.claim(tenant_id, idem_key, digest, received_ms)
        if claim.body_digest != digest:
            raise ApiError(
                422, "idempotency_key_reused", "this Idempotency-Key was used with a different body"
            )
        if claim.first_seen_ms != received_ms:
            # A retry: rebuild the records exactly as at the first acceptance.
            received_ms = claim.first_seen_ms
            log_ids = new_log_ids(count, received_ms, seed=seed)
            records = build(received_ms, log_ids)

    try:
        deps.queue.send(pack(tenant_id, records))
    except QueueUnavailable as exc:
        raise ApiError(
            503,
            "queue_unavailable",
            "the queue is unavailable; retry later",
            retry_after=QUEUE_DOWN_RETRY_AFTER_S,
        ) from exc
    return log_ids


def _check_idempotency_key(key: str, limits: Limits) -> None:
    if not key or len(key) > limits.idempotency_key_chars or not key.isascii() or not key.isprintable():
        raise bad_request(
            "invalid_idempotency_key",
            f"Idempotency-Key must be 1-{limits.idempotency_key_chars} printable ASCII characters",
        )
