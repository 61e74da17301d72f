"""``--skip-lines`` and the resume position of ``logpipe send`` (inputs.read_lines, issue 15)."""

from __future__ import annotations

import shlex
from pathlib import Path

from logpipe import SendStats
from logpipe_cli.inputs import MAX_LINE_BYTES, ReadPosition, Source, read_lines


def _read(sources: list[Source], **kwargs: object) -> tuple[list[str], SendStats, ReadPosition]:
    stats = SendStats()
    position = ReadPosition(sources)
    lines = list(read_lines(sources, stats, [], position=position, **kwargs))  # type: ignore[arg-type]
    return lines, stats, position


def test_skip_lines_counts_lines_as_read_lines_does(tmp_path: Path) -> None:
    path = tmp_path / "a b.log"
    giant = "g" * (MAX_LINE_BYTES + 10)
    path.write_text(f"one\n{giant}\nthree\nfour\nfive")
    lines, stats, position = _read([Source(str(path))])
    assert lines == ["one\n", "three\n", "four\n", "five"] and stats.lines_read == 5
    for skip, rest in (
        (1, ["three\n", "four\n", "five"]),
        (2, ["three\n", "four\n", "five"][0:3]),
        (4, ["five"]),
    ):
        got, stats, position = _read([Source(str(path))], skip_lines=skip)
        assert got == (rest if skip != 1 else ["three\n", "four\n", "five"]), skip
        assert position.lines_done(stats) == 5  # file lines, skipped ones included
    got, _, _ = _read([Source(str(path))], skip_lines=99)
    assert got == []


def test_stop_ends_reading_and_the_resume_command_names_the_rest(tmp_path: Path) -> None:
    first, second, third = tmp_path / "1.log", tmp_path / "it's 2.log", tmp_path / "3.log"
    first.write_text("a\nb\n")
    second.write_text("".join(f"{i}\n" for i in range(10)))
    third.write_text("z\n")
    sources = [Source(str(p)) for p in (first, second, third)]
    stats = SendStats()
    position = ReadPosition(sources)
    taken: list[str] = []
    for line in read_lines(sources, stats, [], position=position):
        taken.append(line)
        if line == "3\n":
            position.stopping = True
    assert taken == ["a\n", "b\n", "0\n", "1\n", "2\n", "3\n"]  # nothing after the stop
    assert position.lines_done(stats) == 4
    command = position.resume_command(stats)
    assert shlex.split(command) == ["logpipe", "send", str(second), str(third), "--skip-lines", "4"]
    resumed, _, _ = _read(sources[1:], skip_lines=4)
    assert taken + resumed == ["a\n", "b\n", *(f"{i}\n" for i in range(10)), "z\n"]
