"""`make package` (infra/package_lambdas.py): one reproducible zip per Lambda that runs on its own, with the
native fast paths (orjson, google-re2, isal) built for the functions' architecture, and without them."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest
from infra_tf import REPO, TfModel, package_lambdas

SRC = package_lambdas.DEFAULT_SRC
MAX_CODE_BYTES = 200_000  # "small": our own code is ~40 files of Python; the rest is the bundled wheels
ARCHITECTURES = sorted(package_lambdas.MACHINES)
# ELF e_machine (System V ABI): what each Lambda architecture's native modules must be built for.
E_MACHINE = {"arm64": 183, "x86_64": 62}  # EM_AARCH64, EM_X86_64
FUNCTION_NAMES = ["ingest", "worker", "admin", "tenant_read"]


@pytest.fixture(scope="module")
def built_all(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    """The zips for each architecture, built once for the module. The wheels come from PyPI the first time
    (into build/wheels/, the packager's cache; later builds are offline): without PyPI this fails."""
    zips: dict[str, dict[str, Path]] = {}
    for architecture in ARCHITECTURES:
        out = tmp_path_factory.mktemp(f"lambda-{architecture}")
        assert package_lambdas.main(["--out", str(out), "--architecture", architecture, "--quiet"]) == 0
        zips[architecture] = {name: out / f"{name}.zip" for name in package_lambdas.FUNCTIONS}
    return zips


@pytest.fixture(scope="module")
def built(built_all: dict[str, dict[str, Path]]) -> dict[str, Path]:
    """The zips of the default architecture (what `make package` builds)."""
    return built_all[package_lambdas.DEFAULT_ARCHITECTURE]


def test_one_zip_per_function_within_lambda_s_limits(built_all: dict[str, dict[str, Path]]) -> None:
    for zips in built_all.values():
        assert set(zips) == set(FUNCTION_NAMES)
        for path in zips.values():
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
            code = sum(i.compress_size for i in infos if i.filename.startswith("logpipe_backend/"))
            assert code < MAX_CODE_BYTES
            assert path.stat().st_size <= 50 * 1024 * 1024  # Lambda: a zip uploaded directly
            assert sum(i.file_size for i in infos) <= 250 * 1024 * 1024  # Lambda: unzipped


def test_the_packager_refuses_a_zip_past_lambda_s_limits(
    built: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    package_lambdas.check_limits(built["ingest"])
    monkeypatch.setattr(package_lambdas, "MAX_UNZIPPED_BYTES", 1_000)
    with pytest.raises(package_lambdas.PackagingError, match="Lambda's limits"):
        package_lambdas.check_limits(built["ingest"])
    monkeypatch.undo()
    monkeypatch.setattr(package_lambdas, "MAX_ZIPPED_BYTES", 1_000)
    with pytest.raises(package_lambdas.PackagingError, match="Lambda's limits"):
        package_lambdas.check_limits(built["ingest"])


def test_same_input_same_bytes(built: dict[str, Path], tmp_path: Path) -> None:
    # Another copy of the sources, with other timestamps and permissions: the zips must not change.
    src = tmp_path / "src"
    shutil.copytree(
        SRC / "logpipe_backend", src / "logpipe_backend", ignore=shutil.ignore_patterns("__pycache__")
    )
    for i, path in enumerate(sorted(src.rglob("*.py"))):
        os.utime(path, (1_700_000_000 + i * 3_600, 1_700_000_000 + i * 3_600))
        path.chmod(0o600 if i % 2 else 0o755)
    (src / "logpipe_backend" / "__pycache__").mkdir(exist_ok=True)
    (src / "logpipe_backend" / "__pycache__" / "stale.cpython-311.pyc").write_bytes(b"junk")
    again = package_lambdas.build(src, tmp_path / "out", quiet=True)
    for name, path in built.items():
        assert again[name].read_bytes() == path.read_bytes(), f"{name}.zip is not reproducible"


def test_a_source_change_changes_the_zip(built: dict[str, Path], tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(
        SRC / "logpipe_backend", src / "logpipe_backend", ignore=shutil.ignore_patterns("__pycache__")
    )
    ports = src / "logpipe_backend" / "ports.py"
    ports.write_text(ports.read_text() + "\n# changed\n")
    again = package_lambdas.build(src, tmp_path / "out", quiet=True)
    assert again["ingest"].read_bytes() != built["ingest"].read_bytes()


def _dist_info(path: str) -> tuple[str, str]:
    """(normalized name, version) of the distribution whose ``<name>-<version>.dist-info/…`` this is."""
    name, _, version = path.split("/")[0].removesuffix(".dist-info").rpartition("-")
    return package_lambdas.normalize(name), version


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_zip_holds_the_backend_modules_it_imports_and_its_bundled_distributions(
    built: dict[str, Path], name: str
) -> None:
    with zipfile.ZipFile(built[name]) as archive:
        infos = archive.infolist()
        records = {
            i.filename: archive.read(i).decode() for i in infos if i.filename.endswith(".dist-info/RECORD")
        }
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert f"logpipe_backend/lambdas/{name}.py" in names
    assert f"logpipe_backend/handlers/{name}.py" in names
    assert "logpipe_backend/wiring/aws.py" in names  # imported lazily by wiring: must still ship
    for info in infos:
        assert "__pycache__" not in info.filename and not info.filename.endswith(".pyc")
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
    ours = [n for n in names if n.startswith("logpipe_backend/")]
    assert all(n.endswith(".py") for n in ours)
    modules, _ = package_lambdas.modules_for(SRC, package_lambdas.FUNCTIONS[name])
    expected = {str(package_lambdas.module_path(SRC, m).relative_to(SRC).as_posix()) for m in modules}
    assert set(ours) == expected
    on_disk = {p.relative_to(SRC).as_posix() for p in (SRC / "logpipe_backend").rglob("*.py")}
    assert set(ours) <= on_disk
    # Only what this function runs: no other handler, no other function's wiring, no local stack.
    for other in set(FUNCTION_NAMES) - {name}:
        assert f"logpipe_backend/handlers/{other}.py" not in names
        assert f"logpipe_backend/lambdas/{other}.py" not in names
        assert f"logpipe_backend/wiring/{other}.py" not in names
    local_only = (
        "logpipe_backend/adapters/sqlite/",
        "logpipe_backend/runtime/",
        "logpipe_backend/wiring/local",
    )
    assert not [n for n in names if n.startswith(local_only)]
    # Everything else is a bundled distribution's, each pinned: exactly BUNDLED's, at the pinned versions.
    pins = package_lambdas.read_pins()
    shipped = dict(map(_dist_info, records))
    assert set(shipped) == {package_lambdas.normalize(d) for d in package_lambdas.BUNDLED[name]}
    assert all(pins[dist] == version for dist, version in shipped.items())
    listed = {line.split(",", 1)[0] for text in records.values() for line in text.splitlines() if line}
    assert set(names) - set(ours) <= listed  # every other file is one a distribution installed


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_native_modules_are_built_for_the_functions_architecture(
    built_all: dict[str, dict[str, Path]], architecture: str
) -> None:
    machine = package_lambdas.MACHINES[architecture]
    for path in built_all[architecture].values():
        with zipfile.ZipFile(path) as archive:
            natives = {i.filename: archive.read(i) for i in archive.infolist() if i.filename.endswith(".so")}
            wheels = [archive.read(n).decode() for n in archive.namelist() if n.endswith(".dist-info/WHEEL")]
        # orjson, re2 and isal are native: each brings at least one shared object.
        assert {n.split("/")[0] for n in natives} >= {"orjson", "re2", "isal"}
        for filename, data in natives.items():
            assert data[:4] == b"\x7fELF", filename
            assert data[4] == 2 and data[5] == 1, filename  # ELFCLASS64, little-endian
            (e_machine,) = struct.unpack_from("<H", data, 18)
            assert e_machine == E_MACHINE[architecture], (filename, e_machine)
            # A stable-ABI module (protobuf's upb: abi3) names no interpreter; its ELF header above and the
            # wheel tags below say what it was built for.
            assert filename.endswith((f"cpython-313-{machine}-linux-gnu.so", ".abi3.so")), filename
        tags = [
            line.split(":", 1)[1].strip()
            for text in wheels
            for line in text.splitlines()
            if line.startswith("Tag:")
        ]
        assert tags
        for tag in tags:
            python, abi, platform = tag.split("-")
            if tag == "py3-none-any":  # pure Python (opentelemetry-proto): runs anywhere
                continue
            # CPython 3.13's own ABI, or the stable ABI (abi3) of an older CPython 3, which 3.13 loads.
            assert (python, abi) == ("cp313", "cp313") or (python.startswith("cp3") and abi == "abi3"), tag
            assert platform.startswith(("manylinux_2_", "manylinux2014_")) and platform.endswith(machine), tag


def test_the_packager_builds_for_the_terraform_runtime_and_architecture() -> None:
    tf = TfModel()
    assert tf.var("lambda_runtime") == f"python{package_lambdas.PYTHON_VERSION}"
    assert tf.var("lambda_architecture") == package_lambdas.DEFAULT_ARCHITECTURE
    assert set(package_lambdas.BUNDLED) == set(package_lambdas.FUNCTIONS)


def test_an_unpinned_distribution_is_refused(tmp_path: Path) -> None:
    with pytest.raises(package_lambdas.PackagingError, match="pin"):
        package_lambdas.install_bundle(("left-pad",), "arm64", tmp_path / "t", tmp_path / "cache")
    bad = tmp_path / "req.txt"
    bad.write_text("orjson>=3\n")
    with pytest.raises(package_lambdas.PackagingError, match="name==version"):
        package_lambdas.read_pins(bad)


# --- the packager's rules, on small synthetic trees ---


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


BASE = {
    "logpipe_backend/__init__.py": "",
    "logpipe_backend/handlers/__init__.py": "",
    "logpipe_backend/adapters/__init__.py": "",
    "logpipe_backend/adapters/sqlite/__init__.py": "",
    "logpipe_backend/adapters/sqlite/store.py": "import sqlite3\n",
    "logpipe_backend/adapters/aws/__init__.py": "",
    "logpipe_backend/adapters/aws/store.py": "import boto3\n",
    "logpipe_backend/unused.py": "",
}


def test_lazy_local_imports_are_left_out_and_eager_ones_kept_with_a_warning(tmp_path: Path) -> None:
    lazy = _tree(
        tmp_path / "lazy",
        {
            **BASE,
            "logpipe_backend/handlers/ingest.py": """
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from logpipe_backend import unused
                def handler(event, context):
                    from logpipe_backend.adapters.aws import store
                    from logpipe_backend.adapters.sqlite import store as local_store
            """,
        },
    )
    modules, warnings = package_lambdas.modules_for(lazy, "logpipe_backend.handlers.ingest")
    assert "logpipe_backend.adapters.aws.store" in modules
    assert "logpipe_backend.adapters.sqlite.store" not in modules
    assert "logpipe_backend.unused" not in modules  # type-checking imports do not ship
    assert warnings == []
    eager = _tree(
        tmp_path / "eager",
        {**BASE, "logpipe_backend/handlers/ingest.py": "from logpipe_backend.adapters.sqlite import store\n"},
    )
    modules, warnings = package_lambdas.modules_for(eager, "logpipe_backend.handlers.ingest")
    assert "logpipe_backend.adapters.sqlite.store" in modules
    assert any("adapters.sqlite.store" in w for w in warnings)


def test_a_third_party_import_the_runtime_lacks_is_an_error(tmp_path: Path) -> None:
    src = _tree(
        tmp_path, {**BASE, "logpipe_backend/handlers/ingest.py": "def handler(e, c):\n    import httpx\n"}
    )
    with pytest.raises(package_lambdas.PackagingError, match="httpx"):
        package_lambdas.modules_for(src, "logpipe_backend.handlers.ingest")


@pytest.mark.parametrize(
    "guard", ["except ImportError:", "except ModuleNotFoundError:", "except (ValueError, ImportError):"]
)
def test_a_third_party_import_guarded_by_except_import_error_is_accepted(tmp_path: Path, guard: str) -> None:
    src = _tree(
        tmp_path,
        {
            **BASE,
            "logpipe_backend/handlers/ingest.py": f"""
                try:
                    import orjson
                    from fastjson import loads
                {guard}
                    orjson = None
                def handler(e, c):
                    try:
                        import httpx
                    {guard}
                        httpx = None
            """,
        },
    )
    modules, _ = package_lambdas.modules_for(src, "logpipe_backend.handlers.ingest")
    assert "logpipe_backend.handlers.ingest" in modules


@pytest.mark.parametrize(
    "code",
    [
        "import orjson\n",  # unguarded
        "try:\n    import orjson\nexcept ValueError:\n    pass\n",  # guarded, but not by ImportError
        "try:\n    import json\nexcept ImportError:\n    import orjson\n",  # in the handler: not optional
        "try:\n    pass\nexcept ImportError:\n    pass\nelse:\n    import orjson\n",  # else: not optional
    ],
)
def test_an_unguarded_third_party_import_is_still_an_error(tmp_path: Path, code: str) -> None:
    src = _tree(tmp_path, {**BASE, "logpipe_backend/handlers/ingest.py": code})
    with pytest.raises(package_lambdas.PackagingError, match="orjson"):
        package_lambdas.modules_for(src, "logpipe_backend.handlers.ingest")


def test_an_import_without_source_is_an_error(tmp_path: Path) -> None:
    src = _tree(
        tmp_path, {**BASE, "logpipe_backend/handlers/ingest.py": "from logpipe_backend.gone import thing\n"}
    )
    with pytest.raises(package_lambdas.PackagingError, match="gone"):
        package_lambdas.modules_for(src, "logpipe_backend.handlers.ingest")


# --- each zip runs on its own ---

# Runs in a fresh interpreter with only the zip and the third-party packages on the path (no `site`, so
# the editable install of this repository is not visible): what Lambda has, plus moto standing in for AWS.
RUNNER = textwrap.dedent(
    """
    import json, os, sys
    zip_path, name = sys.argv[1], sys.argv[2]
    # Not in the Lambda runtime: importing them raises ImportError.
    sys.modules["orjson"] = sys.modules["re2"] = sys.modules["isal"] = None
    import boto3
    from moto import mock_aws

    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        ddb.create_table(TableName="logs", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "tenant_id", "KeyType": "HASH"},
                       {"AttributeName": "log_id", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "tenant_id", "AttributeType": "S"},
                                  {"AttributeName": "log_id", "AttributeType": "S"}])
        for t in ("tenants", "idem"):
            ddb.create_table(TableName=t, BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        os.environ.update({"LOGPIPE_QUEUE_URL": url, "LOGPIPE_TABLE_NAME": "logs",
            "LOGPIPE_TENANTS_TABLE_NAME": "tenants", "LOGPIPE_IDEMPOTENCY_TABLE_NAME": "idem"})
        import importlib
        module = importlib.import_module(f"logpipe_backend.lambdas.{name}")
        assert module.__file__.startswith(zip_path), module.__file__
        record = {"tenant_id": "acme", "log_id": "01KAZ479SV65DH4C98VGTRN853",
                  "timestamp": "2026-11-26T03:44:56.123Z", "received_at": "2026-11-26T03:44:56.123Z",
                  "level": "info", "message": "hi", "attributes": {}, "source": "json", "redactions": 0}
        if name == "ingest":
            from logpipe_backend.adapters.aws.tenants import DynamoKeyStore
            key = DynamoKeyStore(ddb, "tenants").create_tenant("acme")
            event = {"version": "2.0", "headers": {"authorization": "Bearer " + key,
                     "content-type": "application/json"},
                     "requestContext": {"http": {"method": "POST", "path": "/ingest"}, "requestId": "r"},
                     "body": json.dumps({"message": "hi"}), "isBase64Encoded": False}
            response = module.handler(event, None)
            assert response["statusCode"] == 202, response
            assert sqs.receive_message(QueueUrl=url)["Messages"]
        elif name == "worker":
            from logpipe_backend.core.envelope import pack
            body = pack("acme", [json.dumps(record).encode()])[0]
            class Ctx:
                def get_remaining_time_in_millis(self): return 60_000
            response = module.handler({"Records": [{"messageId": "m1", "body": body}]}, Ctx())
            assert response == {"batchItemFailures": []}, response
            assert ddb.scan(TableName="logs")["Count"] == 1
        elif name == "tenant_read":
            from logpipe_backend.adapters.aws.dynamodb import DynamoStore
            from logpipe_backend.adapters.aws.tenants import DynamoKeyStore
            keys = DynamoKeyStore(ddb, "tenants")
            keys.create_tenant("acme")
            key = keys.create_key("acme", frozenset({"read"}))
            DynamoStore(ddb, "logs").put_records([record])
            event = {"version": "2.0", "headers": {"authorization": "Bearer " + key},
                     "requestContext": {"http": {"method": "GET", "path": "/logs"}}}
            response = module.handler(event, None)
            assert response["statusCode"] == 200, response
            assert json.loads(response["body"])["items"][0]["message"] == "hi"
        else:
            from logpipe_backend.adapters.aws.dynamodb import DynamoStore
            DynamoStore(ddb, "logs").put_records([record])
            event = {"version": "2.0", "headers": {}, "queryStringParameters": {"tenant": "acme"},
                     "requestContext": {"http": {"method": "GET", "path": "/admin/logs"},
                                        "authorizer": {"iam": {"userArn": "arn:aws:iam::1:user/op"}}}}
            response = module.handler(event, None)
            assert response["statusCode"] == 200, response
            assert json.loads(response["body"])["items"][0]["message"] == "hi"
    loaded = sorted(m for m in sys.modules if m.startswith("logpipe_backend"))
    print(json.dumps(loaded))
    """
)


def _code_only(zip_path: Path, out: Path) -> Path:
    """The zip's own modules (logpipe_backend/) alone: its wheels are built for Lambda's CPython 3.13 and
    architecture, which this interpreter cannot load. The doors' protobuf and cramjam then come from this
    machine's site-packages; the fast paths are blocked by RUNNER, so their fallbacks run."""
    with zipfile.ZipFile(zip_path) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename.startswith("logpipe_backend/"):
                target.writestr(info, source.read(info))
    return out


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_each_zip_runs_its_handler_alone(built: dict[str, Path], name: str, tmp_path: Path) -> None:
    site_packages = sysconfig.get_paths()["purelib"]
    code = _code_only(built[name], tmp_path / f"{name}-code.zip")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(code), site_packages]),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "HOME": str(tmp_path),
    }
    script = tmp_path / "run.py"
    script.write_text(RUNNER)
    result = subprocess.run(
        [sys.executable, "-S", str(script), str(code), name],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "logpipe_backend.wiring.aws" in result.stdout
    assert str(REPO) not in result.stderr
