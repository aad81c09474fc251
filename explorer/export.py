"""Exporting one served request: JSON trace, a curl command, a Test::Nginx block.

The Test::Nginx block is what an OpenResty developer pastes into a ``.t`` file to turn
what they just explored into a regression test, so ``--- config`` carries the source of
the locations the request actually used (taken verbatim from the config files, Lua
bodies untouched) rather than a re-printed approximation. Plain Python, no Textual.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any, Iterable, Protocol

from .curl import to_curl

__all__ = ["to_json", "to_curl_command", "to_test_nginx", "used_locations"]

#: http-level directives a location's code may depend on, copied to ``--- http_config``.
_HTTP_CONFIG_NAMES = {
    "upstream", "map", "geo", "split_clients", "lua_shared_dict", "lua_package_path",
    "lua_package_cpath", "init_by_lua_block", "init_by_lua", "init_by_lua_file",
    "init_worker_by_lua_block", "init_worker_by_lua", "init_worker_by_lua_file", "log_format",
}
_SKIP_HEADERS = {"host", "content-length", "connection"}


class _Directive(Protocol):
    name: str
    args: list[str]
    file: str
    line: int
    end_line: int
    block: Any


class _Files(Protocol):
    text: str


class _Parsed(Protocol):
    directives: list[Any]
    files: dict[str, Any]


def to_json(exchange: Any) -> str:
    """The exchange with its full trace and logs, as the engine's ``to_dict`` gives it."""
    return json.dumps(exchange.to_dict(), indent=2, ensure_ascii=False, default=str)


def _host_header(headers: Iterable[tuple[str, str]]) -> str | None:
    for k, v in headers:
        if k.lower() == "host":
            return v
    return None


def to_curl_command(exchange: Any, origin: str | None = None) -> str:
    """A curl command that replays the request; ``origin`` targets a live listener.

    Without ``origin`` the URL uses the Host header, which is what the user typed. With
    one (``http://127.0.0.1:8080``) the Host header is kept explicit so the same server
    block answers.
    """
    req = exchange.request
    headers = [(k, v) for k, v in req.headers if k.lower() not in ("content-length",)]
    host = _host_header(headers) or "localhost"
    if origin:
        url = origin.rstrip("/") + req.target
    else:
        url = f"http://{host}{req.target}"
        headers = [(k, v) for k, v in headers if k.lower() != "host"]
    return to_curl(req.method, url, headers, req.body, multiline=False)


def _walk(directives: list[Any], chain: tuple[Any, ...] = ()) -> Iterable[tuple[Any, tuple[Any, ...]]]:
    """Every directive with the chain of blocks above it, includes expanded."""
    for d in directives:
        if d.name == "include" and d.block is not None:
            yield from _walk(d.block, chain)
            continue
        yield d, chain
        if d.block is not None:
            yield from _walk(d.block, chain + (d,))


def _children(directives: list[Any]) -> Iterable[Any]:
    """One block level with ``include`` expanded in place."""
    for d in directives:
        if d.name == "include" and d.block is not None:
            yield from _children(d.block)
        else:
            yield d


def _source(parsed: _Parsed, d: _Directive) -> str:
    cf = parsed.files.get(d.file)
    if cf is None:
        return ""
    lines = cf.text.splitlines()
    end = d.end_line or d.line
    return textwrap.dedent("\n".join(lines[d.line - 1:end]))


def used_locations(trace: list[Any]) -> list[tuple[str, int]]:
    """(file, line) of every location the request (and its subrequests) used, in order."""
    out: list[tuple[str, int]] = []

    def visit(events: list[Any]) -> None:
        for ev in events:
            if ev.kind == "location" and ev.data.get("file"):
                key = (ev.data["file"], int(ev.data.get("line") or 0))
                if key not in out:
                    out.append(key)
            if ev.children:
                visit(ev.children)

    visit(trace)
    return out


def _config_blocks(parsed: _Parsed, trace: list[Any]) -> tuple[list[Any], Any | None]:
    """The server-level location blocks holding every used location, and the server."""
    wanted = set(used_locations(trace))
    blocks: list[Any] = []
    server = None
    for d, chain in _walk(parsed.directives):
        if (d.file, d.line) not in wanted:
            continue
        if d.name == "server":
            server = d
            continue
        servers = [i for i, b in enumerate(chain) if b.name == "server"]
        if not servers:
            continue
        server = chain[servers[-1]]
        top = chain[servers[-1] + 1] if len(chain) > servers[-1] + 1 else d
        if top not in blocks:
            blocks.append(top)
    return blocks, server


def to_test_nginx(exchange: Any, parsed: _Parsed, number: int = 1, title: str = "") -> str:
    """A Test::Nginx::Socket block reproducing this request against its locations."""
    req = exchange.request
    blocks, server = _config_blocks(parsed, exchange.trace)
    if blocks:
        config = "\n".join(_source(parsed, b) for b in blocks)
    elif server is not None:  # the server itself answered (no location matched)
        config = "\n".join(_source(parsed, c) for c in _children(server.block or [])
                           if c.name not in ("listen", "server_name"))
    else:
        config = ""
    out = [f"=== TEST {number}: {title or f'{req.method} {req.target}'}"]
    http_config = [
        _source(parsed, d) for d, chain in _walk(parsed.directives)
        if d.name in _HTTP_CONFIG_NAMES and chain and chain[-1].name == "http"
    ]
    if http_config:
        out += ["--- http_config", "\n".join(http_config)]
    out += ["--- config", config]
    request = f"{req.method} {req.target}"
    body = req.body.decode("utf-8", "replace") if req.body else ""
    out += ["--- request", request + ("\n" + body if body else "")]
    more = [f"{k}: {v}" for k, v in req.headers if k.lower() not in _SKIP_HEADERS]
    host = _host_header(req.headers)
    if host and host != "localhost":
        more.insert(0, f"Host: {host}")
    if more:
        out += ["--- more_headers", "\n".join(more)]
    resp = exchange.response
    try:
        text = resp.body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and req.method != "HEAD":
        if text.endswith("\n") or not text:
            out += ["--- response_body", text.rstrip("\n") if text else ""]
        else:
            out += ["--- response_body chomp", text]
    out += [f"--- error_code: {resp.status}"]
    return "\n".join(out) + "\n"
