"""The HTTPS server around the REST API, and `start_emulator` to run it in a background thread."""

from __future__ import annotations

import contextlib
import socket
import ssl
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from emulators.salesforce.api import RestApi
from emulators.salesforce.config import EmulatorConfig
from emulators.salesforce.faults import Faults, FaultSettings
from emulators.salesforce.routing import Request
from emulators.salesforce.schema import Schema
from emulators.salesforce.seed import seed_org
from emulators.salesforce.store import Store
from emulators.salesforce.tls import default_data_dir, ensure_certificates

HOST = "127.0.0.1"
# A TLS client that connects and then says nothing must not hold a thread forever.
_HANDSHAKE_TIMEOUT_S = 30
# Idle keep-alive connections are closed after this long.
_IDLE_TIMEOUT_S = 120
_MAX_BODY = 64 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse one TLS connection
    server_version = "SalesforceEmulator/1.0"
    sys_version = ""
    timeout = _IDLE_TIMEOUT_S
    disable_nagle_algorithm = True
    wbufsize = -1  # headers and body leave in one write
    server: _HttpsServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            self.send_error(413)
            return
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=self.headers,  # type: ignore[arg-type]
            body=body,
            base_url=self.server.api.base_url,
        )
        response = self.server.api.handle(request)
        if response.drop_connection:
            self.close_connection = True
            return
        payload = response.payload()
        self.send_response(response.status)
        if payload or response.status not in (204, 304):
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.api.config.log_requests:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")


class _HttpsServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: RestApi, context: ssl.SSLContext) -> None:
        self.api = api
        self.context = context
        self._connections: dict[ssl.SSLSocket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the connection's own thread, not in the accept loop.
        request.settimeout(_HANDSHAKE_TIMEOUT_S)
        try:
            connection = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        with self._connections_lock:
            self._connections[connection] = threading.current_thread()
        try:
            _Handler(connection, client_address, self)
        except (OSError, ssl.SSLError):
            pass  # the client went away mid-request
        finally:
            with self._connections_lock:
                self._connections.pop(connection, None)
            with contextlib.suppress(OSError):
                connection.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        exception = sys.exc_info()[1]
        if isinstance(exception, (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def close_connections(self, wait_s: float = 5.0) -> None:
        """Shut every open connection and wait for its thread to finish the request at hand."""
        with self._connections_lock:
            connections = dict(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for thread in connections.values():
            if thread is not threading.current_thread():
                thread.join(wait_s)


@dataclass
class RunningEmulator:
    """A serving emulator. `store` gives tests direct access to the data (see `Store`)."""

    url: str  # "https://127.0.0.1:PORT", both the login URL and the instance URL
    ca_file: Path  # PEM of the CA that signed the server certificate
    port: int
    store: Store
    api: RestApi
    config: EmulatorConfig
    _server: _HttpsServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _tempdir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        """Stop serving, close connections and the store; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(5)
        self.store.close()
        if self._tempdir is not None:
            self._tempdir.cleanup()

    @property
    def faults(self) -> Faults:
        """Live fault injection: `emu.faults.update(error_rates={...})`, `.limit_episode(s)`."""
        return self.api.faults

    def api_calls(self) -> int:
        """REST calls served, excluding the OAuth token endpoints."""
        return self.api.api_calls()

    def dump(self, directory: Path) -> dict[str, int]:
        """Write DIR/<SObject>.jsonl, one JSON object per live record; counts per sObject."""
        return self.store.dump(directory)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_emulator(
    *,
    port: int = 0,
    seed: Path | Mapping[str, list[dict[str, Any]]] | None = None,
    state: Path | None = None,
    latency_ms: int = 0,
    data_dir: Path | None = None,
    page_size: int = 2000,
    daily_api_limit: int = 1_000_000,
    log_requests: bool = False,
    schema: Schema | None = None,
    host: str = HOST,
    public_host: str | None = None,
    faults: FaultSettings | Mapping[str, Any] | None = None,
) -> RunningEmulator:
    """Start serving in a background thread; port 0 picks a free port.

    seed: a seed file or dict (default: `seed.default_seed()`), loaded only into a fresh state.
    state: the SQLite file to keep the org in across restarts; None: a temporary file.
    data_dir: where the CA and server certificate live (default: ~/.cache/cardsync/emulator).
    host: the address to listen on; public_host: the name clients use (URLs and certificate),
    e.g. the service name in docker compose. Default: 127.0.0.1.
    faults: fault injection settings (see `emulators.salesforce.faults`); default: none.
    """
    public = public_host or (host if host not in ("0.0.0.0", "::") else HOST)
    tls = ensure_certificates(data_dir or default_data_dir(), (public,))
    tempdir = None
    if state is None:
        tempdir = tempfile.TemporaryDirectory(prefix="salesforce-emulator-")
        state = Path(tempdir.name) / "org.sqlite"
    else:
        state.parent.mkdir(parents=True, exist_ok=True)
    store = Store(state, schema)
    try:
        seed_org(store, seed)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.server_cert, tls.server_key)
        config = EmulatorConfig(
            page_size=page_size,
            daily_api_limit=daily_api_limit,
            latency_ms=latency_ms,
            log_requests=log_requests,
        )
        api = RestApi(store, config, base_url="")
        if faults is not None:
            settings = (
                faults
                if isinstance(faults, FaultSettings)
                else FaultSettings.from_dict(dict(faults))
            )
            api.faults = Faults(settings)
        server = _HttpsServer((host, port), api, context)
    except BaseException:
        store.close()
        if tempdir is not None:
            tempdir.cleanup()
        raise
    actual_port = int(server.server_address[1])
    api.base_url = f"https://{public}:{actual_port}"
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name=f"salesforce-emulator-{actual_port}",
        daemon=True,
    )
    thread.start()
    return RunningEmulator(
        url=api.base_url,
        ca_file=tls.ca_cert,
        port=actual_port,
        store=store,
        api=api,
        config=config,
        _server=server,
        _thread=thread,
        _tempdir=tempdir,
    )
