"""Configuration files of the peers bench proxy starts: nginx (a fast upstream serving one short
body, over HTTP/1.1 and h2c on two ports, everything under one temp dir) and this proxy (the
example examples/http.yaml with its three ports rewritten)."""

import json
from pathlib import Path

import yaml

BODY = "hello from nginx\n"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "http.yaml"


class ConfigShapeError(ValueError):
    """The example configuration no longer has the shape the bench rewrites."""


def nginx_conf(prefix: Path, h1_port: int, h2_port: int, body: str = BODY) -> str:
    """One foreground process (no master, no daemon) so its pid is the only one to stop; logs and
    temp files stay under `prefix`; keep-alive connections are never recycled mid-run."""
    if not body or any(c in body for c in '"\\$'):
        raise ValueError("the body must be non-empty text without quotes, backslashes or '$'")
    p = Path(prefix)
    temp = " ".join(
        f"{kind}_temp_path {p / 'tmp' / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    location = f'location / {{ return 200 "{body.encode("unicode_escape").decode()}"; }}'
    return "\n".join(
        [
            "daemon off;",
            "master_process off;",
            "worker_processes 1;",
            f"pid {p / 'nginx.pid'};",
            f"error_log {p / 'nginx-error.log'} warn;",
            "events { worker_connections 4096; }",
            "http {",
            "  access_log off;",
            f"  {temp}",
            "  keepalive_requests 100000000;",
            "  keepalive_timeout 60s;",
            "  default_type text/plain;",
            f"  server {{ listen 127.0.0.1:{h1_port}; {location} }}",
            f"  server {{ listen 127.0.0.1:{h2_port} http2; {location} }}",
            "}",
            "",
        ]
    )


def proxy_config(listen_port: int, upstream_port: int, admin_port: int, example: Path = EXAMPLE) -> str:
    """The example with its listener, its single cluster endpoint and its admin on these ports
    (all 127.0.0.1), as JSON (which `python -m proxy -c` reads as YAML)."""
    try:
        cfg = yaml.safe_load(Path(example).read_text())
        (listener,) = cfg["listeners"]
        (cluster,) = cfg["clusters"]
        (endpoint,) = cluster["endpoints"]
        admin = cfg["admin"]["address"]
        listener["address"]["port"] = listen_port
        listener["address"]["host"] = "127.0.0.1"
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigShapeError(
            f"{example}: expected one listener, one cluster with one endpoint and an admin "
            f"address ({type(exc).__name__}: {exc})"
        ) from None
    endpoint.update(host="127.0.0.1", port=upstream_port)
    admin.update(host="127.0.0.1", port=admin_port)
    return json.dumps(cfg, indent=1)
