"""Regular expressions from untrusted input, matched in linear time as RE2 matches them.

Envoy evaluates the admin's `/stats?filter=` with RE2, whose matching time is linear in the
pattern and the text. Python's `re` backtracks: one request with a filter such as
`^([a-z_.]+)+[^a-z_.]` ran for hours over a stat name of 40 characters, and the admin shares the
event loop with the data plane, so every listener stopped and SIGTERM waited too. Here a pattern in
RE2's syntax is parsed into a small program and run as a Thompson NFA (every thread advances one
character at a time, each state at most once per character): O(len(text) x len(program)).

What RE2 refuses and `re` would take (backreferences, lookaround) is refused, as are the few RE2
features this subset lacks (flags, Unicode classes, `\\Q...\\E`): `RegexError` names the problem.
Semantics follow RE2's defaults: `.` is any character but newline, `^`/`$` are the start and end
of the text, `\\d \\w \\s \\b` are ASCII.
"""

from collections.abc import Callable

Char = Callable[[str], bool]

MAX_PROGRAM = 1000  # instructions; (a{1000}){1000} stops here instead of growing to 10**6
MAX_REPEAT = 1000  # RE2's bound on a counted repetition
MAX_DEPTH = 200  # nested groups
_CACHE = 10_000  # cached states per pattern before the caches start over

_DIGIT = frozenset("0123456789")
_WORD = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_SPACE = frozenset("\t\n\f\r ")
_CLASSES = {"d": _DIGIT, "w": _WORD, "s": _SPACE}
_CONTROLS = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_ASSERTIONS = {"A": "^", "z": "$", "b": "b", "B": "B"}


class RegexError(ValueError):
    """The pattern is not one this matcher takes; the message says why."""


def compile_linear(pattern: str) -> "LinearRegex":
    return LinearRegex(pattern)


class LinearRegex:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        tree = _Parser(pattern).parse()
        self._program: list[list] = []
        self._emit(tree)
        self._match = self._push(["match"])
        self._steps: dict[tuple, frozenset] = {}
        self._closures: dict[tuple, frozenset] = {}

    def search(self, text: str) -> bool:
        """True when the pattern matches anywhere in `text` (RE2's PartialMatch)."""
        state = self._closure(frozenset((0,)), _context(text, 0))
        for i, char in enumerate(text):
            if self._match in state:
                return True
            # a match may also start at the next position: thread 0 joins every step
            state = self._closure(self._step(state, char) | {0}, _context(text, i + 1))
        return self._match in state

    # -- running: the states reached are cached, as RE2's DFA caches them, so the stat names of
    # one /stats request (alike, mostly) mostly cost a dictionary look-up per character

    def _step(self, state: frozenset, char: str) -> frozenset:
        key = (state, char)
        if key not in self._steps:
            program = self._program
            self._steps[key] = frozenset(pc + 1 for pc in state if program[pc][0] == "char" and program[pc][1](char))
        return self._steps[key]

    def _closure(self, seeds: frozenset, context: tuple) -> frozenset:
        key = (seeds, context)
        if key not in self._closures:
            if len(self._closures) > _CACHE:
                self._closures.clear()
                self._steps.clear()
            threads: set[int] = set()
            stack = list(seeds)
            while stack:
                pc = stack.pop()
                if pc in threads:
                    continue
                threads.add(pc)
                op = self._program[pc]
                if op[0] == "jmp":
                    stack.append(op[1])
                elif op[0] == "split":
                    stack.extend((op[2], op[1]))
                elif op[0] == "assert" and _holds(op[1], context):
                    stack.append(pc + 1)
            self._closures[key] = frozenset(threads)
        return self._closures[key]

    # -- compiling the tree into instructions

    def _emit(self, node: tuple) -> None:
        kind = node[0]
        if kind in ("char", "assert"):
            self._push([kind, node[1]])
        elif kind == "cat":
            for part in node[1]:
                self._emit(part)
        elif kind == "alt":
            self._emit_alt(node[1])
        elif kind == "rep":
            self._emit_rep(node[1], node[2], node[3])

    def _push(self, op: list) -> int:
        if len(self._program) >= MAX_PROGRAM:
            raise RegexError(f"pattern too large (more than {MAX_PROGRAM} instructions)")
        self._program.append(op)
        return len(self._program) - 1

    def _emit_alt(self, branches: list) -> None:
        jumps = []
        for branch in branches[:-1]:
            split = self._push(["split", 0, 0])
            self._program[split][1] = split + 1
            self._emit(branch)
            jumps.append(self._push(["jmp", 0]))
            self._program[split][2] = len(self._program)
        self._emit(branches[-1])
        for jump in jumps:
            self._program[jump][1] = len(self._program)

    def _emit_rep(self, node: tuple, least: int, most: int | None) -> None:
        for _ in range(least):
            self._emit(node)
        if most is None:  # L: split(body, out); body; jmp L
            loop = self._push(["split", 0, 0])
            self._program[loop][1] = loop + 1
            self._emit(node)
            self._push(["jmp", loop])
            self._program[loop][2] = len(self._program)
            return
        splits = []
        for _ in range(most - least):  # each optional copy may be skipped to the end
            split = self._push(["split", 0, 0])
            self._program[split][1] = split + 1
            splits.append(split)
            self._emit(node)
        for split in splits:
            self._program[split][2] = len(self._program)


def _in_range(low: str, high: str) -> Char:
    return lambda c: low <= c <= high


def _context(text: str, i: int) -> tuple[bool, bool, bool]:
    """What an assertion at position i may look at: start of text, end of text, word boundary."""
    before = i > 0 and text[i - 1] in _WORD
    after = i < len(text) and text[i] in _WORD
    return (i == 0, i == len(text), before != after)


def _holds(kind: str, context: tuple[bool, bool, bool]) -> bool:
    at_start, at_end, boundary = context
    return {"^": at_start, "$": at_end, "b": boundary, "B": not boundary}[kind]


class _Parser:
    """RE2's syntax, recursive descent; the tree: ("char", test), ("assert", kind),
    ("cat", [nodes]), ("alt", [nodes]), ("rep", node, least, most or None)."""

    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.i = 0
        self.depth = 0

    def parse(self) -> tuple:
        tree = self._alternation()
        if self.i < len(self.text):
            raise RegexError(f"unexpected ) at offset {self.i}")
        return tree

    def _peek(self, n: int = 1) -> str:
        return self.text[self.i : self.i + n]

    def _alternation(self) -> tuple:
        branches = [self._sequence()]
        while self._peek() == "|":
            self.i += 1
            branches.append(self._sequence())
        return branches[0] if len(branches) == 1 else ("alt", branches)

    def _sequence(self) -> tuple:
        parts = []
        while self.i < len(self.text) and self._peek() not in "|)":
            atom = self._atom()
            parts.append(self._repetition(atom))
        return ("cat", parts)

    def _repetition(self, atom: tuple) -> tuple:
        bounds = self._bounds()
        if bounds is None:
            return atom
        if self._peek() == "?":  # lazy: the same set of matches
            self.i += 1
        if self._peek() and self._peek() in "*+?" or self._bounds(look_only=True):
            raise RegexError(f"bad repetition operator at offset {self.i}")
        return ("rep", atom, *bounds)

    def _bounds(self, look_only: bool = False) -> tuple[int, int | None] | None:
        char = self._peek()
        if char and char in "*+?":
            if not look_only:
                self.i += 1
            return {"*": (0, None), "+": (1, None), "?": (0, 1)}[char]
        if char != "{":
            return None
        end = self.text.find("}", self.i)
        inside = self.text[self.i + 1 : end] if end > 0 else ""
        least, comma, most = inside.partition(",")
        if not inside.isascii() or not least.isdigit() or not (most.isdigit() or most == ""):
            return None  # RE2: a { that starts no repetition is a literal
        if len(least) > 4 or len(most) > 4:
            raise RegexError(f"bad repetition {{{inside}}}: counts up to {MAX_REPEAT}")
        bounds = (int(least), int(most) if most else (None if comma else int(least)))
        if bounds[0] > MAX_REPEAT or (bounds[1] is not None and not bounds[0] <= bounds[1] <= MAX_REPEAT):
            raise RegexError(f"bad repetition {{{inside}}}: counts up to {MAX_REPEAT}, least first")
        if not look_only:
            self.i = end + 1
        return bounds

    def _atom(self) -> tuple:
        char = self._peek()
        if char in "*+?" or (char == "{" and self._bounds(look_only=True)):
            raise RegexError(f"missing argument to repetition operator at offset {self.i}")
        self.i += 1
        if char == "(":
            return self._group()
        if char == "[":
            return ("char", self._class())
        if char == ".":
            return ("char", lambda c: c != "\n")
        if char in "^$":
            return ("assert", char)
        if char == "\\":
            escaped = self._escape(in_class=False)
            return ("char", escaped.__eq__) if isinstance(escaped, str) else escaped
        return ("char", char.__eq__)

    def _group(self) -> tuple:
        if self._peek() == "?":
            if self._peek(3) == "?P<" or (self._peek(2) == "?<" and self._peek(3) not in ("?<=", "?<!")):
                name_end = self.text.find(">", self.i)
                if name_end < 0:
                    raise RegexError(f"unterminated group name at offset {self.i}")
                self.i = name_end + 1
            elif self._peek(2) == "?:":
                self.i += 2
            else:
                raise RegexError(f"unsupported group {self.text[self.i - 1 : self.i + 3]!r}: no lookaround or flags")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise RegexError(f"groups nested deeper than {MAX_DEPTH}")
        inner = self._alternation()
        self.depth -= 1
        if self._peek() != ")":
            raise RegexError("missing )")
        self.i += 1
        return inner

    def _escape(self, in_class: bool) -> str | tuple:
        """After a backslash: the one character it stands for (a str), or a node (a class, an
        assertion)."""
        char = self._peek()
        if not char:
            raise RegexError("trailing \\")
        self.i += 1
        if char.lower() in _CLASSES:
            members = _CLASSES[char.lower()]
            return ("char", members.__contains__ if char.islower() else lambda c: c not in members)
        if char in _CONTROLS:
            return _CONTROLS[char]
        if char in _ASSERTIONS and not in_class:
            return ("assert", _ASSERTIONS[char])
        if char == "x":
            return chr(self._hex())
        if char.isascii() and char.isalnum():
            raise RegexError(f"invalid or unsupported escape \\{char} (no backreferences)")
        return char  # an escaped punctuation character is itself

    def _hex(self) -> int:
        if self._peek() == "{":
            end = self.text.find("}", self.i)
            digits, self.i = (self.text[self.i + 1 : end], end + 1) if end > 0 else ("", self.i)
        else:
            digits, self.i = self._peek(2), self.i + 2
        try:
            value = int(digits, 16)
            if not 0 <= value <= 0x10FFFF or not digits.isascii():
                raise ValueError(digits)
        except ValueError:
            raise RegexError(f"invalid \\x escape {digits!r}") from None
        return value

    def _class(self) -> Char:
        negated = self._peek() == "^"
        self.i += negated
        tests: list[Char] = []
        first = True
        while True:
            char = self._peek()
            if not char:
                raise RegexError("missing ] in a character class")
            if char == "]" and not first:
                self.i += 1
                break
            first = False
            if self._peek(2) == "[:":
                raise RegexError("POSIX classes [:name:] are not supported")
            low = self._class_member()
            if self._peek() == "-" and self._peek(2) not in ("-]", "-"):
                self.i += 1
                high = self._class_member()
                if not (isinstance(low, str) and isinstance(high, str)) or low > high:
                    raise RegexError(f"bad character class range at offset {self.i}")
                tests.append(_in_range(low, high))
            else:
                tests.append(low.__eq__ if isinstance(low, str) else low)
        return lambda c: any(test(c) for test in tests) != negated

    def _class_member(self) -> str | Char:
        """One character (a str) or, for \\d \\w \\s and their negations, a test."""
        char = self._peek()
        self.i += 1
        if char != "\\":
            return char
        escaped = self._escape(in_class=True)
        return escaped if isinstance(escaped, str) else escaped[1]
