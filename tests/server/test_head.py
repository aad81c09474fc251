"""Units for nginx's head rules and the chunked decoder (no sockets)."""

from __future__ import annotations

import pytest

from engine.server.chunked import ChunkedDecoder, ChunkError, TooLarge
from engine.http.header_checks import check_headers
from engine.server.head import Head, Verdict, check_size, classify, find_head_end


@pytest.mark.parametrize("raw, end", [
    (b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest", 27),   # CRLF lines
    (b"GET / HTTP/1.1\nHost: a\n\nrest", 24),         # bare LF, as nginx accepts
    (b"GET / HTTP/1.1\r\nHost: a\r\n", -1),           # not complete yet
])
def test_find_head_end(raw: bytes, end: int) -> None:
    assert find_head_end(raw) == end


@pytest.mark.parametrize("raw, status, message", [
    (b"GARBAGE\r\n\r\n", 400, "client sent invalid method"),          # no space: method
    (b"get / HTTP/1.1\r\n\r\n", 400, "client sent invalid method"),   # lower case
    (b"GET x HTTP/1.1\r\n\r\n", 400, "client sent invalid request"),  # not a path
    (b"GET / HTTP/3.0\r\n\r\n", 505, "client sent invalid version"),
    (b"GET / HTTP/1.1\r\nA B: 1\r\n\r\n", 400, 'invalid header line: "A\\x20..."'),
])
def test_classify_refusals(raw: bytes, status: int, message: str) -> None:
    v = classify(raw)
    assert isinstance(v, Verdict)
    assert v.status == status and message in v.message


def test_classify_accepts_what_nginx_accepts() -> None:
    h = classify(b"PURGE_X / HTTP/1.1\r\nHost: a\r\nX_Y: 1\r\nNoColon\r\n\r\n")
    assert isinstance(h, Head)
    assert h.method == "PURGE_X"
    assert h.headers == [("Host", "a"), ("NoColon", "")]
    assert h.ignored == ["X_Y: 1"]  # logged at info, then dropped


def test_check_size_request_line_and_header_line() -> None:
    long_line = b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n"
    assert check_size(long_line, 1024, 8192, 4).status == 414  # type: ignore[union-attr]
    long_header = b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n"
    assert check_size(long_header, 1024, 8192, 4).status == 494  # type: ignore[union-attr]
    fine = b"GET /" + b"a" * 7000 + b" HTTP/1.1\r\n" + b"X: y\r\n" * 100 + b"\r\n"
    assert check_size(fine, 1024, 8192, 4) is None


@pytest.mark.parametrize("version, headers, status", [
    ("HTTP/1.1", [("Host", "a"), ("host", "b")], 400),
    ("HTTP/1.1", [("Content-Length", "1x")], 400),
    ("HTTP/1.1", [("Host", "a"), ("Transfer-Encoding", "gzip")], 501),
    ("HTTP/1.0", [("Transfer-Encoding", "chunked")], 400),
    ("HTTP/1.1", [("Content-Length", "1"), ("Transfer-Encoding", "chunked")], 400),
])
def test_check_headers_refusals(version: str, headers: list[tuple[str, str]],
                                status: int) -> None:
    refusal, _, _ = check_headers(version, "POST", headers)
    assert refusal is not None and refusal.status == status


def test_chunked_decoder_incremental_and_limit() -> None:
    d = ChunkedDecoder()
    data = b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nT: 1\r\n\r\nNEXT"
    pos = 0
    for i in range(1, len(data) + 1):  # one byte at a time
        pos = d.feed(data[:i], pos)
        if d.done:
            break
    assert d.done and d.body() == b"hello world" and data[pos:] == b"NEXT"
    with pytest.raises(TooLarge):
        ChunkedDecoder(limit=10).feed(b"5\r\nhello\r\n64\r\n")
    with pytest.raises(ChunkError):
        ChunkedDecoder().feed(b"zz\r\n")
