"""Email over SMTP: a multipart/alternative message (plain text + HTML) to ``notifiers.email.to``.

Optional STARTTLS (``notifiers.email.starttls``) and login (``username`` with the password from the
secret named by ``password_secret``).  SMTP 4xx replies and lost connections are retried; 5xx
replies (a refused sender or recipients, failed authentication) are permanent.  Every message about
one incident carries ``References: <hx-incident-<id>@hx>`` so mail clients thread them.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING

from hx.errors import ConfigError
from hx.heal.notify import render
from hx.heal.notify.base import EVENT_FOR_STATUS, Delivery, Notification, SecretSource
from hx.heal.notify.registry import NOTIFIERS, Transport, require_secret
from hx.http import Attempt, run_with_retries

if TYPE_CHECKING:
    from hx.config import Notifiers


@dataclass(frozen=True)
class SmtpTarget:
    """Where and as whom to send.  The password is kept out of repr."""

    host: str
    port: int
    from_addr: str
    to: tuple[str, ...]
    starttls: bool = False
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        return f"SmtpTarget({self.host}:{self.port}, from={self.from_addr}, to={list(self.to)}, tls={self.starttls})"


def build_message(message: Notification, from_addr: str, to: Sequence[str]) -> EmailMessage:
    """The multipart/alternative email for a notification (pure apart from the Message-ID)."""
    msg = EmailMessage()
    msg["Subject"] = render.subject(message)
    msg["From"] = from_addr
    msg["To"] = ", ".join(to)
    if message.updated_at is not None:
        msg["Date"] = format_datetime(message.updated_at)
    msg["Message-ID"] = make_msgid(domain="hx")
    msg["References"] = f"<{message.dedup_key}@hx>"
    msg["X-Hx-Incident"] = message.incident_id
    msg["X-Hx-Status"] = message.status
    msg.set_content(render.text(message))
    msg.add_alternative(render.html_body(message), subtype="html")
    return msg


def _classify(err: smtplib.SMTPException | OSError) -> Attempt:
    """SMTP 4xx and dropped connections are transient; 5xx and protocol refusals are permanent."""
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in err.recipients.values()]
        transient = bool(codes) and all(400 <= c < 500 for c in codes)
        return Attempt(
            ok=False,
            status=codes[0] if codes else None,
            error=f"all recipients refused: {err.recipients}",
            retryable=transient,
        )
    if isinstance(err, smtplib.SMTPResponseException):
        reply = err.smtp_error.decode(errors="replace") if isinstance(err.smtp_error, bytes) else str(err.smtp_error)
        transient = 400 <= err.smtp_code < 500
        kind = "transient" if transient else "permanent: not retried"
        return Attempt(
            ok=False,
            status=err.smtp_code,
            reply=reply[:500],
            error=f"SMTP {err.smtp_code} {reply[:200]} ({kind}, {type(err).__name__})",
            retryable=transient,
        )
    if isinstance(err, smtplib.SMTPNotSupportedError):
        return Attempt(
            ok=False,
            error=f"SMTP server does not support what is configured: {err} (check notifiers.email.starttls / username)",
            retryable=False,
        )
    if isinstance(err, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError) or not isinstance(
        err, smtplib.SMTPException
    ):
        return Attempt(ok=False, error=f"cannot reach SMTP server: {type(err).__name__}: {err}", retryable=True)
    return Attempt(ok=False, error=f"SMTP error: {type(err).__name__}: {err}", retryable=False)


def smtp_attempt(target: SmtpTarget, msg: EmailMessage, timeout: float) -> Attempt:
    """One SMTP conversation: connect, (STARTTLS), (login), send."""
    try:
        with smtplib.SMTP(target.host, target.port, timeout=timeout) as smtp:
            smtp.ehlo_or_helo_if_needed()
            if target.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if target.username:
                smtp.login(target.username, target.password or "")
            refused = smtp.send_message(msg, target.from_addr, list(target.to))
    except (smtplib.SMTPException, OSError) as err:
        return _classify(err)
    accepted = len(target.to) - len(refused)
    note = f"; refused: {sorted(refused)}" if refused else ""
    return Attempt(ok=True, status=250, reply=f"accepted for {accepted} recipient(s){note}")


class EmailNotifier:
    """Sends each notification as one email to every configured recipient."""

    name = "email"

    def __init__(self, target: SmtpTarget, transport: Transport) -> None:
        if not target.to:
            raise ConfigError("no recipients", key="notifiers.email.to", expected="a list of addresses")
        self._target = target
        self._transport = transport

    def close(self) -> None:
        """Nothing held open between sends."""

    def send(self, message: Notification) -> Delivery:
        t = self._transport
        msg = build_message(message, self._target.from_addr, self._target.to)
        outcome = run_with_retries(
            lambda timeout: smtp_attempt(self._target, msg, timeout), t.retry, sleep=t.sleep, monotonic=t.monotonic
        )
        last = outcome.last
        return Delivery(
            notifier=self.name,
            ok=last.ok,
            attempts=outcome.attempts,
            status=last.status,
            reply=last.reply,
            error=outcome.error,
            permanent=not last.ok and not last.retryable,
            dedup_key=message.dedup_key,
            latency_s=outcome.latency_s,
            waits=outcome.waits,
            incident_id=message.incident_id,
            event=EVENT_FOR_STATUS[message.status],
        )

    @classmethod
    def from_settings(cls, settings: Notifiers, secrets: SecretSource, transport: Transport) -> EmailNotifier:
        e = settings.email
        password = None
        if e.username:
            password = require_secret(secrets, e.password_secret, "notifiers.email.password_secret", cls.name)
        for addr in (e.from_addr, *e.to):
            if "@" not in addr or any(c.isspace() or c in "<>,;" for c in addr):
                raise ConfigError(f"{addr!r} is not an email address", key="notifiers.email", expected="user@host")
        target = SmtpTarget(e.smtp_host, e.smtp_port, e.from_addr, tuple(e.to), e.starttls, e.username, password)
        return cls(target, transport)


NOTIFIERS.add("email", EmailNotifier.from_settings)
