"""Joining the lines of one record (issue 14 point 6): each language's stack trace becomes one record."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from logpipe._batcher import classify_lines
from logpipe._multiline import HOLD_SECONDS, MAX_JOINED_BYTES, LineJoiner, joiner_for
from stack_traces import GO, JAVA, NODE, PYTHON

AFTER = "2026-12-06 00:25:02,000 INFO [main] next request"


def _join(lines: list[str], mode: str = "auto", chunk: int = 1000) -> tuple[list[str], int]:
    joiner = joiner_for(mode)
    assert joiner is not None
    out: list[str] = []
    with_ends = [line + "\n" for line in lines]
    for i in range(0, len(with_ends), chunk):
        out += joiner.feed(with_ends[i : i + chunk])
    out += joiner.flush()
    return out, joiner.joined


@pytest.mark.parametrize("trace", [JAVA, PYTHON, GO, NODE], ids=["java", "python", "go", "node"])
@pytest.mark.parametrize("chunk", [1, 2, 1000])
def test_a_stack_trace_is_one_record(trace: list[str], chunk: int) -> None:
    out, joined = _join(["first record", *trace, AFTER], chunk=chunk)
    assert out == ["first record\n", "\n".join(trace), AFTER + "\n"]
    assert joined == len(trace) - 1


def test_python_exception_line_ends_the_trace() -> None:
    out, _ = _join(["x", *PYTHON[:5], "INFO:payments:next"])
    assert out == ["x\n", "\n".join(PYTHON[:5]), "INFO:payments:next\n"]


def test_go_frames_only_after_a_goroutine_header() -> None:
    out, _ = _join(["main.main()", "fmt.Println(x)"])
    assert out == ["main.main()\n", "fmt.Println(x)\n"]


def test_blank_lines_outside_a_record_stay_blank_lines() -> None:
    out, joined = _join(["a", "", "b", "", "  "])
    assert out == ["a\n", "\n", "b\n", "\n", "  \n"]
    assert joined == 0


def test_indented_continuation() -> None:
    out, _ = _join(["config:", "  port: 8080", "  host: x", "done"])
    assert out == ["config:\n  port: 8080\n  host: x", "done\n"]


def test_a_json_line_is_never_joined() -> None:
    out, _ = _join(['{"level": "error", "msg": "x"}', "  indented", "\tat y"])
    assert out == ['{"level": "error", "msg": "x"}\n', "  indented\n\tat y"]


def test_none_joins_nothing() -> None:
    assert joiner_for("none") is None


def test_regex_marks_the_start_of_a_record() -> None:
    lines = ["[2026-12-06] ERROR a", "detail one", "detail two", "[2026-12-06] INFO b", "x"]
    out, joined = _join(lines, r"\[\d{4}-")
    assert out == ["[2026-12-06] ERROR a\ndetail one\ndetail two", "[2026-12-06] INFO b\nx"]
    assert joined == 3


def test_bad_regex_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a regular expression"):
        joiner_for("([")


def test_a_record_is_cut_at_the_server_limit() -> None:
    frame = "\tat " + "x" * 1000
    lines = ["ERROR boom", *[frame] * 600]
    out, joined = _join(lines)
    assert len(out) > 1
    assert all(
        len(json.dumps(r.rstrip("\n"), ensure_ascii=False).encode()) <= MAX_JOINED_BYTES + 2 for r in out
    )
    assert out[0].startswith("ERROR boom\n")
    assert out[1].startswith(frame)  # the cut line starts the next record
    assert sum(r.count("\n") + 1 for r in out) == len(lines)  # no line lost
    assert joined == len(lines) - len(out)


def test_a_held_record_is_released_after_a_quiet_spell() -> None:
    now = [0.0]
    joiner = LineJoiner(None, clock=lambda: now[0])
    assert joiner.feed(["ERROR boom\n", "\tat x\n"]) == []
    assert joiner.due() == []
    now[0] += HOLD_SECONDS
    assert joiner.due() == ["ERROR boom\n\tat x"]
    assert not joiner.pending()


def test_joined_record_is_sent_as_a_json_string() -> None:
    out, _ = _join(JAVA)
    classified = classify_lines(out, "auto", "acme")
    assert classified.text == [] and [json.loads(d) for d in classified.json] == ["\n".join(JAVA)]


LINES = st.lists(
    st.sampled_from([*JAVA, *PYTHON, *GO, *NODE, AFTER, "", "  ", "{}", "x=1"]) | st.text(max_size=20),
    max_size=30,
)


@given(LINES, st.integers(1, 8), st.sampled_from(["auto", r"\d", "[A-Z]"]))
def test_joining_keeps_every_line_in_order(lines: list[str], chunk: int, mode: str) -> None:
    """Whatever the chunking: the records, split at their line breaks, are the input's lines (less blank
    ones outside records), in order; joined counts the lines that went into a record after its first."""
    clean = [re.sub(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]", "", line) for line in lines]
    out, joined = _join(clean, mode, chunk)
    assert out == _join(clean, mode, 1000)[0]
    pieces = [piece for record in out for piece in record.rstrip("\n").split("\n")]
    assert [p for p in pieces if p.strip()] == [line for line in clean if line.strip()]
    assert joined == sum(record.rstrip("\n").count("\n") for record in out)


def test_async_client_joins_a_trace_and_releases_it_on_a_quiet_stream() -> None:
    import asyncio
    import gzip
    from collections.abc import AsyncIterator

    import httpx
    import logpipe
    import respx
    from logpipe import BatchLimits

    bodies: list[bytes] = []

    def record(request: httpx.Request) -> httpx.Response:
        bodies.append(gzip.decompress(request.content))
        count = len([x for x in bodies[-1].split(b"\n") if x.strip()])
        return httpx.Response(202, json={"accepted": count, "log_ids": [f"id{i}" for i in range(count)]})

    async def lines() -> AsyncIterator[str]:
        for line in JAVA:
            yield line + "\n"
        await asyncio.sleep(HOLD_SECONDS + 0.5)  # quiet: the trace is complete and leaves
        yield "after\n"

    async def main() -> logpipe.SendResult:
        with respx.mock:
            respx.post("http://logpipe.test/ingest").mock(side_effect=record)
            async with logpipe.AsyncClient(
                "http://logpipe.test", "lp_key", batch_limits=BatchLimits(max_age=0.1)
            ) as client:
                stats = logpipe.SendStats()
                result = await client.send_lines(lines(), stats=stats)
                assert stats.joined == len(JAVA) - 1
                return result

    result = asyncio.run(main())
    assert result.ok and result.accepted == 2
    assert [json.loads(body) for body in bodies[:1]] == ["\n".join(JAVA)]  # before "after" was read
    assert bodies[1] == b"after"
