"""How bad an incident or an alert is: the one severity scale of hx.

Alerts arrive with free-form severities (Alertmanager labels, PagerDuty words); :meth:`Severity.parse`
maps them onto the four levels, and :attr:`Severity.rank` orders them so the worst one wins.

>>> Severity.parse("PAGE"), Severity.parse("minor"), Severity.parse("whatever")
(<Severity.CRITICAL: 'critical'>, <Severity.WARNING: 'warning'>, <Severity.WARNING: 'warning'>)
>>> Severity.parse("P1"), Severity.parse("SEV-2"), Severity.parse("p3")
(<Severity.CRITICAL: 'critical'>, <Severity.ERROR: 'error'>, <Severity.WARNING: 'warning'>)
>>> Severity.CRITICAL.rank > Severity.ERROR.rank > Severity.WARNING.rank > Severity.INFO.rank
True
>>> Severity.ERROR == "error"
True
"""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """The four levels, worst first.  A ``str``: it compares, hashes and serialises as its value."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for info up to 3 for critical."""
        return _RANK[self]

    @classmethod
    def parse(cls, raw: object, default: Severity | None = None) -> Severity:
        """The level a free-form severity means (case-insensitive, with the usual aliases); ``default`` else."""
        text = str(raw).strip().lower() if raw is not None else ""
        text = _ALIASES.get(text, text)
        try:
            return cls(text)
        except ValueError:
            return default if default is not None else cls.WARNING


#: the values, worst first
SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)

_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2, Severity.CRITICAL: 3}
_ALIASES = {"page": "critical", "high": "error", "major": "error", "minor": "warning", "low": "info",
            "none": "info", "medium": "warning", "fatal": "critical", "emergency": "critical", "emerg": "critical",
            "alert": "critical", "crit": "critical", "err": "error", "severe": "error", "warn": "warning",
            "notice": "info", "informational": "info", "debug": "info", "ok": "info"}  # fmt: skip
# incident-priority scales (P1 .. P5, SEV1 .. SEV5, as PagerDuty, Opsgenie and most on-call tools number them)
for _n, _level in enumerate(("critical", "critical", "error", "warning", "info", "info")):  # P0 = P1 = critical
    for _form in (f"p{_n}", f"sev{_n}", f"sev-{_n}", f"sev_{_n}", f"sev {_n}", f"s{_n}"):
        _ALIASES[_form] = _level
