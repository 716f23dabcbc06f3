"""A small local HTTP server that answers with canned bodies, for APIs no test machine can run.

Loki and a Kubernetes API server cannot run here, so tests point the real clients at this server,
which answers with bodies in the exact shapes those APIs document (kept in ``fixtures/``). It can
also misbehave on purpose: answer 500, answer garbage, or hang past the client's timeout.

    with FixtureServer() as server:
        server.add("GET", "/loki/api/v1/query", fixture("loki_query_vector.json"))
        server.add("GET", "/api/v1/namespaces/shop/pods", fixture("k8s_pod_list.json"),
                   params={"labelSelector": "app=checkout"})
        client = LokiClient(SourceConfig(url=server.url))
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).parent / "fixtures"
GARBAGE = b"<html><body>502 Bad Gateway? {not json"


def fixture(name: str) -> Any:
    """The parsed JSON body of ``fixtures/<name>``."""
    return json.loads((FIXTURES / name).read_text())


@dataclass
class Route:
    method: str
    path: str
    body: Any = None
    status: int = 200
    params: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    # "ok" answers body; "garbage" answers unparseable bytes; "hang" sleeps past the client.
    behaviour: str = "ok"

    def matches(self, method: str, path: str, params: dict[str, str]) -> bool:
        if method != self.method or path != self.path:
            return False
        return all(params.get(k) == v for k, v in self.params.items())


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    params: dict[str, str]
    headers: Message  # case-insensitive, as HTTP headers are
    body: bytes


class FixtureServer:
    """Threaded stdlib HTTP server on a free loopback port; routes by (method, path, params)."""

    def __init__(self, *, hang_seconds: float = 30.0) -> None:
        self.routes: list[Route] = []
        self.requests: list[RecordedRequest] = []
        self.hang_seconds = hang_seconds
        self.required_token: str | None = None
        self._mode: tuple[str, int] | None = None
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        # A short poll interval keeps stop() (and so every test's teardown) fast.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fixture-http", daemon=True
        )

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- configuration ---------------------------------------------------------------------------

    def add(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        status: int = 200,
        params: dict[str, str] | None = None,
        content_type: str | None = None,
        behaviour: str = "ok",
    ) -> Route:
        """Answer ``method path`` (when the request carries ``params``) with ``body``.

        A ``str`` or ``bytes`` body is sent as is (text/plain unless told otherwise); anything
        else is JSON. Later routes win over earlier ones, so a test can override a default.
        """
        if content_type is None:
            content_type = "text/plain; charset=utf-8" if isinstance(body, (str, bytes)) else "application/json"
        route = Route(method.upper(), path, body, status, dict(params or {}), content_type, behaviour)
        with self._lock:
            self.routes.insert(0, route)
        return route

    def answer_all(self, behaviour: str, status: int = 500) -> None:
        """Make every request misbehave: ``"error"`` (status), ``"garbage"`` or ``"hang"``."""
        if behaviour not in ("error", "garbage", "hang"):
            raise ValueError(behaviour)
        self._mode = (behaviour, status)

    def behave(self) -> None:
        """Back to answering from the routes; releases any request still hanging."""
        self._mode = None
        self._release.set()
        self._release = threading.Event()

    def require_token(self, token: str | None) -> None:
        """Answer 401 unless the request carries ``Authorization: Bearer <token>``."""
        self.required_token = token

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FixtureServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FixtureServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling (server threads) -------------------------------------------------------

    def _respond(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw_body = handler.rfile.read(length) if length else b""
        params = _flat(parse_qs(split.query, keep_blank_values=True))
        if handler.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            params.update(_flat(parse_qs(raw_body.decode("utf-8"), keep_blank_values=True)))
        record = RecordedRequest(handler.command, split.path, params, handler.headers, raw_body)
        with self._lock:
            self.requests.append(record)
            route = next((r for r in self.routes if r.matches(handler.command, split.path, params)), None)

        mode = self._mode
        if mode is not None:
            behaviour, status = mode
            if behaviour == "error":
                return _send(handler, status, b'{"message": "injected failure"}', "application/json")
            route = Route(handler.command, split.path, behaviour=behaviour)
        if route is None:
            return _send(handler, 404, f"no fixture for {handler.command} {handler.path}".encode(), "text/plain")
        if route.behaviour == "hang":
            self._release.wait(self.hang_seconds)
            return _send(handler, 200, b"{}", "application/json")
        if route.behaviour == "garbage":
            return _send(handler, route.status, GARBAGE, "application/json")
        token = self.required_token
        if token is not None and handler.headers.get("Authorization") != f"Bearer {token}":
            body = json.dumps(_k8s_status(401, "Unauthorized", "Unauthorized")).encode()
            return _send(handler, 401, body, "application/json")
        body = route.body
        if isinstance(body, str):
            payload = body.encode()
        elif isinstance(body, bytes):
            payload = body
        else:
            payload = json.dumps(body).encode()
        _send(handler, route.status, payload, route.content_type)


def _handler_for(server: FixtureServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
            server._respond(self)

        def do_POST(self) -> None:  # noqa: N802
            server._respond(self)

        def log_message(self, format: str, *args: Any) -> None:
            # Quiet: pytest shows failures with the recorded requests, not an access log.
            pass

    return Handler


def _send(handler: BaseHTTPRequestHandler, status: int, payload: bytes, content_type: str) -> None:
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up first (timeout tests); nothing left to tell it


def _flat(parsed: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[-1] for k, v in parsed.items()}


def _k8s_status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def write_kubeconfig(path: Path, server_url: str, *, token: str = "test-token", context: str = "fixture") -> Path:
    """A kubeconfig that points the real ``kubernetes`` client at ``server_url`` with token auth."""
    import yaml  # local: only Kubernetes tests need it

    path.write_text(yaml.safe_dump(kubeconfig_dict(server_url, token=token, context=context), sort_keys=False))
    return path


def kubeconfig_dict(server_url: str, *, token: str = "test-token", context: str = "fixture") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fixture-cluster", "cluster": {"server": server_url}}],
        "users": [{"name": "fixture-user", "user": {"token": token}}],
        "contexts": [
            {"name": context, "context": {"cluster": "fixture-cluster", "user": "fixture-user", "namespace": "shop"}}
        ],
        "current-context": context,
        "preferences": {},
    }
