"""YAML parsing that cannot be made to blow up: no aliases, bounded depth and size, no duplicate keys.

A first pass over libyaml's event stream (iterative, no recursion) refuses aliases (the
billion-laughs expansion and self-referencing structures), nesting deeper than MAX_DEPTH, more than
MAX_NODES nodes, several documents and duplicate mapping keys (PyYAML would silently keep the last
one). It stops at the first problem, so its cost is bounded by what it has read. Only then is the
text constructed, with the safe loader.
"""

import yaml

from proxy.config.errors import ConfigError, Violation

MAX_DEPTH = 64
MAX_NODES = 100_000

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# What PyYAML raises on bad input besides YAMLError: int()/float()/datetime() of a scalar that
# matched the resolver's regex but not the constructor (huge ints, 2001-13-45), deep recursion.
PARSE_ERRORS = (yaml.YAMLError, ValueError, OverflowError, RecursionError)


def load_yaml(text: str):
    """Parse one YAML document into plain data; ConfigError on anything unsafe or malformed."""
    try:
        _prescan(text)
        return yaml.load(text, Loader=_Loader)
    except ConfigError:
        raise
    except PARSE_ERRORS as exc:
        raise ConfigError(Violation("", f"not valid YAML: {_describe(exc)}")) from None


def _prescan(text: str) -> None:
    # Each frame: [is_mapping, expecting_key, keys seen]
    stack: list[list] = []
    nodes = documents = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                _fail(event, "expected a single YAML document, found several")
        elif isinstance(event, yaml.AliasEvent):
            _fail(event, f"YAML aliases (*{event.anchor}) are not supported")
        elif isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > MAX_NODES:
                _fail(event, f"more than {MAX_NODES} YAML nodes")
            if stack and stack[-1][0]:
                frame = stack[-1]
                if frame[1] and isinstance(event, yaml.ScalarEvent):
                    if event.value in frame[2]:
                        _fail(event, f"duplicate key {event.value!r}")
                    frame[2].add(event.value)
                frame[1] = not frame[1]
            if isinstance(event, yaml.MappingStartEvent):
                stack.append([True, True, set()])
            elif isinstance(event, yaml.SequenceStartEvent):
                stack.append([False, False, None])
            if len(stack) > MAX_DEPTH:
                _fail(event, f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            stack.pop()


def _fail(event, message: str):
    mark = event.start_mark
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    raise ConfigError(Violation("", f"not valid YAML: {message}{where}"))


def _describe(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "syntax error"
        if mark is not None:
            return f"{what} (line {mark.line + 1}, column {mark.column + 1})"
        return what
    return " ".join(str(exc).split())[:200] or type(exc).__name__
