"""Load a configuration: bytes (YAML, JSON or binary protobuf) -> a validated Bootstrap.

    bootstrap = load_file("examples/tcp_proxy.yaml")
    bootstrap = load_bytes(data)            # format sniffed
    bootstrap = load_bytes(data, fmt="json")

Every failure is a ConfigError whose .violations lists each problem with its field path; no other
exception escapes for any input (the `config` fuzz harness holds this as its oracle). Parsing is
bounded: MAX_CONFIG_BYTES of input, YAML without aliases and with bounded depth (yaml_safe.py),
lists no longer than their rules allow before their items are converted (convert.py).
"""

import json
import os
import re

from google.protobuf import unknown_fields
from google.protobuf.message import DecodeError

from proxy.config import schema
from proxy.config.convert import to_message, type_name
from proxy.config.errors import ConfigError, Violation
from proxy.config.semantic import all_violations
from proxy.config.yaml_safe import load_yaml

MAX_CONFIG_BYTES = 1024 * 1024
FORMATS = ("yaml", "json", "proto")
_EXTENSIONS = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".pb": "proto", ".bin": "proto", ".binpb": "proto"}
# Text holds no C0 controls other than tab, LF and CR (YAML refuses them anyway); protobuf's
# wire format almost always does (field tags 0x0a, 0x12, 0x1a ... are controls).
_TEXT_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # C0 controls but tab, LF and CR


def load_file(path, fmt: str | None = None):
    """Read and load a configuration file; the format comes from `fmt`, else the extension, else
    the content."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    if fmt is None:
        fmt = _EXTENSIONS.get(os.path.splitext(path)[1].lower())
    return load_bytes(data, fmt)


def load_bytes(data: bytes, fmt: str | None = None):
    """Parse, convert, validate (rules, then semantic checks); returns a Bootstrap message."""
    bootstrap = parse_bytes(data, fmt)
    violations = all_violations(bootstrap)
    if violations:
        raise ConfigError(violations)
    return bootstrap


def parse_bytes(data: bytes, fmt: str | None = None):
    """Parse and convert without validating (ConfigError on anything that does not convert)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ConfigError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if fmt is not None and fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"configuration is larger than {MAX_CONFIG_BYTES} bytes")
    if fmt == "proto":
        return _parse_proto(data)
    if fmt is None and data.strip() == b"":
        raise ConfigError("empty configuration")
    text = _as_text(data)
    if text is None:
        if fmt is not None:
            raise ConfigError(f"not {fmt.upper()}: the input is not UTF-8 text")
        return _parse_proto(data, sniffed=True)
    if fmt == "json":
        tree = _parse_json(text)
    elif fmt == "yaml":
        tree = load_yaml(text)
    else:
        tree = _parse_json_or_yaml(text)
    if tree is None:
        raise ConfigError("empty configuration")
    if not isinstance(tree, dict):
        raise ConfigError(f"the top level must be a mapping, got {type_name(tree)}")
    message, violations = to_message(tree, schema.Bootstrap)
    if violations:
        raise ConfigError(violations)
    return message


def _as_text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    if _TEXT_CONTROLS.search(text):
        return None
    return text


def _parse_json_or_yaml(text: str):
    if text.lstrip()[:1] in ("{", "["):
        try:
            return _parse_json(text)
        except ConfigError as json_error:
            try:
                return load_yaml(text)  # YAML flow style: {listeners: [...]}
            except ConfigError:
                raise json_error from None
    return load_yaml(text)


def _reject_duplicates(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _parse_json(text: str):
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates)
    except RecursionError:
        raise ConfigError("not valid JSON: nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:  # duplicate keys, integers beyond Python's digit limit
        raise ConfigError(f"not valid JSON: {' '.join(str(exc).split())[:200]}") from None


def _parse_proto(data: bytes, sniffed: bool = False):
    message = schema.Bootstrap()
    try:
        message.ParseFromString(data)
    except (DecodeError, RecursionError, ValueError) as exc:
        if sniffed:
            raise ConfigError(
                f"not YAML or JSON (not UTF-8 text), and not a binary protobuf Bootstrap either: {exc}"
            ) from None
        raise ConfigError(f"not a binary protobuf Bootstrap: {exc}") from None
    unknown = list(_unknown_fields(message, ""))
    if unknown:
        if sniffed:
            unknown = [
                Violation(v.path, "not UTF-8 text, and as a binary protobuf Bootstrap: " + v.message) for v in unknown
            ]
        raise ConfigError(unknown)
    return message


def _unknown_fields(message, path):
    for field in unknown_fields.UnknownFieldSet(message):
        yield Violation(path, f"unknown field number {field.field_number}")
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        here = f"{path}.{field.name}" if path else field.name
        if field.message_type.GetOptions().map_entry:
            if field.message_type.fields_by_name["value"].message_type is not None:
                for key in value:
                    yield from _unknown_fields(value[key], f"{here}[{key!r}]")
        elif field.is_repeated:
            for i, item in enumerate(value):
                yield from _unknown_fields(item, f"{here}[{i}]")
        else:
            yield from _unknown_fields(value, here)
