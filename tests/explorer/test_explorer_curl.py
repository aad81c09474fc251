"""curl import/export and the composer's URL and header forms (no Textual)."""

from __future__ import annotations

import pytest

from explorer.curl import (CurlError, build_form, parse_curl, parse_header_lines, split_url,
                           to_curl)


@pytest.mark.parametrize(("cmd", "method", "url", "headers", "body"), [
    ("curl http://x/a", "GET", "http://x/a", [], ""),  # bare URL
    ("curl x/a", "GET", "http://x/a", [], ""),  # scheme added like curl does
    ("curl -XPUT http://x/", "PUT", "http://x/", [], ""),  # glued short option
    ("curl -X delete 'http://x/?a=1'", "DELETE", "http://x/?a=1", [], ""),  # quoted URL
    ("curl -H 'Host: h' -H 'X-A:  b ' http://x/", "GET", "http://x/",
     [("Host", "h"), ("X-A", "b")], ""),  # headers trimmed
    ("curl -d a=1 -d b=2 http://x/", "POST", "http://x/",
     [("Content-Type", "application/x-www-form-urlencoded")], "a=1&b=2"),  # data joins
    ("curl -G -d q=1 http://x/s", "GET", "http://x/s?q=1", [], ""),  # -G moves data to URL
    ("curl -I http://x/", "HEAD", "http://x/", [], ""),  # HEAD
    ("curl -sSL --compressed -k http://x/", "GET", "http://x/", [], ""),  # ignored flags
    ("curl --json '{\"a\":1}' http://x/", "POST", "http://x/",
     [("Content-Type", "application/json"), ("Accept", "application/json")], '{"a":1}'),
    ("curl 'http://x/' \\\n  -H 'A: 1'", "GET", "http://x/", [("A", "1")], ""),  # continuation
    ("curl --data-urlencode 'q=a b' http://x/", "POST", "http://x/",
     [("Content-Type", "application/x-www-form-urlencoded")], "q=a%20b"),
    ("curl -o out.txt -u u:p http://x/", "GET", "http://x/",
     [("Authorization", "Basic dTpw")], ""),  # -o skipped with its value
])
def test_parse_curl(cmd: str, method: str, url: str, headers: list, body: str) -> None:
    req = parse_curl(cmd)
    assert (req.method, req.url, req.headers, req.body) == (method, url, headers, body)


@pytest.mark.parametrize("cmd", [
    "wget http://x/",  # not curl
    "curl",  # no URL
    "curl -H http://x/",  # -H swallowed the URL, then no URL
    "curl -H 'nocolon' http://x/",  # malformed header
    "curl 'http://x/",  # unbalanced quote
    "curl http://a/ http://b/",  # two URLs
])
def test_parse_curl_errors(cmd: str) -> None:
    with pytest.raises(CurlError):
        parse_curl(cmd)


def test_to_curl_round_trips() -> None:
    cmd = to_curl("POST", "http://x/a?b=1", [("X-A", "it's")], "k=v")
    back = parse_curl(cmd)
    assert back.method == "POST" and back.url == "http://x/a?b=1"
    assert ("X-A", "it's") in back.headers and back.body == "k=v"
    assert to_curl("GET", "http://x/", [], "") == "curl http://x/"
    assert to_curl("HEAD", "http://x/", [], "") == "curl -I http://x/"
    assert "-X PUT" in to_curl("PUT", "http://x/", [], "")


def test_header_lines_marks_bad_lines() -> None:
    headers, errors = parse_header_lines("A: 1\n\n# parked: x\nbroken\nBad Name: 2\nB:2")
    assert headers == [("A", "1"), ("B", "2")]
    assert [n for n, _ in errors] == [4, 5]


def test_split_url() -> None:
    assert split_url("/a?b") == (None, None, "/a?b")
    assert split_url("http://h:8080/p?q=1") == ("h", 8080, "/p?q=1")
    assert split_url("h") == ("h", None, "/")
    for bad in ("", "http://", "ftp://h/", "http://h:99999/", "/a b"):
        with pytest.raises(CurlError):
            split_url(bad)


def test_build_form_adds_host_and_length() -> None:
    form = build_form("post", "http://example.com:8080/x", "X-A: 1", "hi")
    assert form.method == "POST" and form.target == "/x" and form.port == 8080
    assert form.headers[0] == ("Host", "example.com:8080")
    assert ("Content-Length", "2") in form.headers
    assert build_form("GET", "/x", "", "").headers == [("Host", "localhost")]
    with pytest.raises(CurlError, match="^headers:"):
        build_form("GET", "/x", "oops", "")
    with pytest.raises(CurlError, match="^method:"):
        build_form("G T", "/x", "", "")


def test_https_url_comes_over_tls() -> None:
    """An https:// URL is sent as over TLS; its default port (443) is not in Host."""
    form = build_form("GET", "https://h/p", "", "")
    assert form.tls and ("Host", "h") in form.headers and form.port is None
    assert ("Host", "h:8443") in build_form("GET", "https://h:8443/", "", "").headers
    assert ("Host", "h:443") in build_form("GET", "http://h:443/", "", "").headers
    assert not build_form("GET", "http://h/", "", "").tls
