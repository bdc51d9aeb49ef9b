"""Regular expressions from users, compiled as Envoy compiles them: Google's RE2 (the google-re2
binding), which matches in linear time and refuses what cannot be (backreferences, lookaround).

    regex = compile_route_regex(pattern)   # a route's safe_regex, or RegexRefused

Envoy's RegexMatcher (`safe_regex`) also refuses a pattern whose RE2 program is larger than the
runtime value re2.max_program_size.error_level, 100 by default: routes apply that default. The
admin's /stats?filter= bounds the memory of the program instead (its own options).
"""

import re2

ROUTE_MAX_PROGRAM_SIZE = 100  # Envoy's default re2.max_program_size.error_level


class RegexRefused(ValueError):
    """RE2 refused the pattern; the message says why (RE2's own reason, or the size rule)."""


def compile_re2(pattern: str | bytes, *, max_mem: int = 0, max_program_size: int = 0):
    """The compiled pattern (match bytes with a bytes pattern, text with a text one), or RegexRefused.
    max_mem: RE2's memory budget for the program (0: RE2's default); max_program_size: the
    largest program accepted (0: any)."""
    options = re2.Options()
    options.log_errors = False  # a refused pattern is its caller's error to report, not a stderr line
    if max_mem:
        options.max_mem = max_mem
    try:
        regex = re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        raise RegexRefused(f"not a valid regular expression: {text} (RE2)") from None
    if max_program_size and regex.programsize > max_program_size:
        raise RegexRefused(
            f"RE2 program size {regex.programsize} is over {max_program_size}, "
            "Envoy's default re2.max_program_size.error_level"
        )
    return regex


def compile_route_regex(pattern: str):
    """A route's safe_regex as the route table matches it (over the path's bytes) and as validation
    must judge it: one compile for both, so validation accepts exactly what the build does."""
    return compile_re2(pattern.encode(), max_program_size=ROUTE_MAX_PROGRAM_SIZE)
