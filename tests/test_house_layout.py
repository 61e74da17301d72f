"""The house rules of issue 13, checked on the source (``ast``; nothing is imported or executed).

- no import cycle among the modules of backend/, cli/ and sdk/, counting imports inside functions (lazy)
  and under ``if TYPE_CHECKING:`` alike;
- only ``logpipe_backend.wiring`` imports ``logpipe_backend.adapters`` from the handlers, core, ports,
  settings, runtime and Lambda entry points (adapters may import each other; the CLI imports what
  ``serve``, ``tenants``, ``dlq``, ``purge`` and ``backup`` need);
- handlers import neither wiring nor runtime; ``core`` imports nothing of ours outside ``core``;
- the launcher of a real ``logpipe serve`` lives in tests/harness/, not in the product package;
- no .py file of backend/, cli/ or sdk/ is longer than MAX_LINES.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

import pytest

REPO: Final = Path(__file__).resolve().parents[1]
PACKAGES: Final = {"logpipe_backend": REPO / "backend", "logpipe_cli": REPO / "cli", "logpipe": REPO / "sdk"}
MAX_LINES: Final = 450
BACKEND: Final = "logpipe_backend"

Graph = Mapping[str, frozenset[str]]


def _modules() -> dict[str, tuple[Path, bool]]:
    found: dict[str, tuple[Path, bool]] = {}
    for package, root in PACKAGES.items():
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if is_package else parts)
            found[name] = (path, is_package)
    return found


def _imported_names(module: str, is_package: bool, tree: ast.AST) -> Iterator[str]:
    """Every dotted name an import statement anywhere in ``tree`` may load (module level, in functions,
    under TYPE_CHECKING): ``from a import b`` yields ``a.b`` (resolved to ``a`` when b is not a module)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    parent = parent.rpartition(".")[0]
                base = f"{parent}.{base}" if base else parent
            # `from a import b`: the module a.b if there is one, else a (b is a name in it). The parent
            # packages Python initialises on the way are not counted: no rule is about them.
            yield from (f"{base}.{alias.name}" for alias in node.names)


def build_graph(modules: Mapping[str, tuple[Path, bool]]) -> Graph:
    """module → the modules of ours it imports (a name resolves to the longest module prefix we have)."""

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, frozenset[str]] = {}
    for module, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = {resolve(name) for name in _imported_names(module, is_package, tree)}
        graph[module] = frozenset(t for t in targets if t is not None and t != module)
    return graph


def find_cycle(graph: Graph) -> list[str] | None:
    """One import cycle (its modules in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_graph(_modules())


def test_no_import_cycle_lazy_imports_included(graph: Graph) -> None:
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


# Who may import logpipe_backend.adapters.*: the wiring, the adapters themselves, and the CLI commands that
# operate the stores directly (serve, tenants, dlq, purge, backup).
ADAPTER_IMPORTERS: Final = (f"{BACKEND}.wiring", f"{BACKEND}.adapters", "logpipe_cli")


def test_only_wiring_imports_adapters(graph: Graph) -> None:
    offenders = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if not any(_within(module, allowed) for allowed in ADAPTER_IMPORTERS)
        for target in targets
        if _within(target, f"{BACKEND}.adapters")
    )
    assert offenders == [], "only logpipe_backend.wiring may import the adapters:\n" + "\n".join(offenders)


def test_handlers_import_neither_wiring_nor_runtime_nor_entry_points(graph: Graph) -> None:
    forbidden = tuple(f"{BACKEND}.{name}" for name in ("wiring", "runtime", "lambdas", "adapters"))
    offenders = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if _within(module, f"{BACKEND}.handlers") or module in (f"{BACKEND}.ports", f"{BACKEND}.settings")
        for target in targets
        if any(_within(target, name) for name in forbidden)
    )
    assert offenders == [], "\n".join(offenders)


def test_core_imports_nothing_of_ours_outside_core(graph: Graph) -> None:
    offenders = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if _within(module, f"{BACKEND}.core")
        for target in targets
        if not _within(target, f"{BACKEND}.core")
    )
    assert offenders == [], "\n".join(offenders)


def environment_reads(source: str) -> list[int]:
    """Lines of ``source`` that read the process environment (``os.environ``, ``os.getenv``)."""
    return sorted(
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
        and node.attr in ("environ", "getenv", "environb")
    )


def test_core_reads_no_environment() -> None:
    # Every LOGPIPE_* variable is read in settings.py (docs/architecture.md); core holds only the defaults.
    core = PACKAGES[BACKEND] / BACKEND / "core"
    offenders = [
        f"{path.relative_to(REPO)}:{line}"
        for path in sorted(core.rglob("*.py"))
        for line in environment_reads(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], offenders


def test_an_environment_read_is_found() -> None:
    assert environment_reads("import os\nx = 1\ny = os.environ.get('A')\nz = os.getenv('B')\n") == [3, 4]
    assert environment_reads("import os\nos.urandom(8)\n") == []


def test_the_sdk_imports_neither_the_cli_nor_the_backend(graph: Graph) -> None:
    offenders = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if _within(module, "logpipe")
        for target in targets
        if not _within(target, "logpipe")
    )
    assert offenders == [], "\n".join(offenders)


def test_the_launcher_is_not_in_the_product_package() -> None:
    assert (REPO / "tests" / "harness" / "launcher.py").is_file()
    product = [p for root in PACKAGES.values() for p in root.rglob("*.py")]
    launchers = [p for p in product if p.name == "launcher.py" or "class ServeProcess" in p.read_text()]
    assert launchers == [], launchers


def _line_counts() -> dict[str, int]:
    return {
        path.relative_to(REPO).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for root in PACKAGES.values()
        for path in root.rglob("*.py")
    }


def test_no_product_module_over_the_line_limit() -> None:
    counts = _line_counts()
    over = sorted(f"{path}: {n} lines" for path, n in counts.items() if n > MAX_LINES)
    assert over == [], f"split these along a real seam (at most {MAX_LINES} lines):\n" + "\n".join(over)


# --- the checks themselves can fail ---


def test_a_lazy_import_cycle_is_found() -> None:
    graph = {
        "logpipe_backend.handlers.ingest": frozenset({"logpipe_backend.ports"}),
        "logpipe_backend.ports": frozenset(),
        "logpipe_backend.wiring.ingest": frozenset({"logpipe_backend.handlers.ingest"}),
    }
    assert find_cycle(graph) is None
    tree = ast.parse("def handler(e, c):\n    from logpipe_backend.wiring import ingest as wiring\n")
    names = set(_imported_names("logpipe_backend.handlers.ingest", False, tree))
    assert "logpipe_backend.wiring.ingest" in names  # a function-level import counts
    graph = {**graph, "logpipe_backend.handlers.ingest": frozenset({"logpipe_backend.wiring.ingest"})}
    assert find_cycle(graph) == [
        "logpipe_backend.handlers.ingest",
        "logpipe_backend.wiring.ingest",
        "logpipe_backend.handlers.ingest",
    ]


def test_relative_imports_resolve() -> None:
    tree = ast.parse("from . import queue\nfrom ..core import codec\n")
    names = set(_imported_names("logpipe_backend.adapters.sqlite.store", False, tree))
    assert {"logpipe_backend.adapters.sqlite.queue", "logpipe_backend.adapters.core.codec"} <= names
