"""The emulator's HTTP server and its Python API.

Stdlib only (socketserver + http.server): it binds in the constructor and
serves from a background thread, so `start()` takes milliseconds, and it
needs no event loop, so it runs beside the proxy's uvicorn in one process.
HTTP/1.1 keep-alive, chunked SSE, and an abrupt close for scripted failures.
"""

from __future__ import annotations

import http
import http.server
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from copilot_hybrid.emulator.chat import plan_from_script
from copilot_hybrid.emulator.config import DEFAULT_GITHUB_TOKEN, EmulatorConfig
from copilot_hybrid.emulator.http import AbortConnection, Request, Response, Waiter
from copilot_hybrid.emulator.routes import (
    COPILOT_PREFIX,
    GITHUB_API_PREFIX,
    EmulatorApp,
    fault_from_json,
)
from copilot_hybrid.emulator.state import EmulatorState, RecordedRequest

# How often the accept loop checks for shutdown: bounds stop() latency.
_POLL_INTERVAL = 0.05
# Idle keep-alive connections are closed after this many seconds.
_IDLE_TIMEOUT = 300.0


class _HTTPServer(socketserver.TCPServer):
    # TCPServer, not http.server.HTTPServer: the latter calls getfqdn() on
    # bind, which can stall for seconds on a machine without DNS.
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        app: EmulatorApp,
        waiter: Waiter,
        log: Callable[[str], None] | None,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.app = app
        self.waiter = waiter
        self.log = log
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name="emulator-connection",
            daemon=True,
        )
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001, S110 - a client hanging up is routine here
            pass
        finally:
            with self._connections_lock:
                self._connections.pop(request, None)
            self.shutdown_request(request)

    def close_connections(self, timeout: float) -> None:
        """Hangs up on every open connection and waits for their threads."""
        with self._connections_lock:
            items = list(self._connections.items())
        for sock, _ in items:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for _, thread in items:
            thread.join(max(0.0, deadline - time.monotonic()))


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "copilot-hybrid-emulator"
    sys_version = ""
    # Headers and body go out in separate sends when streaming; without
    # TCP_NODELAY, Nagle plus delayed ACK adds ~40 ms per response.
    disable_nagle_algorithm = True
    timeout = _IDLE_TIMEOUT
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # One handler per TCP connection: count it once, label its requests with it.
        self.connection_number = self.server.app.state.count_connection()

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: requests are recorded, and the CLI logs through `log`."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        body = self._read_body()
        if body is None:
            return
        path, _, query = self.path.partition("?")
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        host = headers.get("host") or "{}:{}".format(*self.server.server_address[:2])
        request = Request(self.command, path, query, headers, body, f"http://{host}", self.connection_number)
        response = self.server.app.handle(request)
        if self.server.log is not None:
            self.server.log(f"{self.command} {self.path} -> {response.status}")
        self._send(response)

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            return self._read_chunked()
        length = self.headers.get("content-length")
        if length is None:
            return b""
        try:
            size = int(length)
        except ValueError:
            self.send_error(400, "bad content-length")
            return None
        return self.rfile.read(size)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            size = int(size_line or b"0", 16)
            if size == 0:
                # Trailers, then the blank line that ends the body.
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline(8)

    def _send(self, response: Response) -> None:
        sent = 0
        finished = False
        try:
            self.server.waiter.sleep(response.delay)
            headers = dict(response.headers)
            if response.stream is None:
                headers["content-length"] = str(len(response.body))
            elif response.length is not None:
                headers["content-length"] = str(response.length)
            else:
                headers["transfer-encoding"] = "chunked"
            if self.close_connection:
                headers["connection"] = "close"
            head = self._head(response.status, headers)
            if response.stream is None:
                self.wfile.write(head + response.body)
                sent, finished = len(response.body), True
                return
            self.wfile.write(head)
            chunked = response.length is None
            for piece in response.stream:
                if chunked:
                    if piece:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                else:
                    self.wfile.write(piece)
                sent += len(piece)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
            finished = response.length is None or sent == response.length
        except (AbortConnection, OSError):
            # Scripted failure, emulator stopping, or the client went away:
            # drop the connection without finishing the message.
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        finally:
            if response.record is not None:
                self.server.app.state.record_sent(response.record, sent, finished)

    def _head(self, status: int, headers: Mapping[str, str]) -> bytes:
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Status"
        lines = [f"HTTP/1.1 {status} {reason}", f"server: {self.server_version}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Emulator:
    """A GitHub + Copilot emulator on a real socket (127.0.0.1, free port).

    >>> with Emulator() as emu:
    ...     emu.copilot_url  # 'http://127.0.0.1:PORT/copilot'
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        config: EmulatorConfig | None = None,
        log: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        **overrides: Any,
    ) -> None:
        """`clock` (wall-clock seconds) dates tokens, device codes, recorded
        requests and completions; a test passes a fake one to let a token
        expire without waiting."""
        base = config or EmulatorConfig()
        self._host = host
        self._requested_port = port
        self._log = log
        self._state = EmulatorState(base.updated(overrides) if overrides else base, clock=clock)
        self._waiter = Waiter()
        self._app = EmulatorApp(self._state, self._waiter)
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("emulator already started")
        self._waiter = Waiter()
        self._app.waiter = self._waiter
        server = _HTTPServer((self._host, self._requested_port), self._app, self._waiter, self._log)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name=f"emulator:{server.server_address[1]}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        self._port = int(server.server_address[1])

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._waiter.stopping.set()
        server.shutdown()
        server.close_connections(timeout=2.0)
        server.server_close()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    # -- addresses ------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (still answered after stop(), for error messages)."""
        if self._port is None:
            raise RuntimeError("emulator not started")
        return self._port

    @property
    def url(self) -> str:
        """The base URL; GitHub web lives at its root."""
        host = self._host
        if host in ("0.0.0.0", ""):  # noqa: S104 - only a display mapping
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def github_url(self) -> str:
        return self.url

    @property
    def github_api_url(self) -> str:
        return self.url + GITHUB_API_PREFIX

    @property
    def copilot_url(self) -> str:
        return self.url + COPILOT_PREFIX

    @property
    def github_token(self) -> str:
        """A GitHub token the emulator accepts without a device flow."""
        return DEFAULT_GITHUB_TOKEN

    # -- inspection -----------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every recorded request so far, oldest first (a snapshot)."""
        return self._state.requests()

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests whose path ends with `path` (e.g. "/chat/completions")."""
        return [
            r
            for r in self._state.requests()
            if r.path.endswith(path) and (method is None or r.method == method.upper())
        ]

    def last_request(self, path: str = "") -> RecordedRequest:
        matching = self.requests_to(path)
        if not matching:
            raise LookupError(f"no recorded request to {path!r}")
        return matching[-1]

    def clear_requests(self) -> None:
        self._state.clear_requests()

    def wait_sent(self, record: RecordedRequest, timeout: float = 10.0) -> RecordedRequest:
        """`record` once its response has gone out or broken off (`finished` is then
        True or False): a client can have every byte before the emulator notes it."""
        done = self._state.wait_sent(record.seq, timeout)
        if done is None:
            raise TimeoutError(f"request {record.seq}'s response was not sent within {timeout:g} s")
        return done

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted since start (a client that keeps its
        connections alive makes many requests per connection)."""
        return self._state.connections_accepted

    @property
    def config(self) -> EmulatorConfig:
        return self._state.config

    @property
    def premium_used(self) -> float:
        return self._state.premium_used

    # -- control --------------------------------------------------------------

    def configure(self, **changes: Any) -> EmulatorConfig:
        """Changes settings (see EmulatorConfig); ValueError on bad keys/values."""
        return self._state.configure(changes)

    def script(self, *responses: Mapping[str, Any]) -> None:
        """Queues scripted chat responses (same JSON as POST /_emulator/script)."""
        plans = [plan_from_script(r) for r in responses]
        self._state.push_scripts(plans)

    def fail(
        self,
        path: str,
        status: int,
        *,
        method: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        times: int | None = 1,
    ) -> None:
        """Makes the next `times` requests to `path` (e.g. "/copilot/models")
        answer `status` before any other check; times=None means always."""
        spec: dict[str, Any] = {"path": path, "status": status, "method": method, "times": times}
        if body is not None:
            spec["body"] = body
        if headers is not None:
            spec["headers"] = dict(headers)
        self._state.add_fault(fault_from_json(spec))

    def reset(self) -> None:
        """Back to the initial config; drops scripts, faults, device codes and
        recorded requests. Issued tokens stay valid."""
        self._state.reset()

    def expire_copilot_tokens(self) -> int:
        return self._state.expire_copilot_tokens()

    def add_github_token(self, token: str, login: str | None = None) -> None:
        self._state.add_github_token(token, login)

    def revoke_github_token(self, token: str) -> None:
        self._state.revoke_github_token(token)

    def set_device_scenario(self, code: str, scenario: str) -> None:
        """Scenario for one device code, by device_code or user_code."""
        self._state.set_device_scenario(code, scenario)

    def approve_device(self, code: str) -> None:
        self._state.decide_device(code, approve=True)

    def deny_device(self, code: str) -> None:
        self._state.decide_device(code, approve=False)

    def issue_copilot_token(self, github_token: str | None = None) -> str:
        """A valid Copilot token without an HTTP round trip."""
        token, _ = self._state.issue_copilot_token(github_token or DEFAULT_GITHUB_TOKEN)
        return token


def serve_forever(
    host: str,
    port: int,
    *,
    on_ready: Callable[[Emulator], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> None:
    """Runs an emulator in the foreground until Ctrl-C (the CLI's entry point)."""
    emulator = Emulator(host, port, log=log)
    emulator.start()
    try:
        if on_ready is not None:
            on_ready(emulator)
        thread = emulator._thread
        while thread is not None and thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
