"""Validation rules (protoc-gen-validate): `enum {defined_only: true}` refuses any number that is not
one of the enum's values. TlsProtocol's values are TLS_AUTO = 0, TLSv1_2 = 3 and TLSv1_3 = 4 (Envoy's
numbering): a tls_minimum_protocol_version of 1 names no protocol, and `--validate` must refuse it,
naming the field path."""

import json

from _live import check, mtls_config, ok, validate

config = json.loads(mtls_config(9, require=False))
params = {"tls_minimum_protocol_version": 1}
config["listeners"][0]["filter_chains"][0]["tls_context"]["common_tls_context"]["tls_params"] = params
code, said = validate(config)
check(
    code != 0 and "tls_params.tls_minimum_protocol_version" in said,
    f"tls_minimum_protocol_version: 1 (TlsProtocol defines 0, 3 and 4; defined_only): --validate exited "
    f"{code} saying {said.splitlines()[:2]}",
)
ok("the undefined TlsProtocol number 1 was refused, naming tls_params.tls_minimum_protocol_version")
