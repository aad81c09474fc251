"""Parsing a complete request head with httptools (llhttp), corrected to nginx's reading.

The listener frames heads itself (nginx's limits decide where one ends); this turns one
into (method, target, version, headers, ignored header lines). llhttp is the fast path;
where it refuses a head, :func:`.head.classify` gives nginx's verdict, and where it reads
a value differently from nginx 1.22 (tabs, trailing spaces) the value is cut again.
"""

from __future__ import annotations

from typing import Any

import httptools

from .head import Head, Verdict, classify

#: (method, target, version, headers, ignored header lines)
Parsed = tuple[str, str, str, list[tuple[str, str]], list[str]]


class HeadParser:
    """One connection's llhttp parser, kept across its heads while it can be."""

    __slots__ = ("parser", "_h", "_url")

    def __init__(self) -> None:
        self.parser: Any = None
        self._h: list[tuple[bytes, bytes]] = []
        self._url = b""

    def reset(self) -> None:
        """A body follows that the listener frames itself: the next head starts afresh."""
        self.parser = None

    def parse(self, head: bytes) -> Verdict | Parsed:
        """Parse a complete head; nginx's rules decide what it refuses."""
        parser = self.parser
        if parser is None:
            parser = self.parser = httptools.HttpRequestParser(self)
        self._h = []
        self._url = b""
        try:
            if b"\n:" in head or head.count(b"\r") != head.count(b"\r\n"):
                # llhttp takes a name-less line and a bare CR that nginx refuses
                raise httptools.HttpParserError("nginx's header line rules apply")
            parser.feed_data(head)
            method = parser.get_method().decode("latin-1")  # letters only
            version = "HTTP/" + parser.get_http_version()
            if version != "HTTP/1.1" and version != "HTTP/1.0":
                raise httptools.HttpParserError("nginx's version rules apply")
        except httptools.HttpParserUpgrade:
            # "Connection: upgrade" + Upgrade (or CONNECT): the head is parsed; nginx knows
            # no upgrade (without a proxy doing it) and answers as usual. The parser stays
            # in upgrade mode, so the next head gets a fresh one.
            self.parser = None
            method = parser.get_method().decode("latin-1")
            version = "HTTP/" + parser.get_http_version()
            if version != "HTTP/1.1" and version != "HTTP/1.0":
                self._url = b""  # nginx's version rules apply
        except httptools.HttpParserError:
            self.parser = None
            self._url = b""
        if self._url[:1] != b"/" and b"://" not in self._url:
            # a refused head, or a target llhttp takes ("OPTIONS *", CONNECT's host:port)
            # and nginx's request line does not: nginx's rules decide
            self.parser = None
            verdict = classify(head)
            if isinstance(verdict, Verdict):
                return verdict
            return _from_head(verdict)
        headers: list[tuple[str, str]] = []
        ignored: list[str] = []
        found = self._h
        if b"\t" in head:
            found = _nginx_values(head, found)
        for name, value in found:
            if value[-1:] == b" ":  # nginx trims spaces only, llhttp keeps trailing ones
                value = value.rstrip(b" ")
            if name.replace(b"-", b"").isalnum() and name.isascii():
                headers.append((name.decode("latin-1"), value.decode("utf-8", "surrogateescape")))
            else:
                ignored.append((name + b": " + value).decode("utf-8", "surrogateescape"))
        return method, self._url.decode("utf-8", "surrogateescape"), version, headers, ignored

    @staticmethod
    def parse_simple(line: bytes) -> Verdict | Parsed:
        """An HTTP/0.9 request line (see head.simple_line_end), which llhttp refuses."""
        verdict = classify(line)
        return verdict if isinstance(verdict, Verdict) else _from_head(verdict)

    # httptools callbacks
    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._h.append((name, value))


def _nginx_values(head: bytes, found: list[tuple[bytes, bytes]]
                  ) -> list[tuple[bytes, bytes]]:
    """Header values as nginx 1.22 cuts them when a tab is involved: llhttp skips
    leading tabs too, nginx only spaces (``X: \\t x`` keeps its tab)."""
    lines = [ln.rstrip(b"\r") for ln in head.split(b"\n")[1:]]
    lines = [ln for ln in lines if ln]
    if len(lines) != len(found):
        return found
    out = []
    for (name, value), line in zip(found, lines):
        raw = line.partition(b":")[2].lstrip(b" ")
        out.append((name, raw if raw.rstrip(b" \t").endswith(value.rstrip(b" \t")) else value))
    return out


def _from_head(h: Head) -> Parsed:
    return h.method, h.target, h.version, h.headers, h.ignored
