"""The local HTTP server: each request becomes an API Gateway HTTP API (payload 2.0) event for the handlers.

Stdlib only (``ThreadingHTTPServer``), HTTP/1.1 with keep-alive. What it guards before a handler runs:

- the body is capped (``Content-Length`` over the limit → 413 without reading it; a chunked body is counted
  while it is read), so a client cannot make the server hold an unbounded body in memory;
- every socket read has a timeout and a whole request body a deadline, so a slow client cannot hold a
  thread for ever; concurrent connections are capped (503 beyond);
- unknown paths answer 404 JSON; the handlers answer 405 for a wrong method themselves, as on AWS.

Graceful stop (:meth:`LocalHttpServer.stop`): stop accepting, close idle keep-alive connections, let
requests being handled finish (their responses, 202s included, go out), then return.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from logpipe_backend.runtime.apigw import (
    build_event,
    error_parts,
    json_bytes,
    openapi_document,
    response_parts,
)
from logpipe_backend.runtime.routes import Event, LambdaHandler, Response, Routes

log = logging.getLogger("logpipe.serve")
SOCKET_TIMEOUT_S = 15.0  # per read: an idle keep-alive connection is closed after this
BODY_DEADLINE_S = 60.0  # a whole request body must arrive within this
MAX_CONNECTIONS = 128  # connections served at once; more get 503 and are closed
MAX_HEADER_COUNT = 100
_READ_CHUNK = 64 * 1024
LINGER_S = 2.0  # how long an unread, refused body is drained so the client can read our 413
LINGER_MAX_BYTES = 64 * 1024 * 1024

__all__ = ["Event", "LambdaHandler", "LocalHttpServer", "Response", "Routes", "build_event", "response_parts"]


class _BodyTooLarge(Exception):
    pass


class _BadRequest(Exception):
    pass


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "logpipe"
    sys_version = ""
    timeout = SOCKET_TIMEOUT_S  # StreamRequestHandler applies it to the socket
    # TCP_NODELAY: the status line and headers go out in one write and the body in another; with Nagle on,
    # the body waits for the client's delayed ACK of the headers (Linux's delayed-ACK timer, tens of ms) on
    # every response: a keep-alive client's requests would each take that long.
    disable_nagle_algorithm = True
    server: LocalHttpServer

    # -- the request loop, with idle/busy tracking for a graceful stop ---------------------------------

    def handle(self) -> None:
        self.close_connection = True
        if not self.server.track(self):
            return  # accepted just as the server began to stop: close without reading
        try:
            self.handle_one_request()
            while not self.close_connection:
                self.handle_one_request()
        finally:
            self.server.untrack(self)

    def handle_one_request(self) -> None:
        self.server.mark(self, busy=False)
        self.requestline = ""
        self.request_version = self.default_request_version
        self.command = ""
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except (TimeoutError, OSError):
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if not self.server.mark(self, busy=True):
            # The server is stopping and closed this idle connection while the request line arrived:
            # refuse it cleanly rather than half-serve it (nothing is queued; the client may retry).
            self.close_connection = True
            return
        if len(self.raw_requestline) > 65536:
            self.request_version = "HTTP/1.1"  # unparsed, yet answered with a status line (not HTTP/0.9)
            self.send_error(414)
            return
        if not self.parse_request():
            return
        try:
            self._dispatch()
        except (TimeoutError, ConnectionError, BrokenPipeError):
            self.close_connection = True
        if self.server.stopping:
            self.close_connection = True

    def handle_expect_100(self) -> bool:
        # Refuse an oversized body before the client sends it, instead of inviting it with 100 Continue.
        length = self.headers.get("Content-Length")
        if (
            length is not None
            and length.strip().isdigit()
            and int(length) > self.server.routes.max_body_bytes
        ):
            self._send(*self._too_large(), close=True)
            return False
        return super().handle_expect_100()

    # -- one request -----------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        if len(self.headers) > MAX_HEADER_COUNT:
            self._send(*error_parts(431, "headers_too_large", "too many headers"), close=True)
            return
        path = unquote(urlsplit(self.path).path)
        try:
            body = self._read_body()
        except _BodyTooLarge:
            self._send(*self._too_large(), close=True)
            self._linger()
            return
        except _BadRequest as exc:
            self._send(*error_parts(400, "bad_request", str(exc)), close=True)
            return
        routes = self.server.routes
        if path == "/healthz":
            if self.command not in ("GET", "HEAD"):
                self._send(*error_parts(405, "method_not_allowed", "use GET"), extra={"allow": "GET, HEAD"})
                return
            self._send(200, {"content-type": "application/json"}, json_bytes(routes.health()))
            return
        if path == "/openapi.json":
            if self.command not in ("GET", "HEAD"):
                self._send(*error_parts(405, "method_not_allowed", "use GET"), extra={"allow": "GET, HEAD"})
                return
            self._send(200, {"content-type": "application/json"}, openapi_document())
            return
        target: LambdaHandler | None = routes.target(path)
        if target is None:
            self._send(*error_parts(404, "not_found", f"no route for {path}"))
            return
        event = build_event(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            binary_as_bytes=True,
        )
        started = time.monotonic()
        try:
            response = target(event)
            status, headers, payload = response_parts(response)
        except Exception:  # the handlers never raise; this is the last line of defence
            log.exception("handler failed for %s %s", self.command, path)
            status, headers, payload = error_parts(500, "internal_error", "internal error")
        log.info(
            "%s %s %s %d %.1fms",
            self.client_address[0],
            self.command,
            path,
            status,
            (time.monotonic() - started) * 1000,
        )
        self._send(status, headers, payload)

    def _linger(self) -> None:
        """After refusing a body unread: half-close, then discard what the client still sends, briefly.

        Closing a socket with unread data makes Linux send RST, and the client would see "connection
        reset" instead of our 413; draining (never storing) for a bounded time lets the answer arrive.
        """
        try:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(0.5)
            deadline = time.monotonic() + LINGER_S
            drained = 0
            while time.monotonic() < deadline and drained < LINGER_MAX_BYTES:
                chunk = self.connection.recv(_READ_CHUNK)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass

    def _too_large(self) -> tuple[int, dict[str, str], bytes]:
        limit = self.server.routes.max_body_bytes
        return error_parts(
            413, "payload_too_large", f"the body is over {limit} bytes", limit="body_bytes", max=limit
        )

    def _read_body(self) -> bytes:
        limit = self.server.routes.max_body_bytes
        deadline = time.monotonic() + BODY_DEADLINE_S
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit, deadline)
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            return b""
        if not length_text.strip().isdigit():
            raise _BadRequest("invalid Content-Length")
        length = int(length_text)
        if length > limit:
            raise _BodyTooLarge
        parts: list[bytes] = []
        remaining = length
        while remaining > 0:
            if time.monotonic() > deadline:
                raise TimeoutError("body deadline")
            chunk = self.rfile.read(min(_READ_CHUNK, remaining))
            if not chunk:
                raise ConnectionError("client closed the connection mid-body")
            parts.append(chunk)
            remaining -= len(chunk)
        return b"".join(parts)

    def _read_chunked(self, limit: int, deadline: float) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError("body deadline")
            size_line = self.rfile.readline(1024)
            if not size_line:
                raise ConnectionError("client closed the connection mid-body")
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError as exc:
                raise _BadRequest("invalid chunk size") from exc
            if size == 0:
                # Trailers, up to the blank line.
                for _ in range(MAX_HEADER_COUNT):
                    line = self.rfile.readline(65537)
                    if line in (b"\r\n", b"\n", b""):
                        break
                return b"".join(parts)
            total += size
            if total > limit:
                raise _BodyTooLarge
            remaining = size
            while remaining > 0:
                chunk = self.rfile.read(min(_READ_CHUNK, remaining))
                if not chunk:
                    raise ConnectionError("client closed the connection mid-body")
                parts.append(chunk)
                remaining -= len(chunk)
            self.rfile.readline(16)  # the CRLF after each chunk

    def _send(
        self,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        *,
        close: bool = False,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        if close:
            self.close_connection = True
        self.send_response(status)
        for name, value in {**headers, **(extra or {})}.items():
            if name.lower() in ("content-length", "connection", "transfer-encoding"):
                continue
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection or self.server.stopping:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Protocol errors from the stdlib parser, answered as JSON like every other error.
        self.close_connection = True
        with contextlib.suppress(OSError):
            self._send(
                *error_parts(code, "bad_request" if code == 400 else f"http_{code}", message or "bad request")
            )

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)


class LocalHttpServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` that knows its connections, so it can stop without dropping a request."""

    daemon_threads = False  # server_close() joins request threads: in-flight requests finish
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], routes: Routes) -> None:
        self.routes = routes
        self.stopping = False
        self._conn_lock = threading.Lock()
        self._conns: dict[_RequestHandler, bool] = {}  # handler -> busy
        if ":" in address[0]:  # an IPv6 literal such as ::1
            self.address_family = socket.AF_INET6
        super().__init__(address, _RequestHandler)

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), self.server_address[1]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self._conn_lock:
            too_many = len(self._conns) >= MAX_CONNECTIONS
        if too_many or self.stopping:
            status, _headers, body = error_parts(503, "unavailable", "server busy or stopping", retry_after=1)
            head = (
                f"HTTP/1.1 {status} Service Unavailable\r\ncontent-type: application/json\r\n"
                f"retry-after: 1\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            with contextlib.suppress(OSError):
                request.sendall(head.encode("ascii") + body)
            return False
        return True

    def track(self, handler: _RequestHandler) -> bool:
        with self._conn_lock:
            if self.stopping:
                return False
            self._conns[handler] = False
            return True

    def untrack(self, handler: _RequestHandler) -> None:
        with self._conn_lock:
            self._conns.pop(handler, None)

    def mark(self, handler: _RequestHandler, *, busy: bool) -> bool:
        """Record a connection's state; False when it was closed for stopping while idle."""
        with self._conn_lock:
            if busy and self.stopping:
                return False
            self._conns[handler] = busy
            return True

    def stop(self) -> None:
        """Stop accepting, close idle connections, wait for in-flight requests; call from another thread
        than ``serve_forever``."""
        self.shutdown()  # serve_forever returns: nothing new is accepted
        with self._conn_lock:
            self.stopping = True
            idle = [h for h, busy in self._conns.items() if not busy]
        for handler in idle:
            # EOF for the blocked readline; a busy handler is left alone and closes after its reply.
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RD)
        self.server_close()  # closes the listening socket and joins the request threads
