"""ngx_http_proxy_module's configuration: ``proxy_pass`` targets and the per-block settings.

Compiled once per block where a ``proxy_pass`` is in force (its location, and the ``if``
and ``limit_except`` blocks inside, which nginx lets inherit the proxy settings), with
nginx's merge rules from :class:`~engine.http.block.Block`: ``proxy_set_header``,
``proxy_hide_header``, ``proxy_pass_header`` and ``proxy_redirect`` are all-or-nothing
arrays (a block with one of its own inherits none), the rest inherit one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..conf.ast import Directive
from ..conf.errors import ConfigError
from ..conf.values import parse_size, parse_time
from ..http.block import Block
from ..http.location import LocationConf
from ..http.regex import Regex
from ..http.uri import escape_text
from ..http.variables import ComplexValue, compile_value
from .proxy_cookie import CookieRule, compile_rules
from .upstream import ParsedURL, UpstreamGroup, Upstreams, URLError, line_of, parse_url

if TYPE_CHECKING:
    from ..http.engine import HttpEngine
    from ..http.request import Request

#: ngx_http_proxy_headers: sent unless proxy_set_header names them; "" means "not sent"
#: (and the client's header of that name is dropped too).
DEFAULT_HEADERS: list[tuple[str, str]] = [
    ("Host", "$proxy_host"),
    ("Connection", "close"),
    ("Content-Length", "$proxy_internal_body_length"),
    ("Transfer-Encoding", "$proxy_internal_chunked"),
    ("TE", ""),
    ("Keep-Alive", ""),
    ("Expect", ""),
    ("Upgrade", ""),
]

#: ngx_http_proxy_hide_headers: upstream response headers nginx does not pass by default.
DEFAULT_HIDE = frozenset({"date", "server", "x-pad", "x-accel-expires", "x-accel-redirect",
                          "x-accel-limit-rate", "x-accel-buffering", "x-accel-charset"})

NEXT_UPSTREAM_VALUES = frozenset({"error", "timeout", "invalid_header", "http_500", "http_502",
                                  "http_503", "http_504", "http_403", "http_404", "http_429",
                                  "non_idempotent", "updating", "off"})

_URI_PART_ERROR = ('"proxy_pass" cannot have URI part in location given by regular '
                   'expression, or inside named location, or inside "if" statement, or '
                   'inside "limit_except" block')


@dataclass(eq=False)
class Target:
    """A ``proxy_pass`` without variables: its group and nginx's ``vars``."""

    url: str  # the argument as written: "http://127.0.0.1:8081/b/"
    schema: str  # "http://"
    group: UpstreamGroup
    host_header: str  # $proxy_host
    port: str  # $proxy_port
    uri: str  # the URI part, "" when none
    ssl: bool


@dataclass(eq=False)
class Redirect:
    """One ``proxy_redirect``: a prefix (static or with variables) or a regex."""

    prefix: ComplexValue | None
    regex: Regex | None
    replacement: ComplexValue

    def apply(self, r: Request, value: str) -> str | None:
        """The rewritten header value, or None when this rule does not match."""
        if self.regex is not None:
            caps = self.regex.exec(value)
            if caps is None:
                return None
            saved = r.captures
            r.captures = caps
            try:
                return self.replacement.evaluate(r)
            finally:
                r.captures = saved
        assert self.prefix is not None
        pattern = self.prefix.evaluate(r)
        if not value.startswith(pattern):
            return None
        return self.replacement.evaluate(r) + value[len(pattern):]


@dataclass(eq=False)
class ProxyConf:
    """Everything the proxy handler needs for one block."""

    directive: Directive  # the proxy_pass in force
    target: Target | None  # None when the URL has variables
    url_value: ComplexValue | None
    location: str  # the prefix a URI part replaces ("" in regex/named/if blocks)
    headers: list[tuple[str, ComplexValue]] = field(default_factory=list)
    header_names: frozenset[str] = frozenset()
    pass_request_headers: bool = True
    pass_request_body: bool = True
    http_version: str = "HTTP/1.0"
    method: ComplexValue | None = None
    set_body: ComplexValue | None = None
    hide: frozenset[str] = DEFAULT_HIDE
    ignore_headers: frozenset[str] = frozenset()
    redirects: list[Redirect] = field(default_factory=list)
    cookie_domains: list[CookieRule] = field(default_factory=list)
    cookie_paths: list[CookieRule] = field(default_factory=list)
    connect_timeout: float = 60.0
    send_timeout: float = 60.0
    read_timeout: float = 60.0
    next_upstream: frozenset[str] = frozenset({"error", "timeout"})
    next_upstream_tries: int = 0
    next_upstream_timeout: float = 0.0
    intercept_errors: bool = False
    #: proxy_buffering: the body goes to the client in whole buffers (see proxy.py)
    buffering: bool = True
    #: proxy_buffer_size: the first buffer, holding the header (a bigger one is a 502)
    buffer_size: int = 4096
    #: the size of each of proxy_buffers
    buffers_size: int = 4096


def pass_directive(block: Block) -> tuple[Directive, Block] | None:
    """The ``proxy_pass`` in force here and the block that declared it.

    Only ``if``/``limit_except`` blocks inherit it from their location (nginx merges the
    proxy conf into them); a nested location has its own handler or none.
    """
    b: Block | None = block
    while b is not None:
        own = b.own.get("proxy_pass")
        if own:
            return own[0], b
        if b.kind not in ("if", "limit_except"):
            return None
        b = b.parent
    return None


def compile_target(engine: HttpEngine, ups: Upstreams, d: Directive,
                   declaring: Block) -> tuple[Target | None, ComplexValue | None, str]:
    """ngx_http_proxy_pass: the target, the URL with variables, and the location name."""
    text = d.args[0]
    line = line_of(d)
    cv = compile_value(text, engine.variables, d.file, line)
    loc = declaring if isinstance(declaring, LocationConf) else None
    no_uri_allowed = loc is not None and (loc.regex is not None or loc.modifier == "@"
                                          or loc.kind in ("if", "limit_except"))
    location = "" if loc is None or no_uri_allowed else loc.name
    if cv.has_variables:
        return None, cv, location
    low = text[:8].lower()
    if low.startswith("http://"):
        schema, default_port, ssl = text[:7], 80, False
    elif low.startswith("https://"):
        schema, default_port, ssl = text[:8], 443, True
    else:
        raise ConfigError("invalid URL prefix", d.file, line)
    try:
        url = parse_url(text[len(schema):], default_port, uri_part=True)
    except URLError as exc:
        raise ConfigError(f'{exc} in upstream "{text[len(schema):]}"', d.file, line) from None
    group = ups.explicit(url.host)
    if group is not None:
        if not url.no_port:
            raise ConfigError(f'upstream "{url.host}" may not have port {url.port}', d.file,
                              line)
    else:
        group = ups.implicit_group(url, d)
    if url.uri and no_uri_allowed:
        raise ConfigError(_URI_PART_ERROR, d.file, line)
    host_header, port = proxy_vars(url, default_port)
    return Target(text, schema, group, host_header, port, url.uri, ssl), None, location


def proxy_vars(url: ParsedURL, default_port: int) -> tuple[str, str]:
    """ngx_http_proxy_set_vars: ``$proxy_host`` and ``$proxy_port``."""
    if url.unix:
        return "localhost", ""
    if url.no_port or url.port == default_port:
        return url.host, str(default_port)
    return f"{url.host}:{url.port_text}", url.port_text


def compile_conf(engine: HttpEngine, block: Block, d: Directive, target: Target | None,
                 url_value: ComplexValue | None, location: str) -> ProxyConf:
    conf = ProxyConf(d, target, url_value, location)
    table = engine.variables
    user = [(h.args[0], h.args[1], h) for h in block.get("proxy_set_header")]
    names = {n.lower() for n, _, _ in user}
    merged = user + [(n, v, None) for n, v in DEFAULT_HEADERS if n.lower() not in names]
    conf.header_names = frozenset(n.lower() for n, _, _ in merged)
    for name, value, src in merged:
        if value == "":
            continue
        where = src or d
        conf.headers.append((name, compile_value(value, table, where.file, line_of(where))))
    conf.pass_request_headers = block.flag("proxy_pass_request_headers", True)
    conf.pass_request_body = block.flag("proxy_pass_request_body", True)
    conf.intercept_errors = block.flag("proxy_intercept_errors", False)
    version = block.first("proxy_http_version")
    if version is not None:
        if version.args[0] not in ("1.0", "1.1"):
            raise ConfigError(f'invalid value "{version.args[0]}"', version.file,
                              line_of(version))
        conf.http_version = "HTTP/" + version.args[0]
    for attr in ("method", "set_body"):
        m = block.first("proxy_" + attr)
        if m is not None:
            setattr(conf, attr, compile_value(m.args[0], table, m.file, line_of(m)))
    hide = set(DEFAULT_HIDE) | {h.args[0].lower() for h in block.get("proxy_hide_header")}
    hide -= {h.args[0].lower() for h in block.get("proxy_pass_header")}
    conf.hide = frozenset(hide)
    conf.ignore_headers = frozenset(a.lower() for h in block.get("proxy_ignore_headers")
                                    for a in h.args)
    conf.connect_timeout = _time(block, "proxy_connect_timeout", 60.0)
    conf.send_timeout = _time(block, "proxy_send_timeout", 60.0)
    conf.read_timeout = _time(block, "proxy_read_timeout", 60.0)
    conf.next_upstream_timeout = _time(block, "proxy_next_upstream_timeout", 0.0)
    tries = block.first("proxy_next_upstream_tries")
    if tries is not None:
        if not tries.args[0].isdigit():
            raise ConfigError(f'invalid number "{tries.args[0]}"', tries.file, line_of(tries))
        conf.next_upstream_tries = int(tries.args[0])
    nu = block.first("proxy_next_upstream")
    if nu is not None:
        values = set()
        for a in nu.args:
            if a not in NEXT_UPSTREAM_VALUES:
                raise ConfigError(f'invalid value "{a}"', nu.file, line_of(nu))
            values.add(a)
        conf.next_upstream = frozenset() if "off" in values else frozenset(values)
    conf.redirects = _redirects(engine, block, conf)
    conf.cookie_domains = compile_rules(engine, block, "proxy_cookie_domain")
    conf.cookie_paths = compile_rules(engine, block, "proxy_cookie_path")
    conf.buffering = block.flag("proxy_buffering", True)
    conf.buffer_size = _size(block.first("proxy_buffer_size"), 0, 4096)
    conf.buffers_size = _size(block.first("proxy_buffers"), 1, 4096)
    return conf


def _size(d: Directive | None, arg: int, default: int) -> int:
    """A size argument of a buffer directive (nginx's page-size defaults: 4k here)."""
    if d is None or len(d.args) <= arg:
        return default
    size = parse_size(d.args[arg])
    count = d.args[0] if arg else "2"  # proxy_buffers NUMBER SIZE
    if size is None or not count.isdigit() or int(count) == 0:
        raise ConfigError(f'"{d.name}" directive invalid value', d.file, line_of(d))
    return size or default


def _time(block: Block, name: str, default: float) -> float:
    d = block.first(name)
    if d is None:
        return default
    t = parse_time(d.args[0])
    if t is None:
        raise ConfigError(f'"{name}" directive invalid value', d.file, line_of(d))
    return t


def _redirects(engine: HttpEngine, block: Block, conf: ProxyConf) -> list[Redirect]:
    """``proxy_redirect``: the rules in force; none given means ``default``."""
    found = block.get("proxy_redirect")
    table = engine.variables
    out: list[Redirect] = []
    for i, d in enumerate(found):
        if i and found[i - 1].args == ["off"] or (d.args == ["off"] and i):
            # nothing may follow "off", and "off" may follow nothing
            raise ConfigError('"proxy_redirect" directive is duplicate', d.file, line_of(d))
    for d in found:
        first = d.args[0]
        if len(d.args) == 1:
            if first == "off":
                return []
            if first != "default":
                raise ConfigError(f'invalid parameter "{first}"', d.file, line_of(d))
            out.append(_default_redirect(d, conf, block))
            continue
        replacement = compile_value(d.args[1], table, d.file, line_of(d))
        if first.startswith("~"):
            caseless = first.startswith("~*")
            pattern = first[2:] if caseless else first[1:]
            out.append(Redirect(None, Regex.for_directive(pattern, caseless, d.file,
                                                          line_of(d)), replacement))
        else:
            out.append(Redirect(compile_value(first, table, d.file, line_of(d)), None,
                                replacement))
    if not found and conf.target is not None:
        out.append(_default_redirect(None, conf, block))
    return out


def check_block(engine: HttpEngine, block: Block) -> None:
    """What nginx refuses in any block, proxied or not: a ``proxy_redirect`` with a bad
    parameter or regex (at parse time), a ``proxy_set_header`` value with an unknown
    variable (when the headers are merged)."""
    table = engine.variables
    for d in block.own.get("proxy_redirect") or ():
        first = d.args[0]
        if len(d.args) == 1:
            if first not in ("off", "default"):
                raise ConfigError(f'invalid parameter "{first}"', d.file, line_of(d))
            continue
        if first.startswith("~"):
            caseless = first.startswith("~*")
            Regex.for_directive(first[2:] if caseless else first[1:], caseless, d.file,
                                line_of(d))
        compile_value(d.args[1], table, d.file, line_of(d))
    for d in block.own.get("proxy_set_header") or ():
        compile_value(d.args[1], table, d.file, line_of(d))


def _default_redirect(d: Directive | None, conf: ProxyConf, block: Block) -> Redirect:
    """``proxy_redirect default``: the proxy_pass URL becomes the location (or "/")."""
    if d is not None and any(x is d for x in block.own.get("proxy_redirect") or ()):
        # checked where it is written (an "if" block inherits it as it is)
        own = block.own.get("proxy_pass")
        if conf.target is None and own:
            raise ConfigError('"proxy_redirect default" cannot be used with "proxy_pass" '
                              'directive with variables', d.file, line_of(d))
        if not own or _position(block, own[0]) > _position(block, d):
            raise ConfigError('"proxy_redirect default" should be placed after the '
                              '"proxy_pass" directive', d.file, line_of(d))
    assert conf.target is not None
    t = conf.target
    if t.uri:
        value, replacement = t.url, conf.location
    else:
        value, replacement = t.url + "/", "/"
    return Redirect(ComplexValue(value, [value]), None, ComplexValue(replacement, [replacement]))


def _position(block: Block, d: Directive) -> int:
    """Where ``d`` stands among the block's directives (two may share a line)."""
    for i, item in enumerate(block.items):
        if item is d:
            return i
    return len(block.items)


# --- the URI sent upstream ------------------------------------------------------------------

_ESCAPE = frozenset(list(range(0x21)) + [0x23, 0x25, 0x3F] + list(range(0x7F, 0x100)))


def escape_uri(uri: str) -> str:
    """ngx_escape_uri(NGX_ESCAPE_URI): control bytes, space, ``#``, ``%``, ``?``, 8-bit."""
    return escape_text(uri, _ESCAPE)
