"""The admin of the running proxy (`python -m proxy`) never serves a TLS private key: /config_dump
redacts every private_key (Envoy's dump redacts its sensitive fields the same way). Found black-box:
the dump of a TLS listener configured with an inline PEM key returned the key."""

import json
import urllib.request

from fuzz import test_pki

CONFIG = """
listeners:
  - name: tls_in
    address: {{host: 127.0.0.1, port: 0}}
    filter_chains:
      - tls_context:
          common_tls_context:
            tls_certificates:
              - certificate_chain: {{inline_string: {cert}}}
                private_key: {{inline_string: {key}}}
        filters:
          - tcp_proxy: {{cluster: up}}
clusters:
  - name: up
    endpoints: [{{host: 127.0.0.1, port: 9}}]
    tls_context:
      common_tls_context:
        tls_certificates:
          - certificate_chain: {{filename: {pki}/client.pem}}
            private_key: {{filename: {pki}/client.key}}
admin: {{address: {{host: 127.0.0.1, port: 0}}}}
"""


def test_config_dump_shows_no_private_key(proxy_process, tmp_path):
    pki = test_pki.ensure()
    key = (pki / "server.key").read_text()
    path = tmp_path / "proxy.yaml"
    path.write_text(CONFIG.format(cert=json.dumps((pki / "server.pem").read_text()), key=json.dumps(key), pki=pki))
    proc = proxy_process(path)
    proc.wait_ready()
    admin = next(line.split(" on ")[1].strip() for line in proc.stderr_lines if line.startswith("proxy: admin on"))
    with urllib.request.urlopen(f"http://{admin}/config_dump", timeout=10) as r:
        dump = json.load(r)
    text = json.dumps(dump)
    assert "PRIVATE KEY" not in text and key.splitlines()[1] not in text
    listener_key = dump["listeners"][0]["filter_chains"][0]["tls_context"]["common_tls_context"]["tls_certificates"][0]
    cluster_key = dump["clusters"][0]["tls_context"]["common_tls_context"]["tls_certificates"][0]
    assert listener_key["private_key"] == {"inline_string": "[redacted]"}
    assert cluster_key["private_key"] == {"filename": "[redacted]"}
    assert "BEGIN CERTIFICATE" in listener_key["certificate_chain"]["inline_string"]  # not a secret
