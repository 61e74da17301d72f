"""The docs hold together: a short README, links and anchors that resolve, the contract and openapi.json
naming the same HTTP paths, and no path that leads outside the repository (issue 13).

Each check is a plain function over text or a directory, run once on the repository and once on a small
broken example, so that a check which could never fail is caught too.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
CONTRACT = DOCS / "contract.md"
OPENAPI = ROOT / "backend" / "logpipe_backend" / "openapi.json"

README_MAX_LINES = 300
README_COMMANDS = ("make test", "make demo")  # .ci/run calls `make test`; the README promises both
# Built from pieces so that this file does not name what it looks for.
OUTSIDE_PATH = ".." + "/shared"
SKIPPED_DIRS = {".git", ".mypy_cache", ".pytest_cache", ".ruff_cache", "__pycache__", "node_modules", "build"}

_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"(?<!\!)\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_HTTP_METHODS = "GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS"
_HTTP_PATH = re.compile(rf"^(?:(?:{_HTTP_METHODS}) )?(/[A-Za-z0-9_.{{}}/-]*)$")


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code removed (a link in code is no link)."""
    lines: list[str] = []
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(_INLINE_CODE.sub("", line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen."""
    text = re.sub(r"`|\*\*|__", "", heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading keeps its text
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's anchor in a Markdown text, with GitHub's -1, -2 … for repeated ones."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(md_file: Path) -> list[str]:
    """Relative links of ``md_file`` to a missing file, or to a missing heading of a Markdown file."""
    problems: list[str] = []
    for line in _prose_lines(md_file.read_text(encoding="utf-8")):
        for target in _LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, mailto: …
                continue
            path_part, _, anchor = target.partition("#")
            dest = (md_file.parent / path_part).resolve() if path_part else md_file
            if not dest.exists():
                problems.append(f"{md_file.name}: {target}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
                problems.append(f"{md_file.name}: {target}: no such heading in {dest.name}")
    return problems


def files_naming(root: Path, needle: str) -> list[Path]:
    """Files under ``root`` whose bytes contain ``needle`` (outside .git, virtual environments and caches)."""
    found: list[Path] = []
    raw = needle.encode()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [
            d
            for d in dirnames
            if d not in SKIPPED_DIRS and not d.startswith(".venv") and not d.endswith(".egg-info")
        ]
        for name in filenames:
            path = Path(dirpath, name)
            if path.is_symlink() or not path.is_file():
                continue
            if raw in path.read_bytes():
                found.append(path)
    return found


def contract_api_paths(contract: str) -> set[str]:
    """The HTTP paths the contract's API section (§3) writes in code spans: `/ingest`, `POST /v1/logs` …"""
    match = re.search(r"^## 3\..*?(?=^## 4\.)", contract, re.MULTILINE | re.DOTALL)
    assert match, "contract.md has no section 3 followed by a section 4"
    paths: set[str] = set()
    for span in re.findall(r"`([^`\n]+)`", match.group(0)):
        path = _HTTP_PATH.match(span.strip())
        if path and path.group(1) != "/":
            paths.add(path.group(1))
    return paths


def path_mismatches(openapi_paths: set[str], contract_paths: set[str]) -> list[str]:
    missing = [f"{p}: in openapi.json, not in contract.md §3" for p in sorted(openapi_paths - contract_paths)]
    extra = [f"{p}: in contract.md §3, not in openapi.json" for p in sorted(contract_paths - openapi_paths)]
    return missing + extra


def readme_problems(text: str) -> list[str]:
    problems: list[str] = []
    lines = len(text.splitlines())
    if lines > README_MAX_LINES:
        problems.append(f"README.md has {lines} lines (at most {README_MAX_LINES}): move detail into docs/")
    problems += [f"README.md does not state `{cmd}`" for cmd in README_COMMANDS if cmd not in text]
    return problems


def _docs_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md")), ROOT / "bench" / "HISTORY.md"]


# --- the repository ---------------------------------------------------------------------------------------


def test_readme_is_short_and_states_the_commands() -> None:
    assert readme_problems(README.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("md_file", _docs_files(), ids=lambda p: p.name)
def test_links_resolve(md_file: Path) -> None:
    assert broken_links(md_file) == []


def test_nothing_points_outside_the_repository() -> None:
    assert files_naming(ROOT, OUTSIDE_PATH) == []


def test_contract_and_openapi_name_the_same_paths() -> None:
    openapi_paths = set(json.loads(OPENAPI.read_text(encoding="utf-8"))["paths"])
    contract_paths = contract_api_paths(CONTRACT.read_text(encoding="utf-8"))
    assert path_mismatches(openapi_paths, contract_paths) == []


# --- each check can fail ------------------------------------------------------------------------------


def test_slug_matches_github() -> None:
    assert slug("How `tail -f` never skips a record") == "how-tail--f-never-skips-a-record"
    assert slug("Disk: `/healthz` and the 507") == "disk-healthz-and-the-507"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1"}


def test_broken_links_are_found(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Present\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Here\n[ok](other.md#present) [ok](#here) [web](https://example.com/x.md) `[code](gone.md)`\n"
        "[file](gone.md) [anchor](other.md#absent) [self](#nowhere)\n```\n[fenced](gone.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == [
        "page.md: gone.md: no such file",
        "page.md: other.md#absent: no such heading in other.md",
        "page.md: #nowhere: no such heading in page.md",
    ]


def test_readme_problems_are_found() -> None:
    assert readme_problems("make test\nmake demo\n" + "line\n" * (README_MAX_LINES - 2)) == []
    assert readme_problems("make test, make demo\n" + "line\n" * README_MAX_LINES) == [
        f"README.md has {README_MAX_LINES + 1} lines (at most {README_MAX_LINES}): move detail into docs/"
    ]
    assert readme_problems("make demo\n") == ["README.md does not state `make test`"]


def test_outside_paths_are_found(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "notes.py").write_text(f"# see {OUTSIDE_PATH}/x.md\n", encoding="utf-8")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "ignored.txt").write_text(OUTSIDE_PATH, encoding="utf-8")
    assert files_naming(tmp_path, OUTSIDE_PATH) == [tmp_path / "sub" / "notes.py"]


def test_path_mismatches_are_found() -> None:
    contract = (
        "## 3. HTTP API\n### `POST /ingest`\n- `GET /healthz` (also `/healthz/1.0`), `text/plain`\n"
        "```\nPOST /in-a-block\n```\n## 4. CLI\n`GET /not/in/section/3`\n"
    )
    paths = contract_api_paths(contract)
    assert paths == {"/ingest", "/healthz", "/healthz/1.0"}
    assert path_mismatches({"/ingest", "/healthz", "/v1/logs"}, paths) == [
        "/v1/logs: in openapi.json, not in contract.md §3",
        "/healthz/1.0: in contract.md §3, not in openapi.json",
    ]
