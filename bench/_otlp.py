"""The OTLP half of bench/throughput.py: the same records, as an OpenTelemetry exporter sends them.

Each input line becomes an OTLP LogRecord before the clock starts (an application holds its log records as
objects, as the /ingest run's records already exist as lines): a JSON line's ``ts``, ``level`` and ``msg``
become the time, severity and body, its other fields attributes; a text line's leading timestamp and level
become the time and severity, the rest the body. They are made inside the ``ExportLogsServiceRequest`` of
their batch of ``batch`` records (default ``BATCH``, the Collector's batch processor's), as an exporter builds
its messages: adding records made elsewhere to a request would copy each one, work no exporter does.
Timed: each request serialized (the wire encoding), gzipped and POSTed to /v1/logs, 4 requests in flight
as the SDK's run has, then the wait until every record is stored. The CPU of this process (the client)
while that lasts is reported, as the /ingest run reports the SDK's.

gzip: the SDK's own (``GZIPS["sdk"]``, the default: ``logpipe._codec.gzip`` at level 1, isal when installed),
the exact compressor of the /ingest run's client, so that both runs' clients pay alike for the same bytes
(they share the machine's cores with the server and the workers) and the ratio compares the doors; or the
standard library's at level 1 (``"stdlib"``), what an exporter without isal pays (docs/shippers.md).
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from _common import TENANT, Stack, read_lines
from logpipe._codec import gzip as sdk_gzip  # private: the exact compressor of the /ingest run's SDK
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

BATCH = 8192  # the Collector batch processor's default send_batch_size (the OTel SDKs' default is 512)
IN_FLIGHT = 4
GZIPS: dict[str, Callable[[bytes], bytes]] = {
    "sdk": lambda data: sdk_gzip(data, 1),
    "stdlib": lambda data: gzip.compress(data, compresslevel=1),
}
_SEVERITY = {"trace": 1, "debug": 5, "info": 9, "warn": 13, "error": 17, "fatal": 21}


def _ns(ts: str) -> int:
    """Epoch ns of ``2025-11-26T03:44:56.123Z``."""
    seconds = time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    return int(seconds) * 1_000_000_000 + int(ts[20:23]) * 1_000_000


def _value(v: Any) -> AnyValue:
    if isinstance(v, str):
        return AnyValue(string_value=v)
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    return AnyValue(double_value=float(v))


def add_log_record(scope_logs: Any, line: str) -> None:
    """The LogRecord of ``line`` added to ``scope_logs`` (a ScopeLogs)."""
    line = line.rstrip("\n")
    if line.startswith("{"):
        doc = json.loads(line)
        level = doc.pop("level")
        scope_logs.log_records.add(
            time_unix_nano=_ns(doc.pop("ts")),
            severity_number=_SEVERITY[level],
            severity_text=level.upper(),
            body=AnyValue(string_value=doc.pop("msg")),
            attributes=[KeyValue(key=k, value=_value(v)) for k, v in doc.items()],
        )
        return
    ts, level, rest = line.split(" ", 2)
    scope_logs.log_records.add(
        time_unix_nano=_ns(ts),
        severity_number=_SEVERITY[level.lower()],
        severity_text=level,
        body=AnyValue(string_value=rest),
    )


def requests(lines: Iterable[str], batch: int = BATCH) -> Iterator[Any]:
    """ExportLogsServiceRequests of ``batch`` records each (the last one fewer), in order."""
    request = None
    for line in lines:
        if request is None:
            request = ExportLogsServiceRequest()
            scope_logs = request.resource_logs.add().scope_logs.add()
        add_log_record(scope_logs, line)
        if len(scope_logs.log_records) == batch:
            yield request
            request = None
    if request is not None:
        yield request


def otlp_pipeline(
    path: Path,
    n: int,
    input_bytes: int,
    workers: int,
    timeout_s: float,
    batch: int = BATCH,
    gzip_name: str = "sdk",
) -> dict[str, Any]:
    batches = list(requests(read_lines(path), batch))
    compress = GZIPS[gzip_name]
    with Stack(workers=workers, env={"LOGPIPE_RATE_LIMIT_RECORDS_PER_S": "0"}) as stack:
        key = stack.create_tenant()
        local = threading.local()
        headers = {
            "authorization": f"Bearer {key}",
            "content-type": "application/x-protobuf",
            "content-encoding": "gzip",
        }

        def send(request: Any) -> int:
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = httpx.Client(timeout=60)
            body = compress(request.SerializeToString())
            response = client.post(f"{stack.url}/v1/logs", content=body, headers=headers)
            if response.status_code != 200 or response.content:  # a partial success has a body
                raise RuntimeError(f"OTLP export failed: {response.status_code} {response.content!r}")
            return sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)

        cpu_before = stack.cpu_seconds()
        self_before = time.process_time()
        started = time.perf_counter()
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            accepted = sum(pool.map(send, batches))
        sent = time.perf_counter()
        stored = stack.wait_all_stored(n, timeout_s, TENANT)
        elapsed = time.perf_counter() - started
        client_cpu = time.process_time() - self_before
        cpu_after = stack.cpu_seconds()
        health = stack.health()
    return {
        "seconds": elapsed,
        "send_seconds": sent - started,
        "records_per_s": n / elapsed,
        "mb_per_s": input_bytes / 1_000_000 / elapsed,
        "accepted": accepted,
        "requests": len(batches),
        "batch": batch,
        "gzip": gzip_name,
        "stored": stored,
        "dlq_depth": health["dlq_depth"],
        "workers": workers,
        "cpu_seconds": {
            "client (this process)": round(client_cpu, 2),
            "server": round(cpu_after["server"] - cpu_before["server"], 2),
            "workers": round(cpu_after["workers"] - cpu_before["workers"], 2),
        },
    }
