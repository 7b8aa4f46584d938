"""Signed inbound webhooks: PagerDuty v3 and Slack request signatures, checked in constant time.

>>> import hashlib, hmac
>>> body = b'{"event": {}}'
>>> sig = "v1=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
>>> verify_pagerduty(b"s3cret", body, "v1=00," + sig)
>>> verify_slack(b"k", b"a=1", "1700000000", slack_signature(b"k", b"a=1", "1700000000"), now=1700000100.0)
"""

from __future__ import annotations

import hashlib
import hmac

from hx.errors import BadSignature

#: Slack's replay window: a request signed more than this many seconds from now is refused.
SLACK_MAX_SKEW_S = 300.0


def _hex(secret: bytes, message: bytes) -> str:
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify_pagerduty(secret: bytes, body: bytes, header: str | None) -> None:
    """``X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]`` (several while a secret rotates): one must match."""
    if not header:
        raise BadSignature("missing X-PagerDuty-Signature header")
    expected = "v1=" + _hex(secret, body)
    if not any(hmac.compare_digest(expected, part.strip()) for part in header.split(",")):
        raise BadSignature("X-PagerDuty-Signature does not match the body and the webhook secret")


def slack_signature(secret: bytes, body: bytes, timestamp: str) -> str:
    return "v0=" + _hex(secret, b"v0:" + timestamp.encode() + b":" + body)


def verify_slack(secret: bytes, body: bytes, timestamp: str | None, header: str | None, *, now: float) -> None:
    """``X-Slack-Signature: v0=<hex of HMAC-SHA256 over v0:{timestamp}:{body}>``, timestamp within 5 minutes."""
    if not timestamp or not header:
        raise BadSignature("missing X-Slack-Request-Timestamp or X-Slack-Signature header")
    try:
        ts = float(timestamp)
    except ValueError as err:
        raise BadSignature(f"X-Slack-Request-Timestamp {timestamp[:40]!r} is not a number") from err
    if abs(now - ts) > SLACK_MAX_SKEW_S:
        raise BadSignature(f"X-Slack-Request-Timestamp is {abs(now - ts):.0f} s from now (limit 300 s): replay?")
    if not hmac.compare_digest(slack_signature(secret, body, timestamp), header.strip()):
        raise BadSignature("X-Slack-Signature does not match the body, the timestamp and the signing secret")
