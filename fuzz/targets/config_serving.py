"""What an accepted configuration promises about serving it, judged for the config harness
(fuzz/targets/config.py) without opening a socket:

- config_listeners_cannot_bind: two listeners (or a listener and the admin) on one non-zero port
  whose addresses overlap: the same address, or the unspecified address of the same family beside
  any other (ip(7): a socket bound to INADDR_ANY receives on every local address, so another bind
  to that port gets EADDRINUSE; asyncio sets IPV6_V6ONLY, so the families never overlap). The
  proxy could not start such a configuration, so validation must refuse it.
- config_tls_version_outside_bounds: a TLS chain or cluster negotiates, with a peer offering TLS
  1.2 to 1.3, a version outside its tls_params (Envoy's TlsParameters: tls_minimum_protocol_version
  and tls_maximum_protocol_version; TLS_AUTO is 1.2 as minimum, 1.3 as maximum). The handshake is
  real (ssl over memory BIOs, the test PKI on the peer's side).
"""

import ipaddress
import ssl

from fuzz import test_pki
from fuzz.oracles import InvariantViolation

_VERSIONS = {0: None, 3: ssl.TLSVersion.TLSv1_2, 4: ssl.TLSVersion.TLSv1_3}
NEGOTIATED = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}  # SSLObject.version()


def check_binding(boot) -> None:
    bound = [(listener.address, f"listeners[{i}].address") for i, listener in enumerate(boot.listeners)]
    if boot.HasField("admin"):
        bound.append((boot.admin.address, "admin.address"))
    seen: dict[int, list] = {}
    for address, path in bound:
        if not address.port:
            continue  # port 0: the kernel picks a free one
        ip = ipaddress.ip_address(address.host)
        for other, other_path in seen.get(address.port, []):
            if ip.version == other.version and (ip == other or ip.is_unspecified or other.is_unspecified):
                raise InvariantViolation(
                    "config_listeners_cannot_bind",
                    f"{path} {ip}:{address.port} and {other_path} {other}:{address.port} overlap: the second bind "
                    "fails (EADDRINUSE), yet the configuration validated",
                    judged="proxy/config/semantic.py:_distinct_ports",
                )
        seen.setdefault(address.port, []).append((ip, path))


def version_bounds(common) -> tuple:
    """The lowest and highest TLS version a CommonTlsContext allows (TLS_AUTO: 1.2 and 1.3)."""
    params = common.tls_params
    low = _VERSIONS.get(params.tls_minimum_protocol_version) or ssl.TLSVersion.TLSv1_2
    high = _VERSIONS.get(params.tls_maximum_protocol_version) or ssl.TLSVersion.TLSv1_3
    return low, high


def _peer(server_side: bool) -> ssl.SSLContext:
    pki = test_pki.ensure()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version, ctx.maximum_version = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3
    if server_side:
        ctx.load_cert_chain(pki / "server.pem", pki / "server.key")
    else:
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        ctx.load_cert_chain(pki / "client.pem", pki / "client.key")
    return ctx


_PEERS: dict = {}


def _handshake(client_ctx, server_ctx, server_name) -> str | None:
    """The version two contexts agree on over memory BIOs, or None when they do not agree at all."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=server_name)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = [False, False]
    for _ in range(8):
        for i, (obj, out, peer_in) in enumerate(((client, c_out, s_in), (server, s_out, c_in))):
            if not done[i]:
                try:
                    obj.do_handshake()
                    done[i] = True
                except ssl.SSLWantReadError:
                    pass
                except (ssl.SSLError, OSError, ValueError):
                    return None
            peer_in.write(out.read())
        if all(done):
            return client.version()
    return None


def check_tls_versions(boot, built) -> None:
    checks = []
    for i, (msg, listener) in enumerate(zip(boot.listeners, built.listeners)):
        chains = list(zip(msg.filter_chains, listener.filter_chains))
        if msg.HasField("default_filter_chain") and listener.default_filter_chain is not None:
            chains.append((msg.default_filter_chain, listener.default_filter_chain))
        for chain_msg, chain in chains:
            if chain.tls is not None and not chain_msg.tls_context.require_client_certificate:
                checks.append(
                    (f"listeners[{i}] chain {chain.name}", chain_msg.tls_context.common_tls_context, chain.tls, True)
                )
    for msg in boot.clusters:
        cluster = built.clusters.get(msg.name)
        if cluster is not None and cluster.tls is not None:
            checks.append((f"cluster {msg.name}", msg.tls_context.common_tls_context, cluster.tls, False))
    for where, common, tls, server_side in checks:
        peer = _PEERS.get(server_side) or _PEERS.setdefault(server_side, _peer(not server_side))
        client, server = (peer, tls.context) if server_side else (tls.context, peer)
        version = _handshake(client, server, "localhost" if server_side else (tls.sni or None))
        if version is None:
            continue  # no version or cipher in common with a 1.2-1.3 peer: nothing negotiated to judge
        low, high = version_bounds(common)
        if not low <= NEGOTIATED[version] <= high:
            raise InvariantViolation(
                "config_tls_version_outside_bounds",
                f"{where} negotiated {version} with a peer offering TLS 1.2 to 1.3; its tls_params allow "
                f"{low.name} to {high.name}",
                judged="proxy/tls/context.py:_common",
                expected=f"{low.name}..{high.name}",
                observed=version,
            )
