"""Oracles: checks that turn a wrong answer into a crash.

The contract, stated once: an oracle that sees a broken invariant raises InvariantViolation.
Harness allow-lists never swallow it (fuzz.harness.allow re-raises it), so under atheris it is
an uncaught exception, i.e. a crash file.
"""


class InvariantViolation(AssertionError):
    """An invariant of the code under test does not hold; `name` identifies which one."""

    def __init__(self, name: str, detail: str = ""):
        self.name = name
        self.detail = detail
        super().__init__(f"invariant '{name}' violated" + (f": {detail}" if detail else ""))
