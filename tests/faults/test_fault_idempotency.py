"""A request retried with its ``Idempotency-Key`` after a lost response stores nothing twice (SQLite).

The response is lost for real: the request reaches the real ``logpipe serve``, which commits it and
answers 202, and the client's transport then drops the answer (as a connection reset after the server
wrote it would). The SDK retries under the same key; the server queues the records again with the same
log_ids; the store's upsert keeps one copy, and the client is given the ids of the first acceptance.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import httpx
import logpipe
from local_stack import LocalServer


class LoseResponses(httpx.BaseTransport):
    """Forwards each request to the server, then drops the first ``lose`` answers on the floor."""

    def __init__(self, lose: int) -> None:
        self._inner = httpx.HTTPTransport()
        self.lose = lose
        self.lost: list[int] = []  # statuses of the answers dropped
        self.keys: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.keys.append(request.headers["idempotency-key"])
        response = self._inner.handle_request(request)
        if len(self.lost) < self.lose:
            response.read()
            response.close()
            self.lost.append(response.status_code)
            raise httpx.ReadError("connection reset before the response arrived", request=request)
        return response

    def close(self) -> None:
        self._inner.close()


def test_retry_after_lost_response_stores_one_copy(server_factory: Callable[..., LocalServer]) -> None:
    server = server_factory(workers=2)
    key = server.create_tenant("acme")
    transport = LoseResponses(lose=2)
    retry = logpipe.RetryPolicy(max_attempts=5, base_delay=0.01)
    records = [{"message": f"payment {i}", "order": i} for i in range(25)]
    with logpipe.Client(server.url, key, "acme", transport=transport, retry=retry) as client:
        result = client.send(records)

    assert transport.lost == [202, 202]  # the server accepted it twice, and the client never heard
    assert len(set(transport.keys)) == 1 and len(transport.keys) == 3  # three tries, one key
    assert result.accepted == 25
    server.wait_drained()
    stored = server.admin_query(tenant="acme", order="asc")
    assert len(stored) == 25  # not 75
    assert [r["log_id"] for r in stored] == result.log_ids  # the ids of the first acceptance
    assert [r["attributes"]["order"] for r in stored] == list(range(25))
    conn = sqlite3.connect(server.data_dir / "queue.db")
    claims = conn.execute("SELECT count(*) FROM idempotency").fetchone()[0]
    conn.close()
    assert claims == 1


def test_same_key_different_body_is_refused(server_factory: Callable[..., LocalServer]) -> None:
    server = server_factory(workers=1)
    key = server.create_tenant("acme")
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/plain", "Idempotency-Key": "k-1"}
    first = httpx.post(f"{server.url}/ingest", content="one", headers=headers)
    again = httpx.post(f"{server.url}/ingest", content="one", headers=headers)
    other = httpx.post(f"{server.url}/ingest", content="two", headers=headers)
    assert (first.status_code, again.status_code, other.status_code) == (202, 202, 422)
    assert first.json()["log_ids"] == again.json()["log_ids"]
    server.wait_drained()
    assert [r["message"] for r in server.admin_query(tenant="acme")] == ["one"]
