"""``logpipe tenants create T | create-key T | list | revoke T | set-retention T D | purge T`` (operator;
docs/contract.md §4).

``--backend local`` (default) acts on the data dir of ``logpipe serve``; ``--backend aws`` on the DynamoDB
tenants table named by ``LOGPIPE_TENANTS_TABLE_NAME``, with boto3's default credentials and region
(``AWS_ENDPOINT_URL`` honoured). Either way the key is printed once, alone on stdout, and only its hash kept.

A key has scopes (issue 15): ``ingest`` (send logs; what ``create`` gives, and what every key made before
scopes is) and ``read`` (read the tenant's own logs at ``GET /logs``). ``create-key`` adds a key to an
existing tenant: ``--read-only`` for a read key, ``--scopes ingest,read`` for one that does both.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import click

from logpipe_cli.commands._local import backend_option, data_dir_option, fail
from logpipe_cli.commands.purge import purge
from logpipe_cli.exit_codes import ExitCode

T = TypeVar("T")


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    status: str  # "active" | "revoked" | "purging" (a purge began and has not finished)
    created_at: str
    active_keys: int | None = None
    retention_s: int | None = None  # the tenant's own; None: the stack's default


class TenantOps(Protocol):
    def create(self, tenant_id: str) -> str: ...
    def create_key(self, tenant_id: str, scopes: frozenset[str]) -> str: ...
    def list(self) -> list[Tenant]: ...
    def revoke(self, tenant_id: str) -> None: ...
    def set_retention(self, tenant_id: str, retention_s: int | None) -> None: ...
    def close(self) -> None: ...


class _Refused(Exception):
    """An operation refused for a reason to print (exists, unknown, invalid)."""


def _ts(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


class _LocalOps:
    def __init__(self, data_dir: str | None) -> None:
        from logpipe_backend.adapters.sqlite.datadir import DataDir
        from logpipe_backend.adapters.sqlite.keystore import SqliteKeyStore

        directory = DataDir.resolve(data_dir)
        directory.create()
        self._keys = SqliteKeyStore(directory.tenants_db)

    def create(self, tenant_id: str) -> str:
        from logpipe_backend.adapters.sqlite.keystore import TenantError

        try:
            return self._keys.create_tenant(tenant_id)
        except TenantError as exc:
            raise _Refused(str(exc)) from exc

    def create_key(self, tenant_id: str, scopes: frozenset[str]) -> str:
        from logpipe_backend.adapters.sqlite.keystore import TenantError

        try:
            return self._keys.create_key(tenant_id, scopes)
        except TenantError as exc:
            raise _Refused(str(exc)) from exc

    def list(self) -> list[Tenant]:
        return [
            Tenant(
                t.tenant_id,
                "purging" if t.purge_started_ms else "revoked" if t.revoked_ms else "active",
                _ts(t.created_ms),
                t.active_keys,
                t.retention_s,
            )
            for t in self._keys.list_tenants()
        ]

    def set_retention(self, tenant_id: str, retention_s: int | None) -> None:
        from logpipe_backend.adapters.sqlite.keystore import TenantError

        try:
            self._keys.set_retention(tenant_id, retention_s)
        except TenantError as exc:
            raise _Refused(str(exc)) from exc

    def revoke(self, tenant_id: str) -> None:
        from logpipe_backend.adapters.sqlite.keystore import TenantError

        try:
            self._keys.revoke_tenant(tenant_id)
        except TenantError as exc:
            raise _Refused(str(exc)) from exc

    def close(self) -> None:
        self._keys.close()


class _AwsOps:
    def __init__(self) -> None:
        from logpipe_backend.wiring import aws as aws

        self._keys = aws.key_store_from_env()

    def create(self, tenant_id: str) -> str:
        from logpipe_backend.adapters.aws.tenants import TenantExists

        try:
            return self._keys.create_tenant(tenant_id)
        except TenantExists as exc:
            raise _Refused(f"tenant {tenant_id!r} already exists") from exc
        except ValueError as exc:
            raise _Refused(
                f"invalid tenant id {tenant_id!r}: use 2-63 lowercase letters, digits, '-' or '_'"
            ) from exc

    def create_key(self, tenant_id: str, scopes: frozenset[str]) -> str:
        from logpipe_backend.adapters.aws.tenants import TenantNotFound, TooManyKeys

        try:
            return self._keys.create_key(tenant_id, scopes)
        except TenantNotFound as exc:
            raise _Refused(f"no tenant {tenant_id!r}") from exc
        except TooManyKeys as exc:
            raise _Refused(str(exc)) from exc

    def list(self) -> list[Tenant]:
        return [
            Tenant(
                t.tenant_id,
                "purging" if t.purge_started_at else "active",
                t.created_at,
                t.keys,
                t.retention_s,
            )
            for t in self._keys.list_tenants()
        ]

    def set_retention(self, tenant_id: str, retention_s: int | None) -> None:
        if not self._keys.set_retention(tenant_id, retention_s):
            raise _Refused(f"no tenant {tenant_id!r}")

    def revoke(self, tenant_id: str) -> None:
        if not self._keys.revoke_tenant(tenant_id):
            raise _Refused(f"no tenant {tenant_id!r}")

    def close(self) -> None:
        pass


def _open(backend: str, data_dir: str | None) -> TenantOps:
    try:
        return _AwsOps() if backend == "aws" else _LocalOps(data_dir)
    except OSError as exc:
        fail(f"cannot use the data dir: {exc.strerror or exc}")
    except Exception as exc:  # AWS settings missing, no credentials…: one line, no traceback
        fail(f"cannot reach the {backend} tenants store: {exc}")


def _run(backend: str, data_dir: str | None, action: Callable[[TenantOps], T]) -> T:
    """Open the tenants store, do ``action`` on it and close it; a failure is one line and exit 1."""
    ops = _open(backend, data_dir)
    try:
        return action(ops)
    except _Refused as exc:
        fail(str(exc))
    except click.exceptions.Exit:
        raise
    except Exception as exc:  # e.g. botocore errors: one clear line, exit 1
        fail(f"{type(exc).__name__}: {exc}")
    finally:
        ops.close()


@click.group("tenants")
def command() -> None:
    """Create, list, revoke and purge tenants; set their retention (operator)."""


@command.command("create")
@click.argument("tenant")
@backend_option
@data_dir_option
def create(tenant: str, backend: str, data_dir: str | None) -> None:
    """Create TENANT and print its new key (alone, on stdout). Only the key's hash is kept."""
    click.echo(_run(backend, data_dir, lambda ops: ops.create(tenant)))


def _scopes(read_only: bool, scopes: str | None) -> frozenset[str]:
    from logpipe_backend.core.auth import SCOPE_READ, parse_scopes

    if read_only and scopes is not None:
        fail("--read-only and --scopes cannot be combined", ExitCode.USAGE)
    if read_only:
        return frozenset({SCOPE_READ})
    try:
        return parse_scopes(scopes)
    except ValueError as exc:
        fail(f"--scopes: {exc}", ExitCode.USAGE)


@command.command("create-key")
@click.argument("tenant")
@click.option("--read-only", is_flag=True, help="A read key: GET /logs of TENANT only; it cannot ingest.")
@click.option(
    "--scopes",
    default=None,
    metavar="ingest,read",
    help="What the key may do: ingest, read, or both (ingest,read). Default: ingest.",
)
@backend_option
@data_dir_option
def create_key(tenant: str, read_only: bool, scopes: str | None, backend: str, data_dir: str | None) -> None:
    """Add a key to TENANT and print it (alone, on stdout). Only the key's hash is kept."""
    wanted = _scopes(read_only, scopes)
    click.echo(_run(backend, data_dir, lambda ops: ops.create_key(tenant, wanted)))


@command.command("list")
@backend_option
@data_dir_option
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_(backend: str, data_dir: str | None, output: str) -> None:
    """List tenants: id, status, active keys, creation time, retention."""
    from logpipe_backend.core.retention import format_duration

    for t in _run(backend, data_dir, lambda ops: ops.list()):
        retention = format_duration(t.retention_s)
        if output == "json":
            row: dict[str, Any] = {"tenant_id": t.tenant_id, "status": t.status, "created_at": t.created_at}
            if t.active_keys is not None:
                row["active_keys"] = t.active_keys
            row["retention"] = retention
            row["retention_s"] = t.retention_s
            click.echo(json.dumps(row))
        else:
            keys = "" if t.active_keys is None else f"\tkeys={t.active_keys}"
            click.echo(f"{t.tenant_id}\t{t.status}{keys}\tcreated={t.created_at}\tretention={retention}")


@command.command("revoke")
@click.argument("tenant")
@backend_option
@data_dir_option
def revoke(tenant: str, backend: str, data_dir: str | None) -> None:
    """Revoke TENANT: its keys stop working; its stored logs are kept."""
    _run(backend, data_dir, lambda ops: ops.revoke(tenant))
    click.echo(f"revoked {tenant}", err=True)


@command.command("set-retention")
@click.argument("tenant")
@click.argument("duration")
@backend_option
@data_dir_option
def set_retention(tenant: str, duration: str, backend: str, data_dir: str | None) -> None:
    """Keep TENANT's records DURATION after receipt (90s, 12h, 30d, 1w; 0: forever; default: the stack's)."""
    from logpipe_backend.core.retention import format_duration, parse_duration

    try:
        seconds = None if duration.strip().lower() == "default" else parse_duration(duration)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    _run(backend, data_dir, lambda ops: ops.set_retention(tenant, seconds))
    click.echo(f"{tenant}: retention {format_duration(seconds)}", err=True)


command.add_command(purge)
