#!/usr/bin/env python3
"""Build one reproducible zip per Lambda: ``build/lambda/{ingest,worker,admin}.zip``.

Each zip holds the ``logpipe_backend`` modules its handler can import, found by reading the imports of the
source (``ast``, nothing is executed), and the third-party distributions of ``BUNDLED`` (the optional fast
paths the benchmarks measure: orjson, google-re2, isal), built for the functions' CPU architecture and
Python version; nothing else: no tests, no CLI, no SDK, no ``__pycache__``. boto3/botocore come with the
Lambda Python runtime. Any other third-party import reachable from a handler is an error, since it would
fail on Lambda — unless it is optional: inside the ``try:`` of a ``try``/``except ImportError`` (or
``ModuleNotFoundError``), whose handler is the fallback, as ``core/codec.py`` does for orjson, RE2 and
isal. Bundled distributions must be optional in that sense too: the code must also run without them.

What "can import" means: every ``import`` of the package, at module level or inside a function (the
wiring builds the dependencies lazily), except those under ``if TYPE_CHECKING:``. Subpackages listed in
``LAMBDA_EXCLUDED`` (the local stack: SQLite adapters, runtime, local wiring) are left out unless some
module imports them at module level, in which case leaving them out would break the import and they are
kept (with a warning).

The bundled wheels: ``pip download`` of the versions pinned in ``infra/lambda-requirements.txt`` (with their
dependencies, which must be pinned there too) for CPython ``PYTHON_VERSION`` on manylinux up to glibc
``GLIBC_MINOR`` (Amazon Linux 2023, which runs Lambda's python3.13), binary only, cached under
``build/wheels/`` (a second build needs no network), then ``pip install --target`` from that cache.

Reproducible: entries sorted, every timestamp 1980-01-01, permissions 0644, fixed compression, so the same
sources and pins give the same bytes (and Terraform's ``source_code_hash`` changes only when they do).
Each zip is checked against Lambda's limits (50 MB zipped, 250 MB unzipped).

Usage: ``python infra/package_lambdas.py [--out build/lambda] [--architecture arm64|x86_64] [--src backend]``
(needs pip; ``make package`` runs it in the project's venv).
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "logpipe_backend"
FUNCTIONS = {
    "ingest": f"{PACKAGE}.lambdas.ingest",
    "worker": f"{PACKAGE}.lambdas.worker",
    "admin": f"{PACKAGE}.lambdas.admin",
    "tenant_read": f"{PACKAGE}.lambdas.tenant_read",
}
# The local stack only: the SQLite adapters, the local runtime and the wiring that builds them.
LAMBDA_EXCLUDED = (f"{PACKAGE}.adapters.sqlite", f"{PACKAGE}.runtime", f"{PACKAGE}.wiring.local")
# Provided by the Lambda Python runtime.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"})
# Imported by the ingest function's OTLP and Loki doors (issue 14): shipped as wheels with that function
# (opentelemetry-proto + protobuf, cramjam), not by the Lambda runtime.
BUNDLED_WHEELS = frozenset({"opentelemetry", "google", "cramjam"})
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--
COMPRESS_LEVEL = 9

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SRC = REPO_ROOT / "backend"
DEFAULT_OUT = REPO_ROOT / "build" / "lambda"

# The optional fast paths, and which function bundles which third-party distributions (their dependencies
# come along; pin every one in REQUIREMENTS). Adding one is a line here and its pin there.
SPEEDUPS = ("orjson", "google-re2", "isal")
BUNDLED: dict[str, tuple[str, ...]] = {
    # The OTLP door decodes with opentelemetry-proto's classes (protobuf's C parser); Loki's with cramjam's
    # snappy (issue 14). Not optional: the ingest function's doors import them.
    "ingest": (*SPEEDUPS, "opentelemetry-proto", "protobuf", "cramjam"),
    "worker": SPEEDUPS,
    "admin": SPEEDUPS,
    "tenant_read": SPEEDUPS,  # the same reads as admin: google-re2 runs their regex filters
}
REQUIREMENTS = REPO_ROOT / "infra" / "lambda-requirements.txt"
WHEEL_CACHE = REPO_ROOT / "build" / "wheels"
# infra/terraform/variables.tf: lambda_runtime (python3.13) and lambda_architecture (arm64 by default).
PYTHON_VERSION = "3.13"
GLIBC_MINOR = 34  # Amazon Linux 2023's glibc: the newest manylinux tag the runtime can load
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}  # Lambda's architecture name -> the wheels' one
DEFAULT_ARCHITECTURE = "arm64"
# Lambda's deployment package limits (Lambda quotas): the zip uploaded directly, and its contents unzipped.
MAX_ZIPPED_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024


class PackagingError(Exception):
    pass


@dataclass
class ModuleImports:
    module_level: set[str] = field(default_factory=set)  # needed when the module is imported
    lazy: set[str] = field(default_factory=set)  # imported inside a function body
    third_party: set[str] = field(default_factory=set)  # top-level names of non-package imports


def module_path(src: Path, module: str) -> Path | None:
    """The file of ``module`` under ``src`` (a module file or a package's ``__init__.py``), if any."""
    base = src.joinpath(*module.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve_from(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    if node.level > 1:
        base = base[: -(node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError"})


def _guards_import(node: ast.Try) -> bool:
    """Whether a ``try`` statement has a handler for ImportError (so an import in its body is optional)."""
    for handler in node.handlers:
        caught = handler.type
        names = caught.elts if isinstance(caught, ast.Tuple) else [caught] if caught is not None else []
        if any(isinstance(name, ast.Name) and name.id in _IMPORT_ERRORS for name in names):
            return True
    return False


def read_imports(src: Path, module: str) -> ModuleImports:
    path = module_path(src, module)
    if path is None:
        raise PackagingError(f"no source for {module}")
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found = ModuleImports()

    def add(name: str, lazy: bool, optional: bool) -> None:
        top = name.split(".")[0]
        if top == PACKAGE:
            (found.lazy if lazy else found.module_level).add(name)
        elif top and top not in sys.stdlib_module_names and top != "__future__" and not optional:
            found.third_party.add(top)

    def visit(node: ast.AST, lazy: bool, optional: bool) -> None:
        for child in ast.iter_child_nodes(node):
            visit_stmt(child, lazy, optional)

    def visit_stmt(child: ast.AST, lazy: bool, optional: bool) -> None:
        if isinstance(child, ast.Import):
            for alias in child.names:
                add(alias.name, lazy, optional)
        elif isinstance(child, ast.ImportFrom):
            target = _resolve_from(module, is_package, child)
            add(target, lazy, optional)
            for alias in child.names:
                # `from pkg import name` may name a submodule.
                if target.split(".")[0] == PACKAGE and module_path(src, f"{target}.{alias.name}"):
                    add(f"{target}.{alias.name}", lazy, optional)
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            visit(child, True, optional)
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for sub in child.orelse:
                visit_stmt(sub, lazy, optional)
        elif isinstance(child, ast.Try) and _guards_import(child):
            # A third-party import in the try body may fail: the ImportError handler is the Lambda path.
            # Only the body is optional; the handlers, else and finally run as any other code.
            for sub in child.body:
                visit_stmt(sub, lazy, True)
            for part in (*child.handlers, *child.orelse, *child.finalbody):
                visit_stmt(part, lazy, optional)
        else:
            visit(child, lazy, optional)

    visit(tree, False, False)
    return found


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def closure(
    src: Path, roots: Iterable[str], *, lazy: bool, follow_excluded: bool = True
) -> tuple[set[str], set[str]]:
    """Modules reachable from ``roots`` (with their parent packages) and the third-party names they import.

    With ``follow_excluded=False`` a local-only module is recorded but its own imports are not followed: what
    only the local stack imports must not be pulled into a Lambda zip through it.
    """
    seen: set[str] = set()
    third_party: set[str] = set()
    todo = [m for root in roots for m in _with_parents(root)]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        if module_path(src, module) is None:
            raise PackagingError(f"{module} is imported but has no source under {src}")
        seen.add(module)
        if not follow_excluded and _excluded(module):
            continue
        imports = read_imports(src, module)
        third_party |= imports.third_party
        targets = imports.module_level | (imports.lazy if lazy else set())
        for target in targets:
            # A target without source raises when popped: an import that would fail on Lambda too.
            todo.extend(name for name in _with_parents(target) if name not in seen)
    return seen, third_party


def _excluded(module: str) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in LAMBDA_EXCLUDED)


def modules_for(src: Path, handler_module: str) -> tuple[list[str], list[str]]:
    """(modules to ship, warnings) for one function."""
    eager, _ = closure(src, [handler_module], lazy=False)
    everything, third_party = closure(src, [handler_module], lazy=True, follow_excluded=False)
    foreign = sorted(third_party - RUNTIME_PROVIDED - BUNDLED_WHEELS)
    if foreign:
        raise PackagingError(
            f"{handler_module} can import {foreign}, which the Lambda runtime does not provide"
        )
    keep = {module for module in everything if not _excluded(module) or module in eager}
    # Keep whatever the kept modules need at import time (and every parent package): leaving out a module
    # that is imported at module level would make the import fail on Lambda.
    needed, _ = closure(src, sorted(keep), lazy=False)
    keep |= needed
    warnings = [
        f"{module} ships although only the local stack uses it: a kept module imports it at module level"
        for module in sorted(keep)
        if _excluded(module)
    ]
    return sorted(keep), warnings


def read_pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    """{normalized distribution name: version} of a file of ``name==version`` lines (and comments)."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)", line)
        if match is None:
            raise PackagingError(f"{path}:{number}: expected name==version, not {line!r}")
        pins[normalize(match[1])] = match[2]
    return pins


def normalize(name: str) -> str:
    """A distribution's name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip_target_args(architecture: str) -> list[str]:
    machine = MACHINES[architecture]
    # Every manylinux tag the runtime's glibc accepts, newest first, as pip on that machine would: google-re2
    # publishes manylinux_2_28 wheels only, orjson manylinux2014 (2_17) ones.
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in range(GLIBC_MINOR, 16, -1)]
    return [
        "--only-binary=:all:",
        "--implementation=cp",
        f"--python-version={PYTHON_VERSION}",
        *(f"--platform={platform}" for platform in [*platforms, f"manylinux2014_{machine}"]),
    ]


def _pip(args: list[str]) -> subprocess.CompletedProcess[str]:
    # --isolated: no user or site pip configuration (extra indexes, find-links) can change what is bundled.
    command = [sys.executable, "-m", "pip", "--isolated", "--disable-pip-version-check", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def install_bundle(
    distributions: tuple[str, ...], architecture: str, target: Path, cache: Path = WHEEL_CACHE
) -> None:
    """Install ``distributions`` (pinned, with their dependencies) for ``architecture`` into ``target``,
    from the wheel cache; what the cache lacks is downloaded into it first."""
    pins = read_pins()
    missing = [d for d in distributions if normalize(d) not in pins]
    if missing:
        raise PackagingError(f"pin {missing} in {REQUIREMENTS.name}")
    wheels = cache / f"cp{PYTHON_VERSION.replace('.', '')}-{architecture}"
    wanted = [f"{d}=={pins[normalize(d)]}" for d in distributions]
    common = [*_pip_target_args(architecture), f"--constraint={REQUIREMENTS}", *wanted]
    install = ["install", "--no-compile", "--no-index", f"--find-links={wheels}", f"--target={target}"]
    if _pip([*install, *common]).returncode != 0:  # not all in the cache yet
        fetched = _pip(["download", f"--dest={wheels}", *common])
        if fetched.returncode != 0:
            raise PackagingError(f"pip download failed:\n{fetched.stderr[-3000:]}")
        installed = _pip([*install, *common])
        if installed.returncode != 0:
            raise PackagingError(f"pip install from {wheels} failed:\n{installed.stderr[-3000:]}")
    for info in target.glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").rpartition("-")
        if pins.get(normalize(name)) != version:
            raise PackagingError(f"{name} {version} is bundled but not pinned in {REQUIREMENTS.name}")


def _bundle_files(root: Path) -> dict[str, bytes]:
    """The installed files to ship, by their name in the zip: no bytecode, no scripts."""
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if (
            path.is_file()
            and "__pycache__" not in rel
            and not rel.endswith(".pyc")
            and not rel.startswith("bin/")
        ):
            files[rel] = path.read_bytes()
    return files


def write_zip(src: Path, modules: Iterable[str], target: Path, extra: dict[str, bytes] | None = None) -> int:
    """The modules' sources and ``extra`` files (name in the zip -> bytes) in one reproducible zip."""
    files = {
        path.relative_to(src).as_posix(): path.read_bytes()
        for path in (module_path(src, m) for m in modules)
        if path is not None
    }
    clash = files.keys() & (extra or {}).keys()
    if clash:
        raise PackagingError(f"bundled files would replace our own: {sorted(clash)}")
    files.update(extra or {})
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # unix, so the mode above is read the same everywhere
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(
                info, files[name], compress_type=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
            )
    check_limits(tmp)
    tmp.replace(target)
    return len(files)


def check_limits(path: Path) -> None:
    """Lambda refuses a zip over 50 MB, or whose contents unzipped pass 250 MB."""
    with zipfile.ZipFile(path) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    if path.stat().st_size > MAX_ZIPPED_BYTES or unzipped > MAX_UNZIPPED_BYTES:
        raise PackagingError(
            f"{path.name}: {path.stat().st_size} bytes zipped, {unzipped} unzipped: past Lambda's limits"
        )


def build(
    src: Path = DEFAULT_SRC,
    out: Path = DEFAULT_OUT,
    *,
    architecture: str = DEFAULT_ARCHITECTURE,
    cache: Path = WHEEL_CACHE,
    quiet: bool = False,
) -> dict[str, Path]:
    if architecture not in MACHINES:
        raise PackagingError(f"architecture must be one of {sorted(MACHINES)}, not {architecture!r}")
    built: dict[str, Path] = {}
    bundles: dict[tuple[str, ...], dict[str, bytes]] = {}
    for name, handler_module in FUNCTIONS.items():
        modules, warnings = modules_for(src, handler_module)
        wanted = BUNDLED.get(name, ())
        if wanted not in bundles:
            with tempfile.TemporaryDirectory(prefix="lambda-bundle-") as tmp:
                install_bundle(wanted, architecture, Path(tmp), cache)
                bundles[wanted] = _bundle_files(Path(tmp))
        target = out / f"{name}.zip"
        count = write_zip(src, modules, target, bundles[wanted])
        built[name] = target
        if not quiet:
            for warning in warnings:
                print(f"warning: {name}: {warning}", file=sys.stderr)
            print(f"{target} ({architecture}): {count} files, {target.stat().st_size} bytes")
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC, help="directory holding logpipe_backend/")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the zips go")
    parser.add_argument(
        "--architecture", choices=sorted(MACHINES), default=DEFAULT_ARCHITECTURE, help="Lambda's CPU"
    )
    parser.add_argument("--wheel-cache", type=Path, default=WHEEL_CACHE, help="downloaded wheels")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        build(args.src, args.out, architecture=args.architecture, cache=args.wheel_cache, quiet=args.quiet)
    except PackagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
