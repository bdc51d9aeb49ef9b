"""Envoy's path options of the connection manager (issue 13 defect 5): normalize_path (RFC 3986 section
6 without case normalisation), merge_slashes and path_with_escaped_slashes_action, in Envoy's order,
on the path only; and how the connection manager answers (400, 307) and what it routes and forwards.
The live versions are the catalog's *_i13d5_* entries."""

import pytest

from proxy.http.path import PathOptions, apply_path_options, remove_dot_segments


@pytest.mark.parametrize(
    "path, expected",
    [
        # RFC 3986 5.2.4's examples, and the edges: never above the root, a trailing dot segment keeps "/".
        (b"/a/b/c/./../../g", b"/a/g"),
        (b"/mid/content=5/../6", b"/mid/6"),
        (b"/..", b"/"),
        (b"/../a", b"/a"),
        (b"/a/.", b"/a/"),
        (b"/a/..", b"/"),
        (b"/a//b/../c", b"/a//c"),
        (b"/", b"/"),
        (b"/a/.b/..c", b"/a/.b/..c"),
    ],
)
def test_remove_dot_segments(path, expected):
    assert remove_dot_segments(path) == expected


NORMALIZE = PathOptions(normalize=True)


@pytest.mark.parametrize(
    "target, expected",
    [
        (b"/a/%2e%2E/b", b"/b"),  # %2E is ".": a dot segment once decoded (6.2.2.2 before 5.2.4)
        (b"/%7euser/%41", b"/~user/A"),  # unreserved characters decoded
        (b"/a%2Fb/%25/%3f", b"/a%2Fb/%25/%3f"),  # reserved and "%" stay encoded, case kept
        (b"/a/../b?x=/../y", b"/b?x=/../y"),  # the query is not touched
    ],
)
def test_normalize_path(target, expected):
    assert apply_path_options(target, NORMALIZE).path == expected


def test_merge_slashes_merges_runs_in_the_path_only():
    assert apply_path_options(b"//a///b/?q=//x", PathOptions(merge_slashes=True)).path == b"/a/b/?q=//x"


@pytest.mark.parametrize(
    "action, outcome",
    [
        ("KEEP_UNCHANGED", ("forward", b"/a%2Fb%5c")),
        ("REJECT_REQUEST", ("reject", b"/a%2Fb%5c")),
        ("UNESCAPE_AND_FORWARD", ("forward", b"/a/b/")),
        ("UNESCAPE_AND_REDIRECT", ("redirect", b"/a/b/")),
    ],
)
def test_escaped_slashes(action, outcome):
    got = apply_path_options(b"/a%2Fb%5c", PathOptions(escaped_slashes=action))
    assert (got.action, got.path) == outcome


def test_escaped_slashes_come_first_then_normalisation_then_merging():
    options = PathOptions(normalize=True, merge_slashes=True, escaped_slashes="UNESCAPE_AND_REDIRECT")
    got = apply_path_options(b"/a/b%2F..%2F%2Fc?q", options)
    assert (got.action, got.path) == ("redirect", b"/a/c?q")  # /a/b/..//c -> /a//c -> /a/c


def test_no_escaped_slash_no_redirect():
    got = apply_path_options(b"/a/b", PathOptions(escaped_slashes="UNESCAPE_AND_REDIRECT"))
    assert (got.action, got.path) == ("forward", b"/a/b")


def test_asterisk_form_is_left_alone():
    assert apply_path_options(b"*", PathOptions(True, True, "REJECT_REQUEST")).path == b"*"
