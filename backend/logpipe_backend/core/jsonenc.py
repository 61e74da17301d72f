"""Compact JSON encoding (``separators=(",", ":")``, ``ensure_ascii=False``) for the hot paths.

``json.JSONEncoder.encode`` builds a new C encoder object (and a closure) on every call; for records of
~250 bytes that set-up is a fifth of the time (measured 3.0 → 2.4 µs a record). :func:`compact_encoder`
builds the C encoder once, with exactly the arguments ``encode`` would pass it, so the output is the same
byte for byte. Without circular-reference markers: records come from parsed JSON, which cannot hold a
cycle (a Python caller's cycle ends in RecursionError instead of ValueError).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any


def compact_encoder(*, allow_nan: bool = True) -> Callable[[Any], str]:
    """A function giving what ``json.JSONEncoder(ensure_ascii=False, separators=(",", ":"),
    allow_nan=allow_nan, check_circular=False).encode`` gives, faster."""
    reference = json.JSONEncoder(
        ensure_ascii=False, separators=(",", ":"), allow_nan=allow_nan, check_circular=False
    )
    if c_make_encoder is None:  # an interpreter without the C accelerator
        return reference.encode
    # The arguments JSONEncoder.iterencode passes (markers, default, encoder, indent, key separator,
    # item separator, sort_keys, skipkeys, allow_nan).
    scan = c_make_encoder(None, reference.default, encode_basestring, None, ":", ",", False, False, allow_nan)
    join = "".join

    def encode(value: Any) -> str:
        if isinstance(value, str):  # as JSONEncoder.encode: a bare string is one call
            return str(encode_basestring(value))
        return join(scan(value, 0))

    return encode
