"""The route harness: seeds replay, odd inputs return, and each oracle can fail: a regex that is
not anchored and a weighted-cluster bucket off by one are both caught (planted by monkeypatch)."""

import random

import pytest

from fuzz import oracles
from fuzz.targets import route, route_reference as ref
from proxy.config import schema
from proxy.http.route import Route


def weighted_config(weights=(90, 10)):
    config = schema.RouteConfiguration()
    vh = config.virtual_hosts.add(name="v", domains=["*"])
    r = vh.routes.add()
    r.match.prefix = "/"
    for i, w in enumerate(weights):
        r.route.weighted_clusters.clusters.add(name=f"c{i}", weight=w)
    return config


def regex_config(regex="/v[0-9]+"):
    config = schema.RouteConfiguration()
    vh = config.virtual_hosts.add(name="v", domains=["*"])
    r = vh.routes.add()
    r.match.safe_regex.regex = regex
    r.route.cluster = "c0"
    return config


def test_tiny_empty_and_large_inputs_return():
    for data in (b"", b"\x00", b"\x01", b"\x01\xff\xff" + bytes(100), random.Random(0).randbytes(4096)):
        route.run(data)


def test_a_protobuf_seed_matches_the_reference():
    request = ref.Request("GET", "example.com", "/v1/items", ())
    outcome = route.run(route.encode_protobuf_input(weighted_config(), request))
    assert outcome.answer.route == "v/0" and outcome.answer.cluster == "c0"


def test_a_boundary_draw_picks_the_next_bucket():
    request = ref.Request("GET", "example.com", "/", ())
    draws = bytes([0x80 + 1, 0])  # boundary points of (90, 10): 89, 90, 99, 100 -> the second, 90
    outcome = route.run(route.encode_protobuf_input(weighted_config(), request, draws))
    assert outcome.draws == ((100, 90),) and outcome.answer.cluster == "c1"


def test_invalid_configurations_return_early_and_nested_repeats_are_fuzzed():
    bad = regex_config("(")
    assert route.run(route.encode_protobuf_input(bad, ref.Request("GET", "a", "/", ()))) is None
    # RE2 in the proxy and the reference: a pattern that backtracks exponentially in `re` is answered
    nested = route.encode_protobuf_input(regex_config("/(a*)*b"), ref.Request("GET", "a", "/" + "a" * 20, ()))
    assert route.run(nested).answer is None


def test_reference_domain_precedence():
    config = schema.RouteConfiguration()
    for name, domains in (
        ("star", ["*"]),
        ("pre", ["api.*"]),
        ("suf", ["*.example.com"]),
        ("longsuf", ["*.api.example.com"]),
        ("exact", ["api.example.com"]),
    ):
        config.virtual_hosts.add(name=name, domains=domains)
    pick = lambda host: ref.choose_virtual_host(config, host).name  # noqa: E731
    assert pick("API.example.com") == "exact"
    assert pick("v1.api.example.com") == "longsuf"
    assert pick("api.example.org") == "pre"
    assert pick("example.com") == "star"


def test_seeds_replay():
    from pathlib import Path

    seeds = sorted(Path(route.__file__).resolve().parents[2].joinpath("corpus", "route").iterdir())
    assert len(seeds) >= 100
    answered = sum(route.run(p.read_bytes()) is not None for p in seeds)
    assert answered == len(seeds)


def test_planted_unanchored_regex_is_caught(monkeypatch):
    data = route.encode_protobuf_input(regex_config("/v[0-9]+"), ref.Request("GET", "a", "/v1/items", ()))
    assert route.run(data).answer is None  # full match: "/v1/items" is not "/v[0-9]+"

    def unanchored(self, head):
        if self.kind == "regex":
            return self.regex.search(head.path_only) is not None
        return head.path.startswith(self.pattern) if self.kind == "prefix" else head.path_only == self.pattern

    monkeypatch.setattr(Route, "path_matches", unanchored)
    with pytest.raises(oracles.InvariantViolation, match="route_differs_from_reference"):
        route.run(data)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # re reads [[: as a nested set, as planted
def test_planted_python_re_router_is_caught(monkeypatch):
    """A router matching safe_regex with Python's `re` instead of RE2 (Envoy's engine): `[[:digit:]]`
    is a POSIX class to RE2 and a set of punctuation and letters to `re`."""
    import re

    import proxy.http.route

    data = route.encode_protobuf_input(regex_config("/[[:digit:]]+"), ref.Request("GET", "a", "/12", ()))
    assert route.run(data).answer is not None
    monkeypatch.setattr(route, "_CACHE", type(route._CACHE)(256))  # tables built by the planted router
    monkeypatch.setattr(proxy.http.route, "compile_route_regex", lambda pattern: re.compile(pattern.encode()))
    with pytest.raises(oracles.InvariantViolation, match="route_differs_from_reference"):
        route.run(data)


def test_planted_weighted_off_by_one_is_caught(monkeypatch):
    data = route.encode_protobuf_input(weighted_config(), ref.Request("GET", "a", "/", ()))
    route.run(data)

    def off_by_one(self, rng):
        point = rng.randrange(self.total_weight)
        for name, weight in self.clusters:
            if point <= weight:
                return name
            point -= weight
        return self.clusters[-1][0]

    monkeypatch.setattr(Route, "pick_cluster", off_by_one)
    with pytest.raises(oracles.InvariantViolation, match="weighted_cluster_bucket"):
        route.run(data)


def test_planted_bugs_are_found_by_random_structured_inputs(monkeypatch):
    """Not only by hand-made inputs: a few hundred random structured inputs reach each bug."""

    def unanchored(self, head):
        if self.kind == "regex":
            return self.regex.search(head.path_only) is not None
        return head.path.startswith(self.pattern) if self.kind == "prefix" else head.path_only == self.pattern

    monkeypatch.setattr(Route, "path_matches", unanchored)
    rng = random.Random(2)
    with pytest.raises(oracles.InvariantViolation):
        for _ in range(5000):
            route.run(b"\x00" + rng.randbytes(rng.randint(0, 200)))


def test_regexes_match_as_validated_text():
    # Found by the route oracle: a non-ASCII pattern matched differently from the reference (the
    # router read it as bytes, `?` applying to the last byte of é). RE2 reads the pattern as UTF-8.
    # RE2's own syntax (\Q..\E, POSIX classes) routes; Python's `(?u)` is refused by validation.
    for regex, path in (("/aé?", "/a"), (r"/\Q.\E[[:digit:]]", "/.1")):
        outcome = route.run(route.encode_protobuf_input(regex_config(regex), ref.Request("GET", "a", path, ())))
        assert outcome is not None and outcome.answer is not None
    assert route.run(route.encode_protobuf_input(regex_config("(?u)/a"), ref.Request("GET", "a", "/a", ()))) is None


def test_planted_first_value_header_match_is_caught_by_the_repeated_header_seeds(monkeypatch):
    # The bug class of CVE-2020-25017 (PLANT round 5, header-matcher-first-value-only): a matcher that
    # reads only the first of a repeated header's values.
    import hashlib
    from pathlib import Path

    from proxy.http.message import RequestHead

    corpus = Path(route.__file__).resolve().parents[2] / "corpus" / "route"
    seeds = route.repeated_header_seeds()
    assert all((corpus / hashlib.sha1(d).hexdigest()).is_file() for d in seeds)
    for data in seeds:
        route.run(data)
    real = RequestHead.header_value
    monkeypatch.setattr(
        RequestHead, "header_value", lambda self, name: (self.headers.get_all(name) or [real(self, name)])[0]
    )
    with pytest.raises(oracles.InvariantViolation, match="route_differs_from_reference"):
        for data in seeds:
            route.run(data)


# bench mutants proxy/http/route.py (seed 16) left RouteTable.virtual_host's 'len(host) > len(suffix)'
# and 'len(prefix)' alive (-> >=), and build_route_table's 'domain[:-1]' (-> [:-2]): no seed had an
# authority equal to a wildcard's fixed part. Envoy: the wildcard "will not match the empty string"
# (*-bar.foo.com does not match -bar.foo.com); the reference already says so.
WILDCARD_SEEDS = (
    "wildcard-suffix-stands-for-one-character-or-more",
    "wildcard-prefix-stands-for-one-character-or-more",
)
WILDCARD_MUTANTS = (  # (qualname, the edit's source, the line that holds it, the seed)
    ("RouteTable.virtual_host", "len(host) > len(suffix)", None, 0),
    ("RouteTable.virtual_host", "len(host) > len(prefix)", None, 1),
    ("build_route_table", "1", "prefixes.append((domain[:-1], vh))", 1),
)


def _wildcard_seed(i: int) -> bytes:
    from pathlib import Path

    return Path(route.__file__).resolve().parents[2].joinpath("corpus", "route", WILDCARD_SEEDS[i]).read_bytes()


def test_an_authority_equal_to_a_wildcards_fixed_part_falls_to_the_catch_all():
    for i in range(2):
        assert route.run(_wildcard_seed(i)).answer.cluster == route.CLUSTERS[2]


@pytest.mark.parametrize("qualname, before, text, seed", WILDCARD_MUTANTS)
def test_a_wildcard_matching_the_empty_string_is_caught(monkeypatch, qualname, before, text, seed):
    import inspect

    import proxy.http.route as route_table
    from fuzz.bench.mutants import ops

    lines, _ = inspect.getsourcelines(route_table)
    line = next(i for i, source in enumerate(lines, 1) if text in source) if text else None
    owner = route_table.RouteTable if "." in qualname else route_table
    function = getattr(owner, qualname.split(".")[-1])
    monkeypatch.setattr(function, "__code__", ops.planted(route_table, qualname, before, line=line))
    monkeypatch.setattr(route, "_CACHE", type(route._CACHE)(256))  # tables built by the planted code
    with pytest.raises(oracles.InvariantViolation, match="route_differs_from_reference"):
        route.run(_wildcard_seed(seed))
