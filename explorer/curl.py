"""Requests as text: curl command lines in and out, and the composer's URL and header forms.

Users paste ``curl`` commands from docs, bug reports and browser dev tools, so
:func:`parse_curl` accepts the options those carry (``-X``, ``-H``, ``-d`` and its
variants, ``--json``, ``-I``, ``-G``, ``-A``, ``-e``, ``-b``, ``-u``, ``--url``) and
quietly skips the ones that do not change the request (``-s``, ``-k``, ``-L``,
``--compressed``...). Everything here is plain Python: the composer widget and the
exporters share it, and it is tested without Textual.
"""

from __future__ import annotations

import base64
import re
import shlex
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

__all__ = [
    "CurlError",
    "build_form",
    "CurlRequest",
    "RequestForm",
    "parse_curl",
    "parse_header_lines",
    "split_url",
    "to_curl",
    "looks_like_curl",
]


class CurlError(ValueError):
    """The text could not be read as a request; ``str()`` says why, for an inline mark."""


@dataclass
class CurlRequest:
    """What a curl command would send."""

    method: str = "GET"
    url: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""


@dataclass
class RequestForm:
    """A validated composer form: the target as nginx sees it plus the Host header."""

    method: str
    host: str
    port: int | None
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    #: an ``https://`` URL: the request comes over TLS ($scheme https)
    tls: bool = False


# Options that take a value but do not change what is sent (the value is skipped).
_SKIP_WITH_VALUE = {
    "-o", "--output", "-m", "--max-time", "--connect-timeout", "-w", "--write-out",
    "--retry", "-c", "--cookie-jar", "--cacert", "--cert", "--key", "-E", "--proxy", "-x",
    "--resolve", "--limit-rate", "-r", "--range", "--max-redirs", "--interface", "-T",
    "--upload-file", "--trace", "--trace-ascii", "--stderr", "-K", "--config",
}
_DATA_OPTS = {"-d", "--data", "--data-ascii", "--data-binary", "--data-raw",
              "--data-urlencode"}
_METHOD_RE = re.compile(r"^[A-Z][A-Z0-9_-]*$")
_HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def looks_like_curl(text: str) -> bool:
    """True when a pasted URL-field text is really a curl command."""
    return text.lstrip().startswith("curl ") or text.strip() == "curl"


def _split_short(args: list[str]) -> list[str]:
    """``-sSL`` → ``-s -S -L`` and ``-XPOST`` → ``-X POST``, as curl's getopt does."""
    takes_value = {"X", "H", "d", "A", "e", "b", "u", "o", "m", "w", "c", "E", "x", "r", "T",
                   "K"}
    out: list[str] = []
    for a in args:
        if a.startswith("-") and not a.startswith("--") and len(a) > 2:
            for i, ch in enumerate(a[1:], start=1):
                out.append("-" + ch)
                if ch in takes_value:
                    rest = a[i + 1:]
                    if rest:
                        out.append(rest)
                    break
        else:
            out.append(a)
    return out


def parse_curl(text: str) -> CurlRequest:
    """Read a curl command line (with ``\\`` line continuations) into a request."""
    joined = re.sub(r"\\\r?\n", " ", text.strip())
    try:
        words = shlex.split(joined)
    except ValueError as e:
        raise CurlError(f"cannot read the curl command: {e}") from None
    if not words or words[0] != "curl":
        raise CurlError("not a curl command")
    args = _split_short(words[1:])
    req = CurlRequest()
    method: str | None = None
    data: list[str] = []
    get_mode = head = False
    i = 0

    def value() -> str:
        nonlocal i
        if i + 1 >= len(args):
            raise CurlError(f"option {args[i]}: requires parameter")
        i += 1
        return args[i]

    while i < len(args):
        a = args[i]
        if a in ("-X", "--request"):
            method = value().upper()
        elif a in ("-H", "--header"):
            name, sep, val = value().partition(":")
            if not sep or not name.strip():
                raise CurlError(f"malformed header {args[i]!r}: expected 'Name: value'")
            req.headers.append((name.strip(), val.strip()))
        elif a in _DATA_OPTS:
            v = value()
            if a == "--data-urlencode":
                name, eq, rest = v.partition("=")
                v = f"{name}={quote(rest, safe='')}" if eq else quote(v, safe="")
            elif v.startswith("@") and a != "--data-raw":
                raise CurlError(f"{a} {v}: reading the body from a file is not supported")
            data.append(v)
        elif a == "--json":
            data.append(value())
            req.headers.append(("Content-Type", "application/json"))
            req.headers.append(("Accept", "application/json"))
        elif a in ("-I", "--head"):
            head = True
        elif a in ("-G", "--get"):
            get_mode = True
        elif a in ("-A", "--user-agent"):
            req.headers.append(("User-Agent", value()))
        elif a in ("-e", "--referer"):
            req.headers.append(("Referer", value()))
        elif a in ("-b", "--cookie"):
            req.headers.append(("Cookie", value()))
        elif a in ("-u", "--user"):
            token = base64.b64encode(value().encode()).decode()
            req.headers.append(("Authorization", f"Basic {token}"))
        elif a == "--url":
            req.url = value()
        elif a in _SKIP_WITH_VALUE:
            value()
        elif a.startswith("-") and a != "-":
            pass  # flags such as -s, -v, -k, -L, -i, --compressed change nothing sent
        elif not req.url:
            req.url = a
        else:
            raise CurlError(f"more than one URL: {req.url!r} and {a!r}")
        i += 1
    if not req.url:
        raise CurlError("no URL in the curl command")
    if "://" not in req.url:
        req.url = "http://" + req.url
    body = "&".join(data)
    if get_mode and body:
        req.url += ("&" if "?" in req.url else "?") + body
        body = ""
    if body and not any(k.lower() == "content-type" for k, _ in req.headers):
        req.headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    req.body = body
    req.method = method or ("HEAD" if head else "POST" if body else "GET")
    return req


def to_curl(method: str, url: str, headers: list[tuple[str, str]], body: str | bytes = b"",
            multiline: bool = False) -> str:
    """The curl command that sends this request (``-X`` only when curl would not infer it)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    parts = ["curl"]
    if method == "HEAD" and not body:
        parts.append("-I")
    elif method != ("POST" if body else "GET"):
        parts += ["-X", method]
    for k, v in headers:
        parts += ["-H", shlex.quote(f"{k}: {v}")]
    if body:
        parts += ["--data-raw", shlex.quote(body)]
    parts.append(shlex.quote(url))
    if not multiline:
        return " ".join(parts)
    lines, cur = [], parts[0]
    for p in parts[1:]:
        if p.startswith("-") or p == parts[-1]:
            lines.append(cur)
            cur = p
        else:
            cur += " " + p
    lines.append(cur)
    return " \\\n  ".join(lines)


def parse_header_lines(text: str) -> tuple[list[tuple[str, str]], list[tuple[int, str]]]:
    """``Name: value`` per line → headers, plus (1-based line, problem) for the bad lines.

    Blank lines and lines starting with ``#`` are ignored, so users can park a header.
    """
    headers: list[tuple[str, str]] = []
    errors: list[tuple[int, str]] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, val = line.partition(":")
        if not sep:
            errors.append((n, f"line {n}: expected 'Name: value', got {line!r}"))
        elif not _HEADER_NAME_RE.match(name):
            errors.append((n, f"line {n}: invalid header name {name!r}"))
        else:
            headers.append((name, val.strip()))
    return headers, errors


def split_url(url: str) -> tuple[str | None, int | None, str]:
    """``http://host:port/path?args`` or ``/path?args`` → (host, port, target).

    Raises CurlError with the reason when nginx could not be sent this URL.
    """
    url = url.strip()
    if not url:
        raise CurlError("the URL is empty")
    if any(c.isspace() for c in url):
        raise CurlError("the URL contains whitespace")
    if url.startswith("/"):
        return None, None, url
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise CurlError(f"unsupported scheme {parts.scheme!r}: only http and https")
    if not parts.hostname:
        raise CurlError("the URL has no host")
    try:
        port = parts.port
    except ValueError:
        raise CurlError("the URL's port is not a number from 1 to 65535") from None
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return parts.hostname, port, target


def build_form(method: str, url: str, header_text: str, body: str) -> RequestForm:
    """Validate the composer's fields into a request; raises CurlError naming the field."""
    method = method.strip().upper()
    if not _METHOD_RE.match(method):
        raise CurlError(f"method: {method!r} is not a valid HTTP method")
    host, port, target = split_url(url)
    tls = url.strip().lower().startswith("https://")
    headers, errors = parse_header_lines(header_text)
    if errors:
        raise CurlError("headers: " + "; ".join(msg for _, msg in errors))
    has_host = any(k.lower() == "host" for k, _ in headers)
    if host is not None and not has_host:
        shown = host if port in (None, 443 if tls else 80) else f"{host}:{port}"
        headers.insert(0, ("Host", shown))
    elif host is None and not has_host:
        headers.insert(0, ("Host", "localhost"))
    data = body.encode("utf-8")
    if data and not any(k.lower() == "content-length" for k, _ in headers):
        headers.append(("Content-Length", str(len(data))))
    return RequestForm(method, host or "", port, target, headers, data, tls)

