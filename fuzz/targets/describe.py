"""Inputs in readable form for crash reports (a harness's `describe(data)`): shared pieces."""

from google.protobuf import text_format


def config_text(container, name: str, blob: bytes) -> str:
    """Member `name` of the oneof message `container` (schema.NetworkFilter, schema.HttpFilter)
    parsed from `blob`, as one line of protobuf text, or why it does not parse."""
    from proxy.config import schema

    field = container.DESCRIPTOR.fields_by_name[name]
    config = schema.message_class(field.message_type)()
    try:
        config.ParseFromString(blob)
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends
        return f"<not a {field.message_type.name}: {exc}>"
    return text_format.MessageToString(config, as_one_line=True) or "<empty>"
