"""The whole pipeline end to end on this machine — what `make demo` runs.

1. start `logpipe serve` (HTTP server + 2 worker processes) on a free port with a throw-away data dir;
2. create a tenant with `logpipe tenants create` (the key is printed alone, only its hash is stored);
3. send the files in examples/logs/ — JSON, NDJSON (gzip-compressed on the way) and plain text, with
   secrets in them — to POST /ingest;
4. wait until the queue is drained, then read the records back from GET /admin/logs: normalized, and
   redacted by the workers;
5. stop the stack with SIGTERM (a graceful stop) and exit 0 — or 1, saying why, if anything was off.

Nothing outside a temporary directory is touched: the stack's data dir and the config profile that
`logpipe serve` writes both live there.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

# The demo runs from a checkout (`make demo`, tests/integration/test_demo.py) and starts `logpipe serve` with
# the launcher the tests and benches use (tests/harness/launcher.py): one place knows how to wait for
# /healthz, stop the whole process group and show the log's tail when the stack does not come up.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness.launcher import ServeError, ServeProcess, logpipe_command

HERE = Path(__file__).resolve().parent
LOGS = HERE / "logs"
TENANT = "acme"
CONTENT_TYPES = {".json": "application/json", ".ndjson": "application/x-ndjson", ".log": "text/plain"}
# Strings in examples/logs/ that must never come back from the store.
SECRETS = [
    "alice@example.com",
    "bob@example.com",
    "s3ss10n-abc123",
    "4111 1111 1111 1111",
    "eyJhbGciOiJIUzI1NiJ9",
    "hunter2",
    "AKIAIOSFODNN7EXAMPLE",
    "sk_live_51HxYzABCdef0123",
    "abc.def.ghi",
]
START_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 30.0


class DemoError(Exception):
    pass


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def start_stack(data_dir: Path, env: dict[str, str]) -> ServeProcess:
    # `logpipe serve --port 0 --data-dir … --workers 2` in its own process group (a Ctrl-C of the demo
    # does not hit it twice); start() returns once it prints its URL and /healthz answers.
    stack = ServeProcess(data_dir, port=0, workers=2, env=env, start_timeout=START_TIMEOUT_S)
    try:
        stack.start()
    except ServeError as exc:
        raise DemoError(str(exc)) from None
    print(stack.banner, flush=True)  # "logpipe serving on http://127.0.0.1:PORT (data: …, workers: 2)"
    return stack


def send_examples(url: str, key: str) -> int:
    total = 0
    for path in sorted(LOGS.iterdir()):
        content_type = CONTENT_TYPES.get(path.suffix)
        if content_type is None:
            continue
        body = path.read_bytes()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": content_type}
        how = "as is"
        if path.suffix == ".ndjson":  # one file goes gzip-compressed, as `logpipe send` does
            body, how = gzip.compress(body), "gzip"
            headers["Content-Encoding"] = "gzip"
        r = httpx.post(f"{url}/ingest", content=body, headers=headers, timeout=30)
        if r.status_code != 202:
            raise DemoError(f"{path.name}: {r.status_code} {r.text}")
        accepted = r.json()["accepted"]
        total += accepted
        print(
            f"  {path.name:<16} {content_type:<22} {how:<6} -> {r.status_code}, {accepted} records",
            flush=True,
        )
    return total


def wait_drained(url: str) -> None:
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while True:
        health = httpx.get(f"{url}/healthz", timeout=5).json()
        if health["queue_depth"] == 0:
            print(f"  /healthz: {json.dumps(health)}", flush=True)
            return
        if time.monotonic() > deadline:
            raise DemoError(f"queue not drained: {health}")
        time.sleep(0.1)


def format_record(record: dict[str, Any]) -> str:
    attrs = json.dumps(record["attributes"], ensure_ascii=False, separators=(",", ":"))
    message = record["message"].encode("unicode_escape").decode("ascii")  # never raw control chars
    line = f"  {record['timestamp']}  {record['level'].upper():<5}  {message}"
    if record["attributes"]:
        line += f"  {attrs}"
    if record.get("client_log_id"):
        line += f"  (client_log_id={record['client_log_id']})"
    if record["redactions"]:
        line += f"  [{record['redactions']} redacted]"
    return line


def run(workdir: Path) -> int:
    data_dir = workdir / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGPIPE_")}
    env["XDG_CONFIG_HOME"] = str(workdir / "config")  # serve writes its `local` profile here, not in ~

    step("1. start the local stack: logpipe serve")
    stack = start_stack(data_dir, env)
    url = stack.url
    try:
        step(f"2. create tenant {TENANT!r}: logpipe tenants create {TENANT}")
        out = subprocess.run(
            [*logpipe_command(), "tenants", "create", TENANT, "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
            check=True,
        )
        key = out.stdout.strip()
        print(f"  key: {key[:8]}… (printed once; tenants.db keeps only its SHA-256)")

        step("3. send examples/logs/ to POST /ingest")
        sent = send_examples(url, key)
        bad = httpx.post(
            f"{url}/ingest",
            content="x",
            headers={"Authorization": "Bearer lp_wrong", "Content-Type": "text/plain"},
        )
        print(f"  (a wrong key gets {bad.status_code}: {bad.json()['error']['code']})")

        step("4. wait for the workers, then read back from GET /admin/logs")
        wait_drained(url)
        token = (data_dir / "admin_token").read_text().strip()
        r = httpx.get(
            f"{url}/admin/logs",
            params={"tenant": TENANT, "order": "asc", "limit": 1000},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        if r.status_code != 200:
            raise DemoError(f"admin query: {r.status_code} {r.text}")
        records = r.json()["items"]
        for record in records:
            print(format_record(record))
        if len(records) != sent:
            raise DemoError(f"sent {sent} records but {len(records)} are stored")
        leaked = [s for s in SECRETS if s in r.text]
        if leaked:
            raise DemoError(f"secrets came back unredacted: {leaked}")
        redacted = sum(rec["redactions"] for rec in records)
        print(f"  {len(records)} records stored, {redacted} secrets redacted, none leaked")
    finally:
        step("5. stop the stack (SIGTERM: finish in-flight work, exit 0)")
        try:
            code = stack.stop(signal.SIGTERM, timeout=60)  # killed if it does not stop in time
        except subprocess.TimeoutExpired:
            raise DemoError("the stack did not stop in time") from None
        print(f"  logpipe serve exited with {code}")
    if code != 0:
        raise DemoError(f"logpipe serve exited with {code}")
    return 0


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="logpipe-demo-") as tmp:
        try:
            code = run(Path(tmp))
        except (DemoError, subprocess.CalledProcessError, httpx.HTTPError) as exc:
            print(f"\ndemo failed: {exc}", file=sys.stderr)
            return 1
    print("\ndemo OK")
    return code


if __name__ == "__main__":
    sys.exit(main())
