"""Severity: proxyfuzz's own rule set, first matching rule wins.

A proxy's worst bugs are the ones that let two parties disagree about where a request ends
(smuggling) or that lose or invent bytes; then whatever a remote peer can use to stop the proxy
(memory, time, an exception that kills a connection's data path); configuration mistakes come from
the operator, not from the network, so they rate low.

The numbers are GitHub code scanning's `security-severity` (critical > 9.0, high 7.0-8.9,
medium 4.0-6.9, low 0.1-3.9).
"""

from __future__ import annotations

import dataclasses
import re

from .classify import Failure
from .signature import Frame

SCORES = {"critical": 9.5, "high": 8.0, "medium": 5.5, "low": 3.0}

# Invariant names that mean framing was broken: desync, smuggling, lost or invented bytes.
FRAMING_INVARIANT = re.compile(
    r"smuggl|discrepan|differential|desync|framing|request.?count|lost|invent|bytes|split|round.?trip",
    re.IGNORECASE,
)
# Project paths on the data path: what a remote peer's bytes reach.
DATA_PLANE = ("proxy/http/", "proxy/network/", "proxy/upstream/", "proxy/buffer.py", "proxy/event.py")
CONFIG = ("proxy/config/",)


@dataclasses.dataclass(frozen=True)
class Rule:
    name: str
    level: str
    explanation: str


RULES = (
    Rule("security-marker", "(as printed)", "the output carries FuzzerSecurityIssue<Level>: that level is used as is"),
    Rule(
        "framing-invariant",
        "high",
        "broken invariant about framing: smuggling discrepancy, desync, lost or invented bytes",
    ),
    Rule("native-crash", "high", "the interpreter died on a signal: memory corruption in native code"),
    Rule("unbounded-memory", "medium", "out of memory: a peer can exhaust the proxy's memory"),
    Rule("timeout", "medium", "timeout: a peer can stall the proxy"),
    Rule("other-invariant", "medium", "broken invariant (flow control, buffers, filter iteration)"),
    Rule(
        "data-plane-exception",
        "medium",
        "uncaught exception in a codec or on the data path: a peer can kill connections",
    ),
    Rule("config-exception", "low", "uncaught exception in configuration loading: operator input, not network input"),
    Rule("other", "low", "anything else (uncaught exception elsewhere, unexpected exit, not reproduced)"),
)
_BY_NAME = {rule.name: rule for rule in RULES}


@dataclasses.dataclass(frozen=True)
class Severity:
    level: str
    rule: str
    explanation: str

    @property
    def score(self) -> float:
        return SCORES[self.level]


def rate(failure: Failure, frames: list[Frame]) -> Severity:
    def verdict(rule_name: str, level: str | None = None) -> Severity:
        rule = _BY_NAME[rule_name]
        return Severity(level or rule.level, rule.name, rule.explanation)

    if failure.security_level:
        return verdict("security-marker", failure.security_level)
    if failure.kind == "invariant":
        if FRAMING_INVARIANT.search(failure.invariant or failure.message):
            return verdict("framing-invariant")
        return verdict("other-invariant")
    if failure.kind == "signal":
        return verdict("native-crash")
    if failure.kind == "oom":
        return verdict("unbounded-memory")
    if failure.kind == "timeout":
        return verdict("timeout")
    if failure.kind == "exception":
        project = [f.path for f in frames if f.origin == "project"]
        innermost = project[0] if project else ""
        if innermost.startswith(DATA_PLANE):
            return verdict("data-plane-exception")
        if innermost.startswith(CONFIG):
            return verdict("config-exception")
    return verdict("other")


def rules_table() -> str:
    """The rule set as a Markdown table, for the reports."""
    rows = ["| rule | severity | when |", "|---|---|---|"]
    rows += [f"| {r.name} | {r.level} | {r.explanation} |" for r in RULES]
    return "\n".join(rows)
