"""The queue message: many serialized records of one tenant in one SQS-valid JSON body.

Format: ``{"v":1,"tenant_id":"…","records":[…]}``. Records are packed in order, as many per message as fit
in ``max_bytes`` of UTF-8 (SQS allows 256 KiB or 1 MiB depending on configuration; the default stays under
1 MiB with headroom for attributes). SQS refuses characters outside #x9 #xA #xD #x20–#xD7FF
#xE000–#xFFFD #x10000–#x10FFFF; records are JSON, where such a character can only sit inside a string, so
it is replaced by its ``\\uXXXX`` escape and the JSON means exactly the same.

A compact transport form, ``{"v":2,"z":"<base64 of the zlib-compressed v1 body>"}`` (:func:`compress`), is for
queues that bill by size: SQS bills each 64 KiB chunk of a body as one request, and a v1 body of ~1 MB
compresses about 5x. Base64 is ASCII, so the v2 body is SQS-valid whatever the records hold. The SQS adapter
sends it; the local SQLite queue takes v1 (nothing is billed there; it deflates bodies in its own storage,
without base64 or a second JSON parse). :func:`unpack` reads both, so the worker does not care which queue a
message came from.
"""

from __future__ import annotations

import base64
import binascii
import json
import json.scanner
import operator
import re
import zlib
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate, islice, repeat
from typing import Any, Final, cast

from logpipe_backend.core import codec
from logpipe_backend.core.record import WIRE_FIELDS, Record, new_record, record_maker

MAX_MESSAGE_BYTES: Final = 1_000_000
ENVELOPE_VERSION: Final = 1
COMPRESSED_VERSION: Final = 2
# zlib level 3: a full 1 MB message bills as many 64 KiB SQS chunks as at level 6, for about half the CPU
# (the levels compared: docs/performance.md).
COMPRESS_LEVEL: Final = 3
# A v2 body never inflates to more than this: a v1 body is at most 1 MiB (SQS's limit), with headroom.
MAX_EXPANDED_BYTES: Final = 4 * 1_048_576

# Characters SQS refuses (the complement of what it allows), including lone surrogates.
_SQS_UNSAFE_RE: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Their UTF-8 bytes in valid UTF-8 input: C0 controls other than tab/LF/CR, and U+FFFE/U+FFFF
# (EF BF BE / EF BF BF). A cheap bytes check skips the decode-and-escape step for almost every record.
_UNSAFE_BYTES_RE: Final = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]")
_REFUSED_CONTROLS: Final = bytes(b for b in range(0x20) if b not in (0x09, 0x0A, 0x0D))
_ALL_BUT_REFUSED_CONTROLS: Final = bytes(b for b in range(256) if b not in _REFUSED_CONTROLS)
_REQUIRED_FIELDS: Final = (
    "tenant_id", "log_id", "timestamp", "received_at", "level", "message", "attributes"
)  # fmt: skip
_REQUIRED_SET: Final = frozenset(_REQUIRED_FIELDS)
# What ingest writes in every record: the required fields and the two unpack fills in when missing.
_COMPLETE_SET: Final = _REQUIRED_SET | {"redactions", "source"}
_TENANT_OF: Final = operator.itemgetter("tenant_id")


def sqs_safe(text: str) -> bool:
    """Whether SQS accepts every character of ``text`` in a message body."""
    return _SQS_UNSAFE_RE.search(text) is None


def _may_hold_unsafe(data: bytes) -> bool:
    """Cheap: C-speed passes (translate deletes every byte but the refused controls; two substring
    searches) instead of a regex search; False means _make_safe would change nothing."""
    return bool(data.translate(None, _ALL_BUT_REFUSED_CONTROLS)) or _may_hold_noncharacter(data)


def _may_hold_noncharacter(data: bytes) -> bool:
    """Whether ``data`` may hold U+FFFE or U+FFFF (which JSON encoders leave as they are)."""
    # A one-byte search (memchr) first: the three-byte searches are much slower, and almost never needed.
    return b"\xef" in data and (b"\xef\xbf\xbe" in data or b"\xef\xbf\xbf" in data)


def _escape_char(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def _make_safe(record: bytes) -> bytes:
    if _UNSAFE_BYTES_RE.search(record) is None:
        return record
    text = record.decode("utf-8", "surrogatepass")
    return _SQS_UNSAFE_RE.sub(_escape_char, text).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Serialized:
    """Serialized records in order, handed from ingest to :func:`pack` in pack's own layout: ``chunks``, each
    the JSON of one or more consecutive records joined by commas (``{…},{…}``), and every record's size in
    bytes (ingest serializes records by the chunk: they are never copied out one by one) — or, ``sizes``
    None, the number of records (``count``) and the promise that each record starts with RECORD_HEAD and
    none holds RECORD_SEPARATOR_BYTES inside (ingest checks it with one count per chunk), so that a
    separator is always between two records: pack then cuts messages there, and no size is counted; and
    that the records are a JSON encoder's output, which escapes every control character."""

    chunks: list[bytes]
    sizes: list[int] | None
    count: int = 0  # the number of records when sizes is None

    @classmethod
    def of(cls, records: list[bytes]) -> Serialized:
        """Records given one by one: each its own chunk."""
        return cls(records, list(map(len, records)))

    def __len__(self) -> int:
        return self.count if self.sizes is None else len(self.sizes)

    def records(self) -> list[bytes]:
        """Each record's JSON on its own."""
        joined = b",".join(self.chunks)
        if self.sizes is None:
            if not joined:
                return []
            pieces = joined.split(RECORD_SEPARATOR_BYTES)
            return [pieces[0], *map(_RECORD_HEAD_BYTES.__add__, islice(pieces, 1, None))]
        starts = [0, *accumulate(map((1).__add__, self.sizes))]
        return [joined[start : start + size] for start, size in zip(starts, self.sizes, strict=False)]


def pack(tenant_id: str, records: list[bytes] | Serialized, max_bytes: int = MAX_MESSAGE_BYTES) -> list[str]:
    """Message bodies holding ``records`` (serialized JSON objects) in order, each ≤ ``max_bytes`` UTF-8.

    Raises ValueError when one record alone cannot fit (ingest's per-record limit keeps that from happening).
    """
    serialized = Serialized.of(records) if isinstance(records, list) else records
    head = f'{{"v":{ENVELOPE_VERSION},"tenant_id":{json.dumps(tenant_id)},"records":['.encode()
    tail = b"]}"
    room = max_bytes - len(head) - len(tail)  # for the records and the commas between them
    # One scan of all records together finds nothing unsafe in almost every request; only then is each
    # record checked (and escaped) on its own.
    joined = b",".join(serialized.chunks)
    # An encoder's output (the form without sizes) holds no raw control character (both encoders escape
    # them): only U+FFFE/U+FFFF, which JSON leaves as they are, need looking for.
    if _may_hold_noncharacter(joined) if serialized.sizes is None else _may_hold_unsafe(joined):
        serialized = Serialized.of(list(map(_make_safe, serialized.records())))
        joined = b",".join(serialized.chunks)
    if serialized.sizes is None:
        spans = _spans_at_separators(joined, room, max_bytes)
    else:
        spans = _spans_by_sizes(serialized.sizes, room, max_bytes)
    view = memoryview(joined)
    return [b"".join((head, view[start:stop], tail)).decode("utf-8") for start, stop in spans]


def _too_big(size: int, max_bytes: int) -> ValueError:
    return ValueError(f"a record of {size} bytes does not fit in a {max_bytes}-byte message")


def _spans_by_sizes(sizes: list[int], room: int, max_bytes: int) -> list[tuple[int, int]]:
    """Where each message's records start and stop in the joined records: as many records as fit.

    Found by bisection on the running total of sizes (each record and its comma): C-level calls per
    message, not Python steps per record.
    """
    ends = list(accumulate(map((1).__add__, sizes)))
    spans: list[tuple[int, int]] = []
    start, before = 0, 0  # first record of the next message; where it starts in joined
    while start < len(sizes):
        stop = bisect_right(ends, before + room + 1, start)  # + 1: the last record has no comma
        if stop == start:
            raise _too_big(sizes[start], max_bytes)
        spans.append((before, ends[stop - 1] - 1))
        start, before = stop, ends[stop - 1]
    return spans


def _spans_at_separators(joined: bytes, room: int, max_bytes: int) -> list[tuple[int, int]]:
    """:func:`_spans_by_sizes` for records whose separators are all between records (see Serialized): the
    last separator that leaves the message within ``room`` ends it (a backward search over about one record:
    no record's size is ever counted)."""
    spans: list[tuple[int, int]] = []
    start, end = 0, len(joined)
    while start < end:
        if end - start <= room:
            stop = end
        else:
            stop = joined.rfind(RECORD_SEPARATOR_BYTES, start, start + room + len(RECORD_SEPARATOR_BYTES))
            if stop <= start:
                following = joined.find(RECORD_SEPARATOR_BYTES, start)
                raise _too_big((end if following < 0 else following) - start, max_bytes)
        spans.append((start, stop))
        start = stop + 1
    return spans


def compress(body: str) -> str:
    """The compact (v2) form of a v1 body made by :func:`pack`: ASCII, so SQS-valid, and about 5x smaller."""
    packed = base64.b64encode(zlib.compress(body.encode("utf-8"), COMPRESS_LEVEL)).decode("ascii")
    return f'{{"v":{COMPRESSED_VERSION},"z":"{packed}"}}'


def expand(body: str) -> str:
    """The v1 body inside a v2 one; any other body as it is. ValueError for a malformed v2 body."""
    data = _loads(body)
    return _inflate(data) if isinstance(data, dict) and data.get("v") == COMPRESSED_VERSION else body


def _loads(body: str) -> Any:
    try:
        return json.loads(body)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"message body is not JSON: {exc}") from exc


def _inflate(data: dict[str, Any]) -> str:
    packed = data.get("z")
    if not isinstance(packed, str) or data.keys() != {"v", "z"}:
        raise ValueError("a compressed envelope holds exactly v and z (a string)")
    try:
        compressed = base64.b64decode(packed, validate=True)
        inflater = zlib.decompressobj()
        # Bounded: a crafted body cannot make the worker inflate more than MAX_EXPANDED_BYTES.
        raw = inflater.decompress(compressed, MAX_EXPANDED_BYTES)
        if inflater.unconsumed_tail or not inflater.eof or inflater.unused_data:
            raise ValueError("compressed envelope is truncated, too large or followed by data")
        return raw.decode("utf-8")
    except (binascii.Error, zlib.error, UnicodeDecodeError) as exc:
        raise ValueError(f"compressed envelope is corrupt: {exc}") from exc


# A re-queued remainder carries the simulated work already spent on its first record (issue 12: one record
# whose work outlasts a whole invocation still completes): ``{"v":1,"work_done_s":<seconds>,"tenant_id":…``.
# The key sits before tenant_id so that a body without it keeps pack's exact layout (the worker's fast
# paths); a reader that does not know the key parses the body with json.loads, which ignores it.
_WORK_DONE_HEAD: Final = f'{{"v":{ENVELOPE_VERSION},"work_done_s":'
_V1_HEAD: Final = f'{{"v":{ENVELOPE_VERSION},'


def with_work_done(body: str, seconds: float) -> str:
    """A v1 body made by :func:`pack`, marked with ``seconds`` of work already done on its first record."""
    if not body.startswith(_PACKED_HEAD):
        raise ValueError("only a body laid out by pack can carry work done")
    if not (seconds >= 0 and seconds != float("inf")):  # also refuses NaN
        raise ValueError(f"work done must be a finite number of seconds >= 0, not {seconds!r}")
    return f"{_WORK_DONE_HEAD}{float(seconds)!r},{body[len(_V1_HEAD) :]}"


def take_work_done(body: str) -> tuple[str, float]:
    """(the v1 body without the mark, the seconds of work it carries): a v2 body is inflated first; a body
    without the mark is returned as it is with 0.0. ValueError for a malformed mark or v2 body."""
    if body.startswith(_COMPRESSED_PREFIX):
        body = expand(body)
    if not body.startswith(_WORK_DONE_HEAD):
        return body, 0.0
    try:
        seconds, end = _SCANNER(body, len(_WORK_DONE_HEAD))
    except StopIteration as exc:
        raise ValueError("work_done_s is not a number") from exc
    if type(seconds) not in (int, float) or not 0 <= seconds < float("inf") or body[end : end + 1] != ",":
        raise ValueError("work_done_s must be a finite number of seconds >= 0")
    return _V1_HEAD + body[end + 1 :], float(seconds)


def unpack(body: str) -> tuple[str, list[Record]]:
    """(tenant_id, records) of a message body made by :func:`pack` (v1) or :func:`compress` (v2);
    ValueError when it is malformed."""
    data: Any = _loads(body)
    if isinstance(data, dict) and data.get("v") == COMPRESSED_VERSION:
        data = _loads(_inflate(data))  # a v2 body holds a v1 one, checked below like any other
    if not isinstance(data, dict) or data.get("v") != ENVELOPE_VERSION:
        raise ValueError("message body is not a logpipe envelope of version 1")
    tenant_id = data.get("tenant_id")
    records = data.get("records")
    if not isinstance(tenant_id, str) or not isinstance(records, list):
        raise ValueError("envelope lacks tenant_id or records")
    return tenant_id, _checked(tenant_id, records)


# The caller's look at each record's JSON text (None for a record without one) before it is parsed: the
# indices, in order, of the texts it must deal with further. See unpack_with_text.
Screen = Callable[[Sequence[str | None]], list[int]]


def unpack_with_text(body: str, screen: Screen) -> tuple[str, list[Record], list[str | None], list[int]]:
    """:func:`unpack`, plus each record's JSON text exactly as the body holds it, and ``screen`` of them.

    The worker stores a record that redaction leaves unchanged as this text instead of encoding it again.
    Each text is the piece of the body that very record was parsed from, so text and record always agree.
    A text is None where it would not stand for the record as unpacked (it lacks ``redactions`` or
    ``source``, which unpack fills in); all are None for a body that cannot be cut at record boundaries
    (not laid out by :func:`pack`, or a record holding the separator inside: it is then read by
    :func:`unpack`, so the records are the same and only the texts are lost).

    ``screen`` must return (at least) the indices of the texts that are None or hold a run of
    ``codec.BIG_INT_DIGITS`` digits: only those are looked at for integers past 64 bits, which are then
    parsed exactly (the worker's screen, ``Redactor.json_to_redact``, promises it and runs once, here). The
    last item is what it returned for the texts returned, with the indices of texts set to None afterwards.
    """
    data: Any = _loads(body) if body.startswith(_COMPRESSED_PREFIX) else None
    if isinstance(data, dict) and data.get("v") == COMPRESSED_VERSION:
        body = _inflate(data)
    try:
        found = _split_packed(body, screen)
    except (StopIteration, ValueError, RecursionError):  # the scanner's "no JSON value here"
        found = None
    if found is None:
        tenant_id, records = unpack(body)
        texts: list[str | None] = [None] * len(records)
        return tenant_id, records, texts, screen(texts)
    tenant_id, records, texts, screened = found
    if _complete(tenant_id, records):  # what _checked would find: nothing to fill in, nothing wrong
        return tenant_id, records, texts, screened
    flagged = set(screened)
    for index, record in enumerate(records):
        if type(record) is dict and ("redactions" not in record or "source" not in record):
            texts[index] = None
            flagged.add(index)
    return tenant_id, _checked(tenant_id, records), texts, sorted(flagged)


def _complete(tenant_id: str, records: list[Any]) -> bool:
    """Whether every record is a dict holding every field (``redactions`` and ``source`` too) and of this
    tenant: C-level passes (map, no Python step per record). :func:`_checked` is the per-record path; it
    runs only when this is False, to fill in what is missing or name the first record at fault."""
    if not set(map(type, records)) <= {dict}:
        return False
    # Ingest writes every record with the same keys in the same order (record.new_record): records whose key
    # tuples all equal the first one's (compared by identity, mostly: orjson reuses key strings) hold every
    # field if it does, with one comparison a record instead of a subset test; other layouts take the test.
    layout = tuple(records[0]) if records else ()
    one_layout = list(map(tuple, records)).count(layout) == len(records) and _COMPLETE_SET.issubset(layout)
    return (one_layout or all(map(operator.ge, map(dict.keys, records), repeat(_COMPLETE_SET)))) and list(
        map(_TENANT_OF, records)
    ).count(tenant_id) == len(records)


_COMPRESSED_PREFIX: Final = f'{{"v":{COMPRESSED_VERSION},'
_PACKED_HEAD: Final = f'{{"v":{ENVELOPE_VERSION},"tenant_id":'
# The C scanner json.loads uses, with the same rules (a default JSONDecoder's); it returns (value, end).
_SCANNER: Final = json.scanner.make_scanner(cast(Any, json.JSONDecoder()))


# Every record's JSON starts with its tenant_id (record.new_record puts it first), so in a packed body records
# are separated by "," + RECORD_HEAD: ingest counts its serialized chunks' records there, pack cuts messages
# there, and the worker splits its messages there. This module owns that invariant: see _check_record_head.
RECORD_HEAD: Final = '{"tenant_id":'
_RECORD_SEPARATOR: Final = "," + RECORD_HEAD
_RECORD_HEAD_BYTES: Final = RECORD_HEAD.encode()
RECORD_SEPARATOR_BYTES: Final = _RECORD_SEPARATOR.encode()


def _split_packed(body: str, screen: Screen) -> tuple[str, list[Any], list[str | None], list[int]] | None:
    """(tenant_id, records, texts, screen(texts)) of a body in pack's exact layout; None for any other.

    pack lays records out as ``{"tenant_id":…},{"tenant_id":…}``, so splitting at ``,{"tenant_id":``
    finds each record's span without scanning it in Python. That text can also sit inside a record (a
    nested object with that key; never inside a string, where the quote would be escaped), but a split
    there leaves a piece whose outer object is not closed, which JSON refuses: then None (and the caller
    reads the body with :func:`unpack`). When every piece is one JSON object (``{`` … ``}``), ``json``
    reading the whole body would have ended each record exactly where the piece ends, with the same value.
    """
    if not body.startswith(_PACKED_HEAD) or not body.endswith("]}"):
        return None
    tenant_id, end = _SCANNER(body, len(_PACKED_HEAD))
    if not isinstance(tenant_id, str) or not body.startswith(',"records":[', end):
        return None
    start = end + len(',"records":[')
    if not body.startswith(RECORD_HEAD, start):
        return None
    pieces = body[start:-2].split(_RECORD_SEPARATOR)
    # map over C-level calls rather than a comprehension: no Python step per record.
    texts: list[str] = [pieces[0], *map(RECORD_HEAD.__add__, islice(pieces, 1, None))]
    if not all(map(str.endswith, texts, repeat("}"))):
        return None
    records = codec.loads_each(texts, json.loads)
    if records is None:
        return None
    # The screen (one pass over all texts, which the worker makes anyway) replaces a pass of our own over
    # them for big integers: only the texts it returns may hold one, and those are read exactly by json.
    screened = screen(texts)
    for index in screened:
        if codec.may_hold_big_int(texts[index]):
            records[index] = json.loads(texts[index])
    return tenant_id, records, cast(list[str | None], texts), screened


def _checked(tenant_id: str, records: list[Any]) -> list[Record]:
    for index, record in enumerate(records):
        # keys() >= set: one C-level subset test per record instead of a generator over the fields.
        if not isinstance(record, dict) or not record.keys() >= _REQUIRED_SET:
            raise ValueError(f"record {index} is not a record")
        if record["tenant_id"] != tenant_id:
            raise ValueError(f"record {index} belongs to another tenant than its envelope")
        record.setdefault("redactions", 0)
        record.setdefault("source", "json")
    return cast(list[Record], records)


def _check_record_head() -> None:
    """Refuse to import when a new record's JSON does not start with RECORD_HEAD: pack would cut messages,
    and the worker split them, in the middle of records (record.new_record's key order is what keeps it)."""
    probe = new_record("t", "l", "ts", "r", "info", "m", {}, "json")
    if tuple(probe) != tuple(record_maker("t", "r", "text", "info")("l", "ts", None, "m")):
        raise RuntimeError("record.new_record and record.record_maker lay records out differently")
    head = '{"' + next(iter(probe)) + '":'
    if (
        head != RECORD_HEAD
        or WIRE_FIELDS[0] != "tenant_id"
        or not codec.compact_encoder()(probe).startswith(head)
    ):
        raise RuntimeError(
            f"a record's JSON starts with {head}, not RECORD_HEAD {RECORD_HEAD}: see core/record.py"
        )


_check_record_head()
