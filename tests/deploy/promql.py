"""The series a PromQL expression reads: each selector's metric name and label matchers. A small
tokenizer and walker, not a PromQL parser (no promtool wheel exists): enough to tell metric names
from functions, aggregations, keywords, grouping labels, durations and strings, so the rule tests can
check every name and matcher against what the gateway exports."""

from __future__ import annotations

import re
from dataclasses import dataclass

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
        "double_exponential_smoothing",
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
        "start",
        "end",
    ]  # start() and end(): the @ modifier's
)
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
# Followed by a parenthesised list of label names, not series.
GROUPING = frozenset(["by", "without", "on", "ignoring", "group_left", "group_right"])
KEYWORDS = frozenset(["and", "or", "unless", "atan2", "bool", "offset", "inf", "nan"])

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<number>(?:0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?:[a-zA-Z]+\d*)*)
  | (?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<matcher>=~|!~|!=|==|=)
  | (?P<punct>[(){}\[\],@^*/%+\-<>!])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Selector:
    """One series selector: `name` ("" for a selector by labels alone) and its (label, op, value) matchers."""

    name: str
    matchers: tuple[tuple[str, str, str], ...] = ()

    @property
    def labels(self) -> set[str]:
        return {label for label, _, _ in self.matchers}


def tokens(expr: str) -> list[tuple[str, str]]:
    """(kind, text) for each token but whitespace and comments; ValueError at anything else."""
    found: list[tuple[str, str]] = []
    at = 0
    while at < len(expr):
        match = _TOKEN.match(expr, at)
        if match is None:
            raise ValueError(f"cannot read PromQL at {expr[at : at + 20]!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            found.append((kind, match.group()))
        at = match.end()
    return found


def _unquote(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _closing(found: list[tuple[str, str]], start: int, opening: str, closing: str) -> int:
    """The index of the token closing the bracket opened at `start`."""
    depth = 0
    for index in range(start, len(found)):
        text = found[index][1]
        if found[index][0] == "punct" and text == opening:
            depth += 1
        elif found[index][0] == "punct" and text == closing:
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unbalanced {opening!r} in PromQL")


def _matchers(found: list[tuple[str, str]], start: int, end: int) -> tuple[tuple[str, str, str], ...]:
    """The matchers between the braces at `start` and `end`: label op "value", separated by commas."""
    inner = [token for token in found[start + 1 : end] if token != ("punct", ",")]
    if len(inner) % 3:
        raise ValueError(f"unreadable label matchers: {' '.join(t for _, t in inner)}")
    matchers = []
    for index in range(0, len(inner), 3):
        (kind_l, label), (kind_o, op), (kind_v, value) = inner[index : index + 3]
        if kind_l not in ("name", "string") or kind_o != "matcher" or kind_v != "string" or op == "==":
            raise ValueError(f"unreadable label matcher: {label} {op} {value}")
        matchers.append((_unquote(label) if kind_l == "string" else label, op, _unquote(value)))
    return tuple(matchers)


def _check_balanced(found: list[tuple[str, str]]) -> None:
    pairs = {")": "(", "]": "[", "}": "{"}
    open_: list[str] = []
    for kind, text in found:
        if kind == "punct" and text in "([{":
            open_.append(text)
        elif kind == "punct" and text in pairs and (not open_ or open_.pop() != pairs[text]):
            raise ValueError(f"unbalanced {text!r} in PromQL")
    if open_:
        raise ValueError(f"unclosed {open_[-1]!r} in PromQL")


def selectors(expr: str) -> list[Selector]:
    """Every series selector in `expr`, in order."""
    found = tokens(expr)
    _check_balanced(found)
    result: list[Selector] = []
    index = 0
    while index < len(found):
        kind, text = found[index]
        following = found[index + 1][1] if index + 1 < len(found) else ""
        if kind == "punct" and text == "[":  # a range or subquery: durations only
            index = _closing(found, index, "[", "]") + 1
        elif kind == "punct" and text == "{":  # a selector by labels alone: {__name__="x", ...}
            end = _closing(found, index, "{", "}")
            matchers = _matchers(found, index, end)
            names = [value for label, op, value in matchers if label == "__name__" and op == "="]
            result.append(Selector(names[0] if names else "", tuple(m for m in matchers if m[0] != "__name__")))
            index = end + 1
        elif kind != "name":
            index += 1
        elif text.lower() in GROUPING and following == "(":
            index = _closing(found, index + 1, "(", ")") + 1
        elif (
            text.lower() in KEYWORDS
            or (following == "(" and (text in FUNCTIONS or text in AGGREGATIONS))
            or (text in AGGREGATIONS and following.lower() in GROUPING)
        ):
            index += 1
        elif following == "(":
            raise ValueError(f"unknown PromQL function {text}()")
        elif following == "{":
            end = _closing(found, index + 1, "{", "}")
            result.append(Selector(text, _matchers(found, index + 1, end)))
            index = end + 1
        else:
            result.append(Selector(text))
            index += 1
    return result


def metric_names(expr: str) -> set[str]:
    return {selector.name for selector in selectors(expr) if selector.name}
