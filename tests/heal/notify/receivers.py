"""Real local receivers for notifier tests, integration tests and the demo.

- :func:`recording_http_server` -- a ThreadingHTTPServer on a free loopback port standing in for
  Slack, PagerDuty and any webhook: it records every request (path, headers, body) and answers from a
  per-path script (e.g. 429 with Retry-After, then 500, then 202), falling back to a per-path default.
- :func:`smtp_server` -- an aiosmtpd ``Controller`` on a free loopback port recording every message,
  optionally requiring AUTH (no TLS) and answering scripted failures first.
- :class:`FakeTime` -- an injectable ``sleep`` that records the waits and advances a fake ``monotonic``.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import warnings
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeTime:
    """``sleep`` records the pause and advances ``monotonic``; nothing waits for real."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


# ---- HTTP -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A scripted answer."""

    status: int = 200
    body: bytes | str | Mapping[str, Any] = b"ok"
    headers: Mapping[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "text/plain"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.body).encode(), "application/json"


@dataclass(frozen=True)
class Recorded:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RecordingServer:
    """Records requests; answers per path from a queue of scripted replies, then the path's default."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._scripts: dict[str, deque[Reply]] = {}
        self._defaults: dict[str, Reply] = {}
        self._lock = threading.Lock()
        self.base_url = ""

    def url(self, path: str = "/") -> str:
        return f"{self.base_url}{path}"

    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to ``path`` with these replies, in order."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(replies)

    def default(self, path: str, reply: Reply) -> None:
        with self._lock:
            self._defaults[path] = reply

    def to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _handle(self, rec: Recorded) -> Reply:
        with self._lock:
            self.requests.append(rec)
            queue = self._scripts.get(rec.path)
            if queue:
                return queue.popleft()
            return self._defaults.get(rec.path, Reply())


def _handler(server: RecordingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = server._handle(Recorded(self.command, self.path, headers, body))
            payload, ctype = reply.encoded()
            self.send_response(reply.status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)

        do_POST = do_GET = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def recording_http_server() -> Iterator[RecordingServer]:
    """A recording HTTP server on a free loopback port; ``server.url("/slack")`` is where to point a sink."""
    rec = RecordingServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    httpd.daemon_threads = True
    rec.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# ---- SMTP ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    """One message the SMTP server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.raw, policy=email.policy.default)
        if not isinstance(msg, EmailMessage):  # pragma: no cover
            raise TypeError("not an EmailMessage")
        return msg


class SmtpRecorder:
    """aiosmtpd handler: records messages; answers DATA from ``fail_with`` first (e.g. "451 4.3.0 busy")."""

    def __init__(self, fail_with: Sequence[str] = ()) -> None:
        self.messages: list[Mail] = []
        self.fail_with: deque[str] = deque(fail_with)
        self.logins: list[str] = []
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail_with:
            return self.fail_with.popleft()
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        self.messages.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), raw))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(*, users: Mapping[str, str] | None = None, fail_with: Sequence[str] = ()) -> Iterator[SmtpRecorder]:
    """A real SMTP server on a free loopback port.  ``users`` turns on AUTH (PLAIN/LOGIN, no TLS needed)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    handler = SmtpRecorder(fail_with)

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword) and users is not None:
            user, password = data.login.decode(), data.password.decode()
            if users.get(user) == password:
                handler.logins.append(user)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    port = free_port()
    kwargs: dict[str, Any] = {}
    if users is not None:
        kwargs = {"authenticator": authenticate, "auth_require_tls": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quiet start-up chatter; AUTH is offered, not required
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
    handler.port = port
    try:
        yield handler
    finally:
        controller.stop()


@contextmanager
def hanging_server() -> Iterator[str]:
    """A loopback HTTP endpoint that accepts connections and never answers (a dead sink); yields its URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()
