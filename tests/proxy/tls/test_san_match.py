"""proxy/tls/info.py: a configured name against a certificate's DNS SANs (Envoy's dnsNameMatch)."""

import pytest

from proxy.tls.info import PeerCertificate, dns_name_matches, peer_matches


@pytest.mark.parametrize(
    "name, san, expected",
    [
        ("api.example.com", "api.example.com", True),
        ("API.example.COM", "api.Example.com", True),  # host names ignore ASCII case
        ("api.example.com", "*.example.com", True),  # one label under the wildcard
        ("*.example.com", "*.example.com", True),  # the wildcard itself, configured
        ("example.com", "*.example.com", False),  # no label for the star
        (".example.com", "*.example.com", False),
        ("a.b.example.com", "*.example.com", False),  # two labels
        ("api.example.com", "*.com", False),
        ("api.example.org", "*.example.com", False),
        ("xexample.com", "*.example.com", False),
        ("api.example.com", "api*.example.com", False),  # only a whole leftmost-label wildcard
    ],
)
def test_dns_name_matches(name, san, expected):
    assert dns_name_matches(name, san) is expected


def test_uri_sans_compare_exactly_and_no_certificate_matches_nothing():
    peer = PeerCertificate(subject="CN=c", uri_sans=("spiffe://a/b",), dns_sans=("*.example.com",))
    assert peer_matches({"spiffe://a/b"}, peer)
    assert not peer_matches({"SPIFFE://a/b"}, peer)
    assert peer_matches({"nope", "x.example.com"}, peer)
    assert not peer_matches({"x.example.com"}, None)
