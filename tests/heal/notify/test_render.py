from __future__ import annotations

from hx.heal.notify import ActionTaken, Link, RootCause, render
from tests.heal.notify.conftest import make_notification


def test_text_has_every_part() -> None:
    out = render.text(make_notification(repeat_count=3, escalation_level=1))
    assert out.startswith("[ERROR] Triggered: checkout p99 latency above SLO\n")
    for part in (
        "Incident inc-42 · service checkout · environment prod · class latency_regression",
        "Opened 2026-03-01 12:00:00 UTC",
        "Repeated 3 times since the last message.",
        "Escalation level 1.",
        "p99 latency 2.4 s",
        "1. payments / latency_p99 (score 0.91)",
        "- rollback checkout: ok (to v1.8.2)",
        "- Runbook: https://runbooks.example.com/latency",
    ):
        assert part in out


def test_minimal_notification_renders_without_empty_sections() -> None:
    n = make_notification(summary="", root_causes=(), actions=(), links=(), opened_at=None, updated_at=None)
    out = render.text(n)
    assert "Root-cause" not in out and "Actions" not in out and "Links" not in out
    blocks = render.slack_blocks(n)
    assert [b["type"] for b in blocks] == ["header", "section", "context"]
    assert "<h3>" not in render.html_body(n)


def test_slack_escapes_and_respects_limits() -> None:
    n = make_notification(
        title="x" * 400,
        summary="<!channel> & <https://evil|click> " + "y" * 5000,
        root_causes=(RootCause("a<b", "m&n", 0.5),),
        actions=(ActionTaken("restart", False, "exit 1 > /dev/null"),),
        links=(Link("a|b>c", "https://example.com/x?a=1|2"),),
    )
    payload = render.slack_payload(n)
    assert "<!channel>" not in payload["text"] and "&lt;!channel&gt; &amp;" in payload["text"]
    assert len(payload["text"]) <= 3000
    header, summary = payload["blocks"][0], payload["blocks"][1]
    assert len(header["text"]["text"]) <= 150
    assert len(summary["text"]["text"]) <= 3000 and "&lt;!channel&gt;" in summary["text"]["text"]
    rc = next(b for b in payload["blocks"] if "Root-cause" in b.get("text", {}).get("text", ""))
    assert "`a&lt;b` / `m&amp;n`" in rc["text"]["text"]
    actions = next(b for b in payload["blocks"] if "Actions taken" in b.get("text", {}).get("text", ""))
    assert ":x: restart — exit 1 &gt; /dev/null" in actions["text"]["text"]
    links = payload["blocks"][-1]["elements"][-1]["text"]
    assert links == "<https://example.com/x?a=1%7C2|a¦b&gt;c>"
    fields = next(b["fields"] for b in payload["blocks"] if "fields" in b)
    assert len(fields) <= 10


def test_html_escapes_everything() -> None:
    n = make_notification(
        title="<script>alert(1)</script>", summary="a & b", links=(Link('x"y', 'https://example.com/"onclick=1'),)
    )
    out = render.html_body(n)
    assert "<script>" not in out and "&lt;script&gt;" in out and "a &amp; b" in out
    assert 'href="https://example.com/&quot;onclick=1"' in out


def test_subject_is_one_short_line() -> None:
    s = render.subject(make_notification(title="t" * 300, repeat_count=2, status="acknowledged"))
    assert len(s) <= 200 and "\n" not in s and s.startswith("[hx] [ERROR] Acknowledged: ttt")
