"""The reference's meaning of TE (RFC 9110 10.1.4), as the proxy's since ef38bca: a list naming the
member `trailers` means `te: trailers`, whatever codings it names beside; anything else means
nothing past a hop. Before, only the exact value `trailers` counted, so CI's own 30 s runs of
h1_server and h1_client failed h1_reference_mismatch on a clean clone of 9beef49 (regression seeds
regress-te-list-naming-trailers in corpus/h1_server and corpus/h1_client)."""

import pytest

from fuzz.targets.reference import meaning_fields


@pytest.mark.parametrize(
    "value, meaning",
    [
        (b"trailers", [(b"te", b"trailers")]),
        (b"gzip;q=0.5, Trailers", [(b"te", b"trailers")]),
        (b"deflate", []),
        (b"trailers;q=0.5", []),  # a member with parameters is a coding named trailers, not the member
    ],
)
def test_te_means_trailers_only_when_it_names_the_member(value, meaning):
    assert meaning_fields([(b"te", value)]) == meaning
