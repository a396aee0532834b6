"""Stand-ins on 127.0.0.1 for the services push and SMS reminders talk to: real HTTP,
real encryption and signatures, nothing from the internet.

PushStandIn is a push service: each subscription it hands out has its own P-256 key
and auth secret (as a browser's would), and every notification posted to it is
decrypted with them (http_ece, aes128gcm) and its VAPID signature checked.
TwilioStandIn answers Twilio's Messages API the way Twilio does (basic auth with the
account SID and token, form fields, JSON answers and error codes).
SmtpStandIn is a mail server (aiosmtpd): real SMTP sessions, refused addresses on
request."""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs

import http_ece
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class PushReceived:
    path: str
    headers: dict[str, str]
    payload: dict[str, Any]
    vapid_claims: dict[str, Any]
    vapid_public_key: str


@dataclass
class PushStandIn:
    base: str = ""
    keys: dict[str, tuple[ec.EllipticCurvePrivateKey, bytes]] = field(default_factory=dict)
    received: list[PushReceived] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)  # path → status (default 201)
    errors: list[str] = field(default_factory=list)
    # Decrypt and verify one notification in this many (a benchmark's stand-in shares
    # the machine's CPU with the workers it measures); every one is counted.
    check_every: int = 1
    accepted: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def subscription(self) -> dict[str, Any]:
        """A browser's PushSubscription.toJSON() for a new endpoint of this service."""
        private = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        path = f"/push/{len(self.keys) + 1}"
        self.keys[path] = (private, auth)
        public = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.base + path,
            "keys": {"p256dh": b64url(public), "auth": b64url(auth)},
        }

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        status = self.answers.get(path, 201)
        if status >= 300:
            return status
        with self._lock:
            self.accepted += 1
            checked = self.accepted % self.check_every == 0
        if not checked:
            return status
        private, auth = self.keys[path]
        try:
            plain = http_ece.decrypt(body, private_key=private, auth_secret=auth,
                                     version="aes128gcm")  # fmt: skip
            claims, vapid_key = _vapid_verified(headers.get("authorization", ""))
        except Exception as error:  # reported to the test, which fails on it
            self.errors.append(f"{type(error).__name__}: {error}")
            return 400
        self.received.append(PushReceived(path, headers, json.loads(plain), claims, vapid_key))
        return status


def _vapid_verified(authorization: str) -> tuple[dict[str, Any], str]:
    """RFC 8292: `vapid t=<ES256 JWT>, k=<public key>`; the signature must verify."""
    scheme, _, rest = authorization.partition(" ")
    assert scheme == "vapid", authorization[:20]
    parts = dict(item.strip().split("=", 1) for item in rest.split(","))
    token, key = parts["t"], parts["k"]
    signed, _, signature = token.rpartition(".")
    raw = unb64url(signature)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    public.verify(
        encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
        signed.encode(),
        ec.ECDSA(hashes.SHA256()),
    )
    claims = json.loads(unb64url(signed.split(".")[1]))
    return claims, key


@dataclass
class TwilioStandIn:
    base: str = ""
    account_sid: str = "AC" + "0" * 32
    auth_token: str = "stand-in-auth-token"
    texts: list[dict[str, str]] = field(default_factory=list)
    # to → (status, JSON body) for an error answer; otherwise 201 with the message.
    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    refused_auth: int = 0

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        expected = "Basic " + base64.b64encode(
            f"{self.account_sid}:{self.auth_token}".encode()
        ).decode()
        if headers.get("authorization") != expected:
            self.refused_auth += 1
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        if path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return 404, {"code": 20404, "message": "Not found", "status": 404}
        form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
        answer = self.answers.get(form.get("To", ""))
        if answer is not None:
            return answer
        self.texts.append(form)
        sid = f"SM{len(self.texts):032d}"
        return 201, {"sid": sid, "account_sid": self.account_sid, "to": form.get("To"),
                     "from": form.get("From"), "body": form.get("Body"), "status": "queued"}

    def last_code(self) -> str:
        return next(word.rstrip(".") for word in self.texts[-1]["Body"].split()
                    if word.rstrip(".").isdigit())  # fmt: skip


@contextmanager
def _serving(handle: Any) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as a push service or Twilio keeps connections open for a client
        # that reuses them (every answer has a Content-Length).
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            # Header names in lower case: HTTP does not care, and clients differ.
            headers = {key.lower(): value for key, value in self.headers.items()}
            result = handle(self.path, headers, body)
            status, answer = result if isinstance(result, tuple) else (result, None)
            data = json.dumps(answer).encode() if answer is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


S = TypeVar("S", PushStandIn, TwilioStandIn)


@contextmanager
def _stand_in(service: S) -> Iterator[S]:
    with _serving(service.handle) as base:
        service.base = base
        yield service


def push_stand_in() -> AbstractContextManager[PushStandIn]:
    return _stand_in(PushStandIn())


def twilio_stand_in() -> AbstractContextManager[TwilioStandIn]:
    return _stand_in(TwilioStandIn())


@contextmanager
def twilio_configured(settings: Any) -> Iterator[TwilioStandIn]:
    """The stand-in, with the site's SMS settings (pytest-django's `settings`) pointing
    at it: texts are on while it runs."""
    with twilio_stand_in() as stand_in:
        settings.SMS_PROVIDER = "twilio"
        settings.SMS_FROM = "+15005550006"
        settings.SMS_TWILIO_ACCOUNT_SID = stand_in.account_sid
        settings.SMS_TWILIO_AUTH_TOKEN = stand_in.auth_token
        settings.SMS_TWILIO_API_BASE = stand_in.base
        yield stand_in


@dataclass
class SmtpStandIn:
    """A real SMTP server on 127.0.0.1 (aiosmtpd): it keeps what it is sent, counts the
    connections (sessions) it was sent through and refuses the addresses in `refuse`."""

    host: str = "127.0.0.1"
    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    sessions: set[int] = field(default_factory=set)
    refuse: set[str] = field(default_factory=set)
    keep: bool = True  # False: count only (a benchmark's 20,000 messages)
    received: int = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        self.sessions.add(id(session))
        self.received += 1
        if self.keep:
            self.messages.append(
                BytesParser(policy=email_policy.default).parsebytes(envelope.content)
            )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_stand_in(keep: bool = True) -> Iterator[SmtpStandIn]:
    from aiosmtpd.controller import Controller

    service = SmtpStandIn(port=free_port(), keep=keep)
    controller = Controller(service, hostname=service.host, port=service.port)
    # aiosmtpd logs every command at INFO, addresses included: in a benchmark that is
    # 160,000 lines (and CPU the workers share) for 20,000 messages. Warnings still show.
    mail_log = logging.getLogger("mail.log")
    level = mail_log.level
    mail_log.setLevel(logging.WARNING)
    controller.start()
    try:
        yield service
    finally:
        controller.stop()
        mail_log.setLevel(level)
