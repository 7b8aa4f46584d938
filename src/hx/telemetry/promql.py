"""A small, real PromQL syntax check for signal templates, run when settings load.

It tokenises and parses the expression (selectors with label matchers, range and subquery brackets, ``offset``
and ``@``, aggregations with ``by``/``without``, known function names, binary operators with ``bool``, ``on``,
``ignoring``, ``group_left``/``group_right``), so a template that Prometheus would refuse is refused at load,
naming the signal and the key, instead of at the first query.  It is a syntax check, not a type checker.

>>> parse_check("sum by (instance) (rate(x{service=\\"a\\"}[1m]))")
>>> sorted(metric_names('rate(a_total{x="1"}[5m]) / on (job) b or vector(0)'))
['a_total', 'b']
>>> try:
...     parse_check("sum(rate(x[1m])")
... except PromQLSyntaxError as err:
...     print(err)
unclosed '(' at offset 3
"""

from __future__ import annotations

import re
from dataclasses import dataclass

AGGREGATIONS = frozenset(
    [
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    ]
)
FUNCTIONS = frozenset(
    [
        "abs",
        "absent",
        "absent_over_time",
        "acos",
        "acosh",
        "asin",
        "asinh",
        "atan",
        "atanh",
        "avg_over_time",
        "ceil",
        "changes",
        "clamp",
        "clamp_max",
        "clamp_min",
        "cos",
        "cosh",
        "count_over_time",
        "day_of_month",
        "day_of_week",
        "day_of_year",
        "days_in_month",
        "deg",
        "delta",
        "deriv",
        "double_exponential_smoothing",
        "exp",
        "floor",
        "histogram_avg",
        "histogram_count",
        "histogram_fraction",
        "histogram_quantile",
        "histogram_stddev",
        "histogram_stdvar",
        "histogram_sum",
        "holt_winters",
        "hour",
        "idelta",
        "increase",
        "info",
        "irate",
        "label_join",
        "label_replace",
        "last_over_time",
        "ln",
        "log10",
        "log2",
        "mad_over_time",
        "max_over_time",
        "min_over_time",
        "minute",
        "month",
        "pi",
        "predict_linear",
        "present_over_time",
        "quantile_over_time",
        "rad",
        "rate",
        "resets",
        "round",
        "scalar",
        "sgn",
        "sin",
        "sinh",
        "sort",
        "sort_by_label",
        "sort_by_label_desc",
        "sort_desc",
        "sqrt",
        "stddev_over_time",
        "stdvar_over_time",
        "sum_over_time",
        "tan",
        "tanh",
        "time",
        "timestamp",
        "vector",
        "year",
    ]
)
BINARY_WORDS = frozenset({"and", "or", "unless", "atan2"})
_TOKEN = re.compile(
    r"""(?P<ws>\s+|\#[^\n]*)
    |(?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`]*`)
    |(?P<dur>[0-9]+(?:ms|s|m|h|d|w|y)(?:[0-9]+(?:ms|s|m|h|d|w|y))*(?![A-Za-z0-9_]))
    |(?P<num>(?:0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf|NaN)(?![A-Za-z0-9_:]))
    |(?P<ident>[A-Za-z_][A-Za-z0-9_:]*)
    |(?P<op>==|!=|=~|!~|>=|<=|[-+*/%^<>=,(){}\[\]:@])""",
    re.VERBOSE,
)


class PromQLSyntaxError(ValueError):
    """The expression does not parse; the message says where (a character offset)."""


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def tokenize(expr: str) -> list[_Tok]:
    """The tokens of ``expr`` (whitespace and comments dropped); refuses an unknown character or open string."""
    out: list[_Tok] = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            what = "unterminated string" if expr[pos] in "\"'`" else f"unexpected character {expr[pos]!r}"
            raise PromQLSyntaxError(f"{what} at offset {pos}")
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, expr: str) -> None:
        self.toks = tokenize(expr)
        self.i = 0
        self.metrics: list[str] = []

    # ---- helpers ---------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> _Tok | None:
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else None

    def at(self, text: str) -> bool:
        t = self.peek()
        return t is not None and t.text == text and t.kind in ("op", "ident")

    def take(self) -> _Tok:
        t = self.peek()
        if t is None:
            raise PromQLSyntaxError("unexpected end of expression")
        self.i += 1
        return t

    def expect(self, text: str, opened: _Tok | None = None) -> _Tok:
        t = self.peek()
        if t is None or t.text != text:
            if opened is not None:
                raise PromQLSyntaxError(f"unclosed {opened.text!r} at offset {opened.pos}")
            got = "the end" if t is None else f"{t.text!r} at offset {t.pos}"
            raise PromQLSyntaxError(f"expected {text!r}, got {got}")
        return self.take()

    # ---- grammar ---------------------------------------------------------------------

    def parse(self) -> None:
        if not self.toks:
            raise PromQLSyntaxError("empty expression")
        self.expr()
        t = self.peek()
        if t is not None:
            raise PromQLSyntaxError(f"unexpected {t.text!r} at offset {t.pos}")

    def expr(self) -> None:
        self.unary()
        while self._binary_op():
            self.unary()

    def _binary_op(self) -> bool:
        t = self.peek()
        if t is None or not (
            (t.kind == "op" and t.text in {"+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<="})
            or (t.kind == "ident" and t.text in BINARY_WORDS)
        ):
            return False
        self.take()
        if self.at("bool"):
            self.take()
        if self.at("on") or self.at("ignoring"):
            self.take()
            self.labels()
        if self.at("group_left") or self.at("group_right"):
            self.take()
            if self.at("("):
                self.labels()
        return True

    def unary(self) -> None:
        if self.at("-") or self.at("+"):
            self.take()
            self.unary()
            return
        self.primary()
        self.postfix()

    def postfix(self) -> None:
        if self.at("["):
            opened = self.take()
            self.duration()
            if self.at(":"):
                self.take()
                if not self.at("]"):
                    self.duration()
            self.expect("]", opened)
        while self.at("offset") or self.at("@"):
            word = self.take().text
            if word == "offset":
                if self.at("-"):
                    self.take()
                self.duration()
            elif self.at("start") or self.at("end"):
                self.take()
                self.expect("(")
                self.expect(")")
            else:
                self.number()

    def duration(self) -> None:
        t = self.take()
        if t.kind != "dur":
            raise PromQLSyntaxError(f"expected a duration such as 5m, got {t.text!r} at offset {t.pos}")

    def number(self) -> None:
        t = self.take()
        if t.kind not in ("num", "dur"):
            raise PromQLSyntaxError(f"expected a number, got {t.text!r} at offset {t.pos}")

    def primary(self) -> None:
        t = self.peek()
        if t is None:
            raise PromQLSyntaxError("unexpected end of expression")
        if t.kind in ("num", "str", "dur"):
            self.take()
        elif t.text == "(":
            opened = self.take()
            self.expr()
            self.expect(")", opened)
        elif t.text == "{":
            self.matchers()
        elif t.kind == "ident":
            self.named()
        else:
            raise PromQLSyntaxError(f"unexpected {t.text!r} at offset {t.pos}")

    def named(self) -> None:
        t = self.take()
        nxt = self.peek()
        if t.text in AGGREGATIONS and nxt is not None and nxt.text in ("(", "by", "without"):
            self.aggregation()
        elif nxt is not None and nxt.text == "(":
            if t.text not in FUNCTIONS:
                raise PromQLSyntaxError(f"unknown function {t.text!r} at offset {t.pos}")
            self.call()
        else:
            self.metrics.append(t.text)
            if self.at("{"):
                self.matchers()

    def aggregation(self) -> None:
        if self.at("by") or self.at("without"):
            self.take()
            self.labels()
        self.call()
        if self.at("by") or self.at("without"):
            self.take()
            self.labels()

    def call(self) -> None:
        opened = self.expect("(")
        if not self.at(")"):
            self.expr()
            while self.at(","):
                self.take()
                self.expr()
        self.expect(")", opened)

    def labels(self) -> None:
        opened = self.expect("(")
        while not self.at(")"):
            t = self.take()
            if t.kind != "ident":
                raise PromQLSyntaxError(f"expected a label name, got {t.text!r} at offset {t.pos}")
            if not self.at(","):
                break
            self.take()
        self.expect(")", opened)

    def matchers(self) -> None:
        opened = self.expect("{")
        while not self.at("}"):
            name = self.take()
            if name.kind not in ("ident", "str"):
                raise PromQLSyntaxError(f"expected a label name, got {name.text!r} at offset {name.pos}")
            op = self.peek()
            if op is None or op.text not in ("=", "!=", "=~", "!~"):
                if name.kind == "str" and (op is None or op.text in (",", "}")):  # {"metric.name"} (Prometheus 3)
                    self._take_comma()
                    continue
                raise PromQLSyntaxError(f"expected =, !=, =~ or !~ after label {name.text!r} at offset {name.pos}")
            self.take()
            value = self.take()
            if value.kind != "str":
                raise PromQLSyntaxError(f"label {name.text!r} needs a quoted value, got {value.text!r}")
            if not self._take_comma():
                break
        self.expect("}", opened)

    def _take_comma(self) -> bool:
        if self.at(","):
            self.take()
            return True
        return False


def parse_check(expr: str) -> None:
    """Raise :class:`PromQLSyntaxError` when ``expr`` is not valid PromQL syntax."""
    _Parser(expr).parse()


def metric_names(expr: str) -> list[str]:
    """The metric names the expression selects, in order, without repeats."""
    p = _Parser(expr)
    p.parse()
    return list(dict.fromkeys(p.metrics))
