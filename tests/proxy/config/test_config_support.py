"""Shared fixtures of the config tests: the issues' example files and a builder of valid configs.
(No tests here; pytest collects the module and finds none.)"""

import copy
import json

import yaml

from proxy.config.errors import ConfigError
from proxy.config.load import load_bytes

# Issue 2, section 2: "This exact file must validate and run".
ISSUE2_YAML = b"""\
listeners:
  - name: tcp_in
    address: {host: 127.0.0.1, port: 10000}
    filter_chains:
      - filters:
          - tcp_proxy: {cluster: echo}
clusters:
  - name: echo
    endpoints: [{host: 127.0.0.1, port: 9000}]
"""

# Issue 3, section 3: "This exact file must validate and run".
ISSUE3_YAML = b"""\
listeners:
  - name: http_in
    address: {host: 127.0.0.1, port: 10080}
    filter_chains:
      - filters:
          - http_connection_manager:
              codec: AUTO
              route_config:
                virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                      - match: {prefix: "/"}
                        route: {cluster: web}
clusters:
  - name: web
    endpoints: [{host: 127.0.0.1, port: 9080}]
admin: {address: {host: 127.0.0.1, port: 9901}}
"""

_TCP = yaml.safe_load(ISSUE2_YAML)
_HTTP = yaml.safe_load(ISSUE3_YAML)


def tcp_config() -> dict:
    """A fresh, valid TCP proxy config as plain data (mutate it freely)."""
    return copy.deepcopy(_TCP)


def http_config() -> dict:
    """A fresh, valid HTTP config as plain data."""
    return copy.deepcopy(_HTTP)


def hcm(config: dict) -> dict:
    """The http_connection_manager of http_config()'s only listener."""
    return config["listeners"][0]["filter_chains"][0]["filters"][0]["http_connection_manager"]


def problems(config: dict) -> list[str]:
    """The violations of a config as `path: message` strings ([] when it is valid)."""
    data = json.dumps(config).encode()  # JSON: keeps key order, never adds YAML aliases
    try:
        load_bytes(data, "json")
    except ConfigError as exc:
        return [str(v) for v in exc.violations]
    return []
