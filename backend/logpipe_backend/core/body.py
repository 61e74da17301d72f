"""From a request body to raw records: media type, Content-Encoding, and parsing within the limits.

Hostile input is expected here, so every step is bounded: gzip is inflated in chunks with a hard cap, and
the size and count limits are checked before the work they protect (JSON itself: :mod:`.json_records`).
The fast path for ordinary input is a handful of C-level calls per body or line (``json.loads``,
``bytes.count``, ``bytes.split``), never a Python loop per character.
"""

from __future__ import annotations

import re
import zlib
from typing import Any, Final

from logpipe_backend.core import codec
from logpipe_backend.core.errors import ApiError, bad_request, too_large, unsupported_media_type
from logpipe_backend.core.json_records import (
    parse_json,
    parse_ndjson,
    parse_ndjson_bytes,
    record_with_invalid_utf8,
)
from logpipe_backend.core.limits import Limits
from logpipe_backend.core.lines import first_line_longer_than, nonblank_lines, plain_lines

# Whichever zlib codec chose (the formats are the same).
_INFLATING: Final[Any] = codec.ZLIB
_INFLATE_ERRORS: Final[tuple[type[Exception], ...]] = codec.ZLIB_ERRORS

JSON: Final = "json"
NDJSON: Final = "ndjson"
TEXT: Final = "text"
# No Content-Type, or a form's: what shippers send when not told otherwise (syslog-ng's http() leaves it to
# libcurl, which says application/x-www-form-urlencoded; issue 14). The body is sniffed (see _parse_sniffed).
SNIFF: Final = "sniff"
_SNIFFED_TYPES: Final = frozenset({"", "application/x-www-form-urlencoded"})

MEDIA_TYPES: Final = {
    "application/json": JSON,
    "application/x-ndjson": NDJSON,
    "application/ndjson": NDJSON,
    "application/jsonl": NDJSON,
    "application/x-jsonl": NDJSON,
    "application/jsonlines": NDJSON,
    "text/plain": TEXT,
}
_CHARSETS: Final = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_INFLATE_CHUNK: Final = 64 * 1024  # decompressed bytes per step: bounds memory beyond the limit
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS  # gzip header and trailer required
_BOM: Final = "\ufeff"


def media_type(content_type: str | None) -> str:
    """``json``, ``ndjson`` or ``text`` for a Content-Type, ``sniff`` for none or a form's; ApiError 415
    ``unsupported_media_type`` else."""
    essence, *params = (content_type or "").split(";")
    essence = essence.strip().lower()
    kind = SNIFF if essence in _SNIFFED_TYPES else MEDIA_TYPES.get(essence)
    if kind is None:
        raise unsupported_media_type(
            "unsupported_media_type",
            f"unsupported Content-Type {essence.strip()!r}: use application/json, application/x-ndjson "
            "or text/plain",
        )
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in _CHARSETS:
            raise unsupported_media_type(
                "unsupported_media_type", f"unsupported charset {value.strip()!r}: only UTF-8 is accepted"
            )
    return kind


def _decoded_too_large(limits: Limits) -> ApiError:
    return too_large(
        "decoded_bytes", limits.decoded_bytes, f"body is over {limits.decoded_bytes} bytes after decoding"
    )


def _gunzip(body: bytes, limits: Limits) -> bytes:
    """Inflate every gzip member of ``body``, holding at most the limit plus one chunk."""
    cap = limits.decoded_bytes
    out = bytearray()
    data = body
    while data:
        inflater = _INFLATING.decompressobj(_GZIP_WBITS)
        try:
            while True:
                room = cap - len(out) + 1  # one byte past the cap is enough to know it is over
                chunk = inflater.decompress(data, min(_INFLATE_CHUNK, room))
                out += chunk
                if len(out) > cap:
                    raise _decoded_too_large(limits)
                data = inflater.unconsumed_tail
                # With all input taken, zlib may still hold output (a long back-reference cut short by
                # the chunk size): go on while chunks come, stop when neither input nor output is left.
                if inflater.eof or (not data and not chunk):
                    break
        except _INFLATE_ERRORS as exc:
            raise bad_request("invalid_gzip", f"body is not valid gzip: {exc}") from exc
        if not inflater.eof:
            raise bad_request("invalid_gzip", "body is not valid gzip: truncated")
        # Another gzip member may follow (concatenated gzip is valid, as `cat a.gz b.gz` makes);
        # trailing zero padding is tolerated like gzip(1) does.
        data = inflater.unused_data
        if data and not data.strip(b"\0"):
            break
    return bytes(out)


def decode_body(body: bytes, content_encoding: str | None, limits: Limits) -> bytes:
    """The body after Content-Encoding (``gzip``, ``identity`` or none), within the size limits.

    413 ``body_bytes`` when the body as sent is over the limit; 413 ``decoded_bytes`` as soon as inflating
    passes its limit; 415 ``unsupported_encoding`` for other encodings; 400 ``invalid_gzip`` when corrupt.
    """
    if len(body) > limits.body_bytes:
        raise too_large("body_bytes", limits.body_bytes, f"body is over {limits.body_bytes} bytes")
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        if len(body) > limits.decoded_bytes:
            raise _decoded_too_large(limits)
        return body
    if codings not in (["gzip"], ["x-gzip"]):
        raise unsupported_media_type(
            "unsupported_encoding",
            f"unsupported Content-Encoding {content_encoding!r}: use gzip or identity",
        )
    if not body:
        return b""
    return _gunzip(body, limits)


# --- parsing -----------------------------------------------------------------------------------------


def _too_many(limits: Limits) -> ApiError:
    return too_large("records", limits.records, f"more than {limits.records} records in one request")


def _decode_utf8(data: bytes, kind: str, limits: Limits) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = {"line": data.count(b"\n", 0, exc.start) + 1}
        if kind == JSON:
            where["offset"] = exc.start
            index = record_with_invalid_utf8(data, limits)
            if index is not None:
                where["index"] = index
        raise bad_request("invalid_utf8", f"body is not valid UTF-8 at byte {exc.start}", **where) from None
    return text[1:] if text.startswith(_BOM) else text


def _check_line_bytes(data: bytes, limits: Limits) -> None:
    """413 ``record_bytes`` naming the first line longer than a record may be."""
    number = first_line_longer_than(data, limits.record_bytes)
    if number is not None:
        raise too_large(
            "record_bytes", limits.record_bytes, f"line {number} is over {limits.record_bytes} bytes",
            line=number,
        )  # fmt: skip


def _text_lines(text: str, limits: Limits) -> list[str] | None:
    """The records of a text body without blank lines, its lines; None for other bodies. Replacing
    "\r\n" strips one "\r" from each line as :func:`_parse_text`'s loop does, but for the last line (no
    "\n" after it): a text ending in "\r" takes the loop."""
    if text.endswith("\r"):
        return None
    return plain_lines(text.replace("\r\n", "\n") if "\r" in text else text, limits.records)


def _parse_fast(data: bytes, kind: str, limits: Limits) -> list[dict[str, Any] | str] | None:
    """What :func:`parse_records` returns for the common bodies, with one split of the body instead of two
    (the over-long line check splits it too); None when unsure (then the full path, errors included).

    NDJSON: see :func:`parse_ndjson_bytes`. Text: an ASCII body (no BOM, nothing to fail decoding), whose
    lines, each the length in bytes the over-long line check measures (less a final "\r"), are all within
    the limit. The full path is what finds and names an error (the bad byte, the over-long line).
    """
    if kind == NDJSON:
        return parse_ndjson_bytes(data, limits)
    if kind == TEXT and data.isascii():
        lines = _text_lines(data.decode("ascii"), limits)
        if lines and max(map(len, lines)) <= limits.record_bytes:
            fast: list[dict[str, Any] | str] = [*lines]
            return fast
    return None


def _parse_text(text: str, limits: Limits) -> list[dict[str, Any] | str]:
    lines = _text_lines(text, limits)
    if lines is not None:
        fast: list[dict[str, Any] | str] = [*lines]
        return fast
    records: list[dict[str, Any] | str] = []
    for _, line in nonblank_lines(text, limits.records):
        records.append(line[:-1] if line.endswith("\r") else line)
        if len(records) > limits.records:
            raise _too_many(limits)
    return records


def parse_records(data: bytes, kind: str, limits: Limits) -> list[dict[str, Any] | str]:
    """Raw records of a decoded body: dicts for ``json``/``ndjson``, lines for ``text``.

    Errors name where they are (``line`` for text/ndjson, ``index`` for a json array): 400 ``invalid_utf8``,
    ``invalid_json``, ``invalid_record``, ``empty_body``; 413 ``records``, ``record_bytes``, ``json_depth``.
    """
    if kind == SNIFF:
        return _parse_sniffed(data, limits)
    if kind not in (JSON, NDJSON, TEXT):
        raise ValueError(f"unknown body kind {kind!r}")
    fast = _parse_fast(data, kind, limits)
    if fast:
        return fast
    if kind != JSON:
        _check_line_bytes(data, limits)
    text = _decode_utf8(data, kind, limits)
    if kind == JSON:
        records = parse_json(text, limits)
    elif kind == NDJSON:
        records = parse_ndjson(text, limits)
    else:
        records = _parse_text(text, limits)
    if not records:
        raise bad_request("empty_body", "the body holds no records")
    return records


# --- a body without a media type -------------------------------------------------------------------------

# The first byte that is not a blank, after an optional UTF-8 BOM (which decoding drops too).
_FIRST_BYTE_RE: Final = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\r\n]*+(.)", re.DOTALL)


def sniffed_kind(data: bytes) -> str:
    """What a body without a media type is, from its first non-blank byte: ``[`` is a JSON array; ``{`` is
    NDJSON (one object on one line is both; see _parse_sniffed for one over several lines); anything else,
    an empty body included, is text. Text lines rarely start with a brace; one that does can be sent as
    text/plain."""
    m = _FIRST_BYTE_RE.match(data)
    first = m.group(1) if m else b""
    return JSON if first == b"[" else NDJSON if first == b"{" else TEXT


def _parse_sniffed(data: bytes, limits: Limits) -> list[dict[str, Any] | str]:
    """Records of a sniffed body. One that starts like JSON but is not (no fallback to text: a broken JSON
    body stored as lines would be silently wrong records) is a 400 saying how it was read. A ``{`` body
    that is not NDJSON may be one object over several lines (pretty-printed), so JSON is tried next."""
    kind = sniffed_kind(data)
    try:
        return parse_records(data, kind, limits)
    except ApiError as exc:
        if exc.status != 400 or exc.code != "invalid_json":
            raise
        if kind == NDJSON:
            try:
                return parse_records(data, JSON, limits)
            except ApiError:
                pass  # the NDJSON error names the line, which says more for most bodies
        raise bad_request(
            exc.code,
            f"{exc.message} (the body had no Content-Type and starts like JSON, so it was read as "
            f"{'a JSON array' if kind == JSON else 'NDJSON'}; send Content-Type: text/plain for text)",
            **exc.detail,
        ) from None
