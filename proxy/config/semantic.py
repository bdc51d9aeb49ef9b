"""Cross-field checks that validation rules cannot express.

- listener, cluster, virtual-host (per route table) and policy (per filter) names are unique;
- every cluster reference resolves (tcp_proxy, weighted clusters, routes);
- weighted clusters: names unique, weights sum > 0;
- listener and admin ports are distinct per host (a wildcard host clashes with every host of its
  family; port 0 is ephemeral and never clashes);
- CIDR strings parse; route regexes compile as RE2 within Envoy's program size limit; domains are
  unique across a route table's virtual hosts;
- an endpoint host made of digits and dots is an IP address (no host name is all digits);
- a filter chain ends with exactly one terminal filter (tcp_proxy or http_connection_manager);
- two filter chains of one listener do not have the same match;
- an HTTP fault with abort_percent > 0 names its abort_status;
- TLS contexts load: files readable, PEM, keys matching their certificates, a downstream context
  has its certificate, require_client_certificate has a validation_context, versions in order.

Written to run on messages that may also have rule violations: nothing here assumes a rule held.
"""

import ipaddress

from proxy.config.errors import Violation
from proxy.config.validate import check_rules
from proxy.network.chain_match import clashes, match_of
from proxy.safe_regex import RegexRefused, compile_route_regex
from proxy.tls.context import TlsConfigError, client_config, server_config

TERMINAL_FILTERS = frozenset({"tcp_proxy", "http_connection_manager"})


def all_violations(bootstrap) -> list[Violation]:
    """Rule violations, then semantic ones about fields no rule already complained about."""
    found = check_rules(bootstrap)
    reported = {v.path for v in found}
    return found + [v for v in check_semantics(bootstrap) if v.path not in reported]


def check_semantics(bootstrap) -> list[Violation]:
    out: list[Violation] = []
    cluster_names = _unique_names(bootstrap.clusters, "clusters", "cluster", out)
    _unique_names(bootstrap.listeners, "listeners", "listener", out)
    _distinct_ports(bootstrap, out)
    for i, listener in enumerate(bootstrap.listeners):
        _check_listener(listener, f"listeners[{i}]", cluster_names, out)
    for i, cluster in enumerate(bootstrap.clusters):
        _check_tls(cluster, f"clusters[{i}]", out, server_side=False)
        for e, endpoint in enumerate(cluster.endpoints):
            _check_endpoint_host(endpoint.host, f"clusters[{i}].endpoints[{e}].host", out)
    return out


def _unique_names(items, path, what, out) -> set[str]:
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        if item.name in first:
            out.append(
                Violation(f"{path}[{i}].name", f"duplicate {what} name {item.name!r} (also {path}[{first[item.name]}])")
            )
        else:
            first[item.name] = i
    return set(first)


def _distinct_ports(bootstrap, out):
    bound = []  # (ip or None, port, path)
    for i, listener in enumerate(bootstrap.listeners):
        bound.append((listener.address, f"listeners[{i}].address"))
    if bootstrap.HasField("admin"):
        bound.append((bootstrap.admin.address, "admin.address"))
    seen: list[tuple] = []
    for address, path in bound:
        if address.port == 0:
            continue
        ip = _parse_ip(address.host)
        for other_ip, other, other_path in seen:
            if other.port == address.port and _hosts_clash(ip, address.host, other_ip, other.host):
                out.append(
                    Violation(f"{path}.port", f"port {address.port} on {address.host} is already used by {other_path}")
                )
                break
        seen.append((ip, address, path))


def _parse_ip(host):
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _hosts_clash(ip, host, other_ip, other_host) -> bool:
    if ip is None or other_ip is None:
        return host == other_host
    if ip.version != other_ip.version:
        return False
    return ip == other_ip or ip.is_unspecified or other_ip.is_unspecified


_CIDR_FIELDS = ("prefix_ranges", "direct_source_prefix_ranges", "source_prefix_ranges")


def _check_listener(listener, path, clusters, out):
    matches: list = []  # (chain index, built-like match) of the chains without a clash
    for c, chain in enumerate(listener.filter_chains):
        here = f"{path}.filter_chains[{c}]"
        match = match_of(chain.filter_chain_match)  # bad CIDRs left out: _check_cidr reports them
        clash = next((other for other, m in matches if clashes(match, m)), None)
        if clash is not None:
            out.append(
                Violation(
                    f"{here}.filter_chain_match",
                    f"matches the same connections as {path}.filter_chains[{clash}]: "
                    "a connection could not choose between them",
                )
            )
        else:
            matches.append((c, match))
        for field in _CIDR_FIELDS:
            for r, cidr in enumerate(getattr(chain.filter_chain_match, field)):
                _check_cidr(cidr, f"{here}.filter_chain_match.{field}[{r}]", out)
        _check_filters(chain.filters, here, clusters, out)
        _check_tls(chain, here, out, server_side=True)
    if listener.HasField("default_filter_chain"):
        here = f"{path}.default_filter_chain"
        _check_filters(listener.default_filter_chain.filters, here, clusters, out)
        _check_tls(listener.default_filter_chain, here, out, server_side=True)


def _check_tls(msg, path, out, server_side: bool):
    if not msg.HasField("tls_context"):
        return
    try:
        (server_config if server_side else client_config)(msg.tls_context)
    except TlsConfigError as exc:
        out.append(Violation(f"{path}.tls_context.{exc.field}", exc.message))


def _check_filters(filters, path, clusters, out):
    kinds = [f.WhichOneof("filter") for f in filters]
    for i, kind in enumerate(kinds):
        here = f"{path}.filters[{i}]"
        last = i == len(kinds) - 1
        if kind in TERMINAL_FILTERS and not last:
            out.append(Violation(here, f"{kind} is a terminal filter and must be the last in its chain"))
        elif last and kind is not None and kind not in TERMINAL_FILTERS:
            out.append(
                Violation(here, f"the last filter must be terminal (tcp_proxy or http_connection_manager), not {kind}")
            )
        f = filters[i]
        if kind == "tcp_proxy":
            _check_cluster_choice(f.tcp_proxy, f"{here}.tcp_proxy", clusters, out)
        elif kind == "rbac":
            _unique_names(f.rbac.policies, f"{here}.rbac.policies", "policy", out)
            for p, policy in enumerate(f.rbac.policies):
                for s, cidr in enumerate(policy.source_prefixes):
                    _check_cidr(cidr, f"{here}.rbac.policies[{p}].source_prefixes[{s}]", out)
        elif kind == "http_connection_manager":
            _check_hcm(f.http_connection_manager, f"{here}.http_connection_manager", clusters, out)


def _check_cluster_choice(action, path, clusters, out):
    which = action.WhichOneof("cluster_specifier")
    if which == "cluster":
        if action.cluster not in clusters:
            out.append(Violation(f"{path}.cluster", f"unknown cluster {action.cluster!r}"))
    elif which == "weighted_clusters":
        here = f"{path}.weighted_clusters"
        entries = action.weighted_clusters.clusters
        seen = set()
        for i, entry in enumerate(entries):
            if entry.name not in clusters:
                out.append(Violation(f"{here}.clusters[{i}].name", f"unknown cluster {entry.name!r}"))
            if entry.name in seen:
                out.append(Violation(f"{here}.clusters[{i}].name", f"cluster {entry.name!r} listed twice"))
            seen.add(entry.name)
        if entries and sum(e.weight for e in entries) == 0:
            out.append(Violation(f"{here}.clusters", "the weights must not all be 0"))


def _check_hcm(hcm, path, clusters, out):
    vhosts = hcm.route_config.virtual_hosts
    vpath = f"{path}.route_config.virtual_hosts"
    _unique_names(vhosts, vpath, "virtual host", out)
    domain_owner: dict[str, int] = {}
    for v, vhost in enumerate(vhosts):
        for d, domain in enumerate(vhost.domains):
            key = domain.lower()
            if key in domain_owner:  # in another virtual host or twice in this one (Envoy rejects both)
                out.append(
                    Violation(
                        f"{vpath}[{v}].domains[{d}]",
                        f"domain {domain!r} is already served by {vpath}[{domain_owner[key]}]",
                    )
                )
            domain_owner.setdefault(key, v)
        for r, route in enumerate(vhost.routes):
            here = f"{vpath}[{v}].routes[{r}]"
            if route.match.WhichOneof("path_specifier") == "safe_regex":
                _check_regex(route.match.safe_regex.regex, f"{here}.match.safe_regex.regex", out)
            if route.WhichOneof("action") == "route":
                _check_cluster_choice(route.route, f"{here}.route", clusters, out)
    for i, http_filter in enumerate(hcm.http_filters):
        here = f"{path}.http_filters[{i}]"
        kind = http_filter.WhichOneof("filter")
        if kind == "fault":
            fault = http_filter.fault
            if fault.abort_percent > 0 and not fault.HasField("abort_status"):
                out.append(Violation(f"{here}.fault.abort_status", "is required when abort_percent is above 0"))
        elif kind == "rbac":
            _unique_names(http_filter.rbac.policies, f"{here}.rbac.policies", "policy", out)
            for p, policy in enumerate(http_filter.rbac.policies):
                for s, cidr in enumerate(policy.source_prefixes):
                    _check_cidr(cidr, f"{here}.rbac.policies[{p}].source_prefixes[{s}]", out)


def _check_endpoint_host(host, path, out):
    # The `address` rule takes any RFC 1123 label, digits only included, so '1.2.3.4.5' passes as a
    # host name. But no host name is all digits (RFC 1123 2.1: the top label is alphabetic; RFC 3986
    # 3.2.2 reads such a host as IPv4), and the resolver takes '127.1' or '9' as the legacy IPv4
    # forms 127.0.0.1 and 0.0.0.9: as Envoy's static endpoints, such a host must be an IP address.
    labels = host.removesuffix(".").split(".")
    if host and all(label.isascii() and label.isdigit() for label in labels) and _parse_ip(host) is None:
        out.append(
            Violation(path, f"{host!r} is not a valid IP address, and a host name cannot be all digits and dots")
        )


def _check_cidr(text, path, out):
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        out.append(Violation(path, f"{text!r} is not a valid CIDR range"))


def _check_regex(pattern, path, out):
    try:
        compile_route_regex(pattern)
    except RegexRefused as exc:
        out.append(Violation(path, str(exc)))
