"""Render a Notification as plain text, a subject line, Slack mrkdwn/Block Kit, or HTML for email.

Pure functions over the notification: no I/O.  Everything a user or a service wrote is escaped for
the target format (Slack's ``& < >``, HTML entities), and Slack's size limits are respected
(header 150 characters, section text 3000, at most 10 fields).

>>> from datetime import UTC, datetime
>>> t = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
>>> n = Notification("42", "checkout is slow", "error", "checkout", "prod", "latency", opened_at=t, updated_at=t)
>>> subject(n)
'[hx] [ERROR] Triggered: checkout is slow (checkout, prod, incident 42)'
>>> slack_payload(n)["blocks"][0]["type"]
'header'
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from hx.heal.notify.base import Notification

_ICON = {
    "critical": ":red_circle:",
    "error": ":large_orange_circle:",
    "warning": ":large_yellow_circle:",
    "info": ":large_blue_circle:",
}
_STATUS_ICON = {"triggered": ":rotating_light:", "acknowledged": ":eyes:", "resolved": ":white_check_mark:"}
_HTML_COLOUR = {"critical": "#b00020", "error": "#d9480f", "warning": "#b08800", "info": "#1c6dd0"}


def _when(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if t is not None else "-"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def headline(n: Notification) -> str:
    """``[SEVERITY] Status: title``."""
    return f"[{n.severity.upper()}] {n.status.capitalize()}: {n.title}"


def subject(n: Notification) -> str:
    """An email subject line (one line, <= 200 characters)."""
    extra = f" ({n.repeat_count} repeats)" if n.repeat_count else ""
    return _cut(f"[hx] {headline(n)} ({n.service}, {n.environment}, incident {n.incident_id}){extra}", 200)


def _repeat_line(n: Notification) -> str | None:
    if not n.repeat_count:
        return None
    times = "time" if n.repeat_count == 1 else "times"
    return f"Repeated {n.repeat_count} {times} since the last message."


def _escalation_line(n: Notification) -> str | None:
    return f"Escalation level {n.escalation_level}." if n.escalation_level else None


# ---- plain text ------------------------------------------------------------------------------


def text(n: Notification) -> str:
    """A plain-text rendering (email text part, webhook ``text``, logs)."""
    lines = [
        headline(n),
        f"Incident {n.incident_id} · service {n.service} · environment {n.environment} · class {n.incident_class}",
        f"Opened {_when(n.opened_at)} · updated {_when(n.updated_at)}",
    ]
    lines += [x for x in (_repeat_line(n), _escalation_line(n)) if x]
    if n.summary:
        lines += ["", n.summary]
    if n.root_causes:
        lines += ["", "Root-cause candidates:"]
        lines += [f"  {i}. {r.service} / {r.metric} (score {r.score:.2f})" for i, r in enumerate(n.root_causes, 1)]
    if n.actions:
        lines += ["", "Actions taken:"]
        lines += [
            f"  - {_action_text(a.action, a.target)}: {'ok' if a.ok else 'FAILED'}"
            + (f" ({a.detail})" if a.detail else "")
            for a in n.actions
        ]
    if n.links:
        lines += ["", "Links:"] + [f"  - {lk.text}: {lk.url}" for lk in n.links]
    return "\n".join(lines) + "\n"


def _action_text(action: str, target: str) -> str:
    return f"{action} {target}" if target else action


# ---- Slack ---------------------------------------------------------------------------------------


def mrkdwn_escape(value: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters.

    >>> mrkdwn_escape("a < b & c > d")
    'a &lt; b &amp; c &gt; d'
    """
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str, label: str) -> str:
    return f"<{url.replace('|', '%7C').replace('>', '%3E')}|{mrkdwn_escape(label).replace('|', '¦')}>"


def markdown(n: Notification) -> str:
    """Slack mrkdwn: the ``text`` fallback of the message (notifications, clients without blocks)."""
    e = mrkdwn_escape
    parts = [
        f"{_STATUS_ICON[n.status]} *{e(headline(n))}*",
        f"`{e(n.service)}` in `{e(n.environment)}` · {e(n.incident_class)} · incident {e(n.incident_id)}",
    ]
    parts += [x for x in (_repeat_line(n), _escalation_line(n)) if x]
    if n.summary:
        parts.append(e(n.summary))
    return _cut("\n".join(parts), 3000)


def _section(text_: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text_, 3000)}}


def slack_blocks(n: Notification) -> list[dict[str, Any]]:
    """Block Kit: header, fields, root causes, actions, context with links and times."""
    e = mrkdwn_escape
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(headline(n), 150), "emoji": True}},
    ]
    if n.summary or n.repeat_count or n.escalation_level:
        lines = [x for x in (_repeat_line(n), _escalation_line(n)) if x] + ([e(n.summary)] if n.summary else [])
        blocks.append(_section("\n".join(lines)))
    fields = [
        ("Class", n.incident_class),
        ("Service", n.service),
        ("Severity", f"{_ICON[n.severity]} {n.severity}"),
        ("Environment", n.environment),
        ("Status", n.status),
        ("Incident", n.incident_id),
    ]
    blocks.append(
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": _cut(f"*{k}*\n{e(v) if k != 'Severity' else v}", 2000)} for k, v in fields
            ],
        }
    )
    if n.root_causes:
        rows = [
            f"{i}. `{e(r.service)}` / `{e(r.metric)}` — score {r.score:.2f}" for i, r in enumerate(n.root_causes, 1)
        ]
        blocks.append(_section("*Root-cause candidates*\n" + "\n".join(rows)))
    if n.actions:
        rows = [
            f"{':white_check_mark:' if a.ok else ':x:'} {e(_action_text(a.action, a.target))}"
            + (f" — {e(a.detail)}" if a.detail else "")
            for a in n.actions
        ]
        blocks.append(_section("*Actions taken*\n" + "\n".join(rows)))
    context = [f"Opened {_when(n.opened_at)} · updated {_when(n.updated_at)}"]
    if n.links:
        context.append(" · ".join(_link(lk.url, lk.text) for lk in n.links))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(c, 3000)} for c in context]})
    return blocks


def slack_payload(n: Notification) -> dict[str, Any]:
    """The incoming-webhook body: ``text`` (fallback) plus ``blocks``."""
    return {"text": markdown(n), "blocks": slack_blocks(n)}


# ---- HTML ------------------------------------------------------------------------------------------


def html_body(n: Notification) -> str:
    """A self-contained HTML email body; every value escaped, links only http(s) (checked on the Link)."""
    h = html.escape
    colour = _HTML_COLOUR[n.severity]
    rows = [
        ("Incident", n.incident_id),
        ("Service", n.service),
        ("Environment", n.environment),
        ("Class", n.incident_class),
        ("Severity", n.severity),
        ("Status", n.status),
        ("Opened", _when(n.opened_at)),
        ("Updated", _when(n.updated_at)),
    ]
    out = [
        "<!DOCTYPE html>",
        '<html><body style="font-family:sans-serif">',
        f'<h2 style="color:{colour}">{h(headline(n))}</h2>',
    ]
    out += [f"<p><em>{h(x)}</em></p>" for x in (_repeat_line(n), _escalation_line(n)) if x]
    if n.summary:
        out.append(f"<p>{h(n.summary)}</p>")
    out.append(
        "<table>" + "".join(f'<tr><th align="left">{h(k)}</th><td>{h(v)}</td></tr>' for k, v in rows) + "</table>"
    )
    if n.root_causes:
        items = "".join(f"<li>{h(r.service)} / {h(r.metric)} (score {r.score:.2f})</li>" for r in n.root_causes)
        out.append(f"<h3>Root-cause candidates</h3><ol>{items}</ol>")
    if n.actions:
        items = "".join(
            f"<li>{h(_action_text(a.action, a.target))}: <strong>{'ok' if a.ok else 'FAILED'}</strong>"
            + (f" ({h(a.detail)})" if a.detail else "")
            + "</li>"
            for a in n.actions
        )
        out.append(f"<h3>Actions taken</h3><ul>{items}</ul>")
    if n.links:
        items = "".join(f'<li><a href="{h(lk.url, quote=True)}">{h(lk.text)}</a></li>' for lk in n.links)
        out.append(f"<h3>Links</h3><ul>{items}</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
