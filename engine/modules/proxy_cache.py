"""proxy_cache: ngx_http_upstream's cache as the proxy module uses it (nginx 1.22).

The cache lives in memory, one dict per ``keys_zone``, for as long as the loaded
configuration: ``proxy_cache_path`` is parsed and checked like nginx's, but no file is
written (``levels``, ``max_size``, ``use_temp_path`` and the loader/manager parameters
only have their values checked). What an entry keeps is what nginx's cache file keeps:
the upstream's status line and header lines as received, the body, the validity and the
``Last-Modified``/``ETag`` used to revalidate.

The proxy module asks this module at a few points of a request (:class:`CacheRun`):
before choosing a peer (:meth:`CacheRun.open`: HIT, or go upstream as MISS, EXPIRED or
BYPASS), when the upstream failed (:meth:`CacheRun.use_stale`), when its header arrived
(:meth:`CacheRun.response`: X-Accel-Expires, Cache-Control, Expires, Set-Cookie and Vary
in the order received, then ``proxy_no_cache`` and ``proxy_cache_valid``), for each body
piece, and when the request ends. A cached response is sent by processing the stored
header again, as ``ngx_http_upstream_cache_send`` does, so ``proxy_hide_header`` and
``add_header`` apply as on a MISS; nginx adds no ``Age``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Callable

from ..conf.errors import ConfigError
from ..http.phases import DONE, HttpModule
from ..http.response import http_date
from ..http.variables import ComplexValue, compile_value
from .proxy_cache_conf import CHECKED, CacheConf, compile_cache_conf, load_zones
from .proxy_conf import pass_directive
from .upstream import UpstreamInfo
from .upstream_response import find_header

if TYPE_CHECKING:
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

KEY = "ngx_http_proxy_cache"
_VARY_LEN = 128  # NGX_HTTP_CACHE_VARY_LEN


@dataclass(eq=False)
class Entry:
    """What a cache file holds: the upstream's header as received, the body, validity."""

    status: int
    status_line: str
    headers: list[tuple[str, str]]
    body: bytes
    valid_sec: int
    updating_sec: int = 0
    error_sec: int = 0
    last_modified: int | None = None
    etag: str | None = None
    vary: tuple[str, ...] = ()
    vary_values: tuple[tuple[str, ...], ...] = ()


@dataclass(eq=False)
class Node:
    """ngx_http_file_cache_node_t: uses, the updating lock, the stored entry."""

    uses: int = 0
    entry: Entry | None = None
    updating: bool = False
    released: asyncio.Event | None = None
    expire: float = 0.0


def _predicate(r: Request, values: list[ComplexValue]) -> bool:
    """ngx_http_test_predicates: any value that is neither empty nor "0"."""
    return any((v := cv.evaluate(r)) and v != "0" for cv in values)


def _atoi(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _http_time(text: str) -> int | None:
    try:
        return int(parsedate_to_datetime(text).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None



class CacheRun:
    """One proxied request's dealings with the cache (nginx's ``r->cache`` + ``u->cache_*``)."""

    def __init__(self, r: Request, conf: CacheConf, key: str,
                 copy: Callable[[list[tuple[str, str]]], None]) -> None:
        self.conf = conf
        self.key = key
        self.copy = copy
        self.status: str | None = None
        self.cacheable = True
        self.method: str | None = "GET" if r.method == "HEAD" and conf.convert_head else None
        self.node: Node | None = None
        self.entry: Entry | None = None  # the stale entry while EXPIRED
        self.holding = False
        self.new: Entry | None = None
        self.body: list[bytes] = []

    def _set_status(self, r: Request, status: str, reason: str) -> None:
        self.status = status
        r.ctx["keep:upstream_cache_status"] = status
        r.trace.add("proxy_cache", zone=self.conf.zone.name, key=self.key, status=status,
                    reason=reason)

    # -- before the upstream -------------------------------------------------------------

    async def open(self, r: Request) -> int | None:
        """ngx_http_upstream_cache: DONE when answered from the cache, None to go upstream."""
        conf = self.conf
        if _predicate(r, conf.bypass):
            self._set_status(r, "BYPASS", "proxy_cache_bypass is true")
            return None
        zone, now = conf.zone, time.time()
        node = zone.nodes.get(self.key)
        if node is not None and node.expire < now and not node.updating:
            node = None  # inactive: the cache manager removed it
        if node is None:
            node = zone.nodes[self.key] = Node()
        node.uses += 1
        node.expire = now + zone.inactive
        self.node = node
        while True:
            entry = node.entry
            if entry is not None and entry.vary and entry.vary_values != _vary_values(
                    r, entry.vary):
                node = self.node = zone.nodes.setdefault(self.key + "\0" + repr(
                    _vary_values(r, entry.vary)), Node(uses=1, expire=now + zone.inactive))
                entry = node.entry
            if entry is None and node.uses < conf.min_uses:
                self.cacheable = False
                self._set_status(r, "MISS", f"used {node.uses} of proxy_cache_min_uses "
                                            f"{conf.min_uses} times: not stored")
                return None
            if entry is not None:
                return await self._found(r, node, entry)
            if conf.lock and node.updating:
                if await self._wait(node):
                    continue
                self.cacheable = False
                self._set_status(r, "MISS", "proxy_cache_lock_timeout: not stored")
                return None
            if conf.lock:
                self._hold(node)
            self._set_status(r, "MISS", "not in the cache")
            return None

    async def _found(self, r: Request, node: Node, entry: Entry) -> int | None:
        now = int(time.time())
        if entry.valid_sec >= now:
            return await self.send(r, entry, "HIT", f"valid for {entry.valid_sec - now} s more")
        if node.updating:
            if "updating" in self.conf.use_stale or entry.valid_sec + entry.updating_sec >= now:
                return await self.send(r, entry, "UPDATING", "expired; another request "
                                                             "is updating it")
        else:
            self._hold(node)
        self.entry = entry
        self._set_status(r, "EXPIRED", f"expired {now - entry.valid_sec} s ago")
        return None

    def _hold(self, node: Node) -> None:
        node.updating = True
        node.released = asyncio.Event()
        self.holding = True

    async def _wait(self, node: Node) -> bool:
        """proxy_cache_lock: wait for the request filling this key (False: timed out)."""
        assert node.released is not None
        try:
            await asyncio.wait_for(asyncio.shield(node.released.wait()), self.conf.lock_timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def request_headers(self) -> tuple[list[tuple[str, ComplexValue]], frozenset[str]] | None:
        """The proxy_set_header list with the cache's defaults, when the response may be
        stored (nginx chooses ``headers_cache`` by ``u->cacheable``)."""
        return (self.conf.headers, self.conf.header_names) if self.cacheable else None

    # -- the upstream failed or answered --------------------------------------------------

    def use_stale(self, ft: str) -> bool:
        """proxy_cache_use_stale (and stale-if-error) for an EXPIRED entry."""
        e = self.entry
        if self.status != "EXPIRED" or e is None:
            return False
        return ft in self.conf.use_stale or e.valid_sec + e.error_sec >= int(time.time())

    def revalidates(self, status: int) -> bool:
        return status == 304 and self.status == "EXPIRED" and self.conf.revalidate \
            and self.entry is not None

    async def revalidated(self, r: Request, headers: list[tuple[str, str]]) -> int:
        """A 304 to the cached validators: the entry is fresh again and is sent."""
        entry = self.entry
        assert entry is not None
        fresh = self._rules(headers)[1]
        if not fresh:
            fresh = self._rules(entry.headers)[1]
        if not fresh and (valid := self.conf.valid_for(entry.status)):
            fresh = int(time.time()) + valid
        if fresh:
            entry.valid_sec = fresh
        return await self.send(r, entry, "REVALIDATED", "the upstream answered 304")

    def _rules(self, headers: list[tuple[str, str]]) -> tuple[bool, int, int, int]:
        """The header handlers of ngx_http_upstream, in the order the lines came:
        (cacheable, valid_sec, updating_sec, error_sec)."""
        ignore, now = self.conf.ignore, int(time.time())
        ok, valid, updating, error, xae = True, 0, 0, 0, False
        for name, value in headers:
            low = name.lower()
            if low == "x-accel-expires":
                xae = True
                if low in ignore:
                    continue
                if value.startswith("@"):
                    n = _atoi(value[1:])
                    valid = n if n is not None else valid
                elif (n := _atoi(value)) == 0:
                    ok = False
                elif n is not None:
                    valid = now + n
            elif low == "cache-control" and low not in ignore and not (valid and xae):
                ok, valid, updating, error = _cache_control(value, ok, valid, updating,
                                                            error, now)
            elif low == "expires" and low not in ignore and not valid:
                t = _http_time(value)
                if t is None or t < now:
                    ok = False
                else:
                    valid = t
            elif low == "set-cookie" and low not in ignore:
                ok = False
            elif low == "vary" and low not in ignore and ok:
                if len(value) > _VARY_LEN or value.strip() == "*":
                    ok = False
        return ok, valid, updating, error

    def response(self, r: Request, status: int, headers: list[tuple[str, str]]) -> None:
        """The upstream's header: its cache rules, the headers passed on, then the
        decision (ngx_http_upstream_send_response)."""
        ok, valid, updating, error = self._rules(headers)
        self.cacheable = self.cacheable and ok
        self.copy(headers)
        if self.cacheable:
            self._adjust(r)
        why = "Cache-Control, Expires, Set-Cookie, Vary or X-Accel-Expires forbid it"
        if self.cacheable and _predicate(r, self.conf.no_cache):
            self.cacheable, why = False, "proxy_no_cache is true"
        if self.cacheable and not valid:
            seconds = self.conf.valid_for(status)
            valid = int(time.time()) + seconds if seconds else 0
            why = f"no proxy_cache_valid for status {status}"
        if not self.cacheable or not valid:
            self.cacheable = False
            r.trace.add("proxy_cache", zone=self.conf.zone.name, key=self.key,
                        status=self.status, reason="not stored: " + why)
            return
        lm = find_header(headers, "last-modified") if status in (200, 206) else None
        vary = tuple(v.strip().lower() for v in (find_header(headers, "vary") or "").split(",")
                     if v.strip()) if "vary" not in self.conf.ignore else ()
        self.new = Entry(status, "", headers, b"", valid, updating, error,
                         _http_time(lm) if lm else None,
                         find_header(headers, "etag") if status in (200, 206) else None,
                         vary, _vary_values(r, vary))
        r.trace.add("proxy_cache", zone=self.conf.zone.name, key=self.key, status=self.status,
                    reason=f"stored when complete, valid until {http_date(valid)}")

    def _adjust(self, r: Request) -> None:
        """With a cache, nginx keeps the upstream's Last-Modified as the response's own
        (the not-modified filter acts) and answers ranges itself, but only where the
        upstream said it takes ranges (ngx_http_upstream_copy_allow_ranges turns the
        upstream's Accept-Ranges into allow_ranges; without that line the range filter
        adds nothing)."""
        out = r.out
        lm = out.headers.get("last-modified")
        if lm is not None:
            out.last_modified = _http_time(lm)
        if out.headers.get("accept-ranges") is not None:
            out.headers.remove("accept-ranges")
            r.ctx["keep:allow_ranges"] = True

    def feed(self, data: bytes) -> None:
        if self.new is not None:
            self.body.append(data)

    def store(self, status_line: str) -> None:
        """The whole body arrived: the entry replaces the key's (ngx_http_file_cache_update)."""
        if self.new is None:
            return
        if self.node is None:  # BYPASS: "create cache if previously bypassed"
            self.node = self.conf.zone.nodes.setdefault(self.key, Node(uses=1))
        self.new.status_line = status_line
        self.new.body = b"".join(self.body)
        self.node.entry = self.new
        self.node.expire = time.time() + self.conf.zone.inactive

    def finish(self) -> None:
        """The request is over: release the key for the requests waiting on it."""
        if self.holding and self.node is not None:
            self.node.updating = False
            if self.node.released is not None:
                self.node.released.set()
            self.holding = False

    # -- answering from the cache ---------------------------------------------------------

    async def send(self, r: Request, entry: Entry, status: str, reason: str) -> int:
        """ngx_http_upstream_cache_send: the stored header goes through the same copying
        as a fresh one, then the stored body."""
        self._set_status(r, status, reason)
        r.upstream = UpstreamInfo(list(entry.headers))
        self.copy(entry.headers)
        self._adjust(r)
        r.out.status = entry.status
        r.out.status_line = entry.status_line
        await r.engine.send_header(r)
        if entry.body and r.method != "HEAD" and entry.status not in (204, 304):
            await r.engine.output(r, entry.body, False)
        await r.engine.output(r, b"", True)
        return DONE


def _cache_control(value: str, ok: bool, valid: int, updating: int, error: int,
                   now: int) -> tuple[bool, int, int, int]:
    """ngx_http_upstream_process_cache_control for one Cache-Control line."""
    low = value.lower()
    if "no-cache" in low or "no-store" in low or "private" in low:
        return False, valid, updating, error

    def number(name: str) -> int | None:
        """The digits after ``name``: None when absent, -1 when not a number."""
        pos = low.find(name)
        if pos < 0:
            return None
        n = 0
        for ch in low[pos + len(name):]:
            if ch in ",; ":
                break
            if not ch.isdigit():
                return -1
            n = n * 10 + int(ch)
        return n

    age = number("s-maxage=")
    age = number("max-age=") if age is None else age
    if age is not None:
        if age <= 0:
            return False, valid, updating, error
        valid = now + age
    swr, sie = number("stale-while-revalidate="), number("stale-if-error=")
    if swr == -1 or sie == -1:
        return False, valid, updating, error
    if swr is not None:
        updating = error = swr
    if sie is not None:
        error = sie
    return ok, valid, updating, error


def _vary_values(r: Request, names: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(v for k, v in r.headers_in if k.lower() == n) for n in names)


# --- the module ------------------------------------------------------------------------------


class ProxyCacheModule(HttpModule):
    name = KEY
    directives = frozenset({
        "proxy_cache", "proxy_cache_path", "proxy_cache_key", "proxy_cache_valid",
        "proxy_cache_methods", "proxy_cache_min_uses", "proxy_cache_bypass", "proxy_no_cache",
        "proxy_cache_use_stale", "proxy_cache_lock", "proxy_cache_lock_timeout",
        "proxy_cache_revalidate", "proxy_cache_convert_head",
    })

    def init(self, engine: HttpEngine) -> None:
        engine.services["proxy_cache"] = _begin
        add = engine.variables.add
        add("upstream_cache_last_modified", lambda r: _validator(r, "last_modified"))
        add("upstream_cache_etag", lambda r: _validator(r, "etag"))

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        if cfg.http is None:
            return
        zones = load_zones(cfg)
        for block in cfg.blocks:  # nginx checks the values as it reads each directive
            if any(name in block.own for name in CHECKED):
                compile_cache_conf(engine, block, None, own=True)
        for block in cfg.blocks:
            d = block.first("proxy_cache")
            if d is None or d.args[0] == "off":
                continue
            if "$" in d.args[0]:  # a zone named by variables is not modelled: nothing is
                compile_value(d.args[0], engine.variables)  # cached, but its variables
                continue  # must exist
            zone = zones.get(d.args[0])
            if zone is None and block is not cfg.http:
                http = cfg.http.directive
                assert http is not None
                raise ConfigError(f'"proxy_cache" zone "{d.args[0]}" is unknown', http.file,
                                  http.end_line or http.line)
            if zone is not None and pass_directive(block) is not None:
                block.mod[KEY] = compile_cache_conf(engine, block, zone)


# --- the proxy module's entry point and the variables ----------------------------------------


def _begin(r: Request, default_key: str,
           copy: Callable[[list[tuple[str, str]]], None]) -> CacheRun | None:
    """A CacheRun when the location caches this request's method, else None."""
    conf: CacheConf | None = r.loc.mod.get(KEY)
    if conf is None or r.method not in conf.methods:
        return None
    key = conf.key.evaluate(r) if conf.key is not None else default_key
    run = CacheRun(r, conf, key, copy)
    r.ctx["proxy_cache"] = run
    return run


def _validator(r: Request, attr: str) -> str | None:
    """$upstream_cache_last_modified / $upstream_cache_etag: only while revalidating."""
    run = r.ctx.get("proxy_cache")
    if not isinstance(run, CacheRun) or run.status != "EXPIRED" or not run.conf.revalidate \
            or run.entry is None:
        return None
    value = getattr(run.entry, attr)
    if value is None:
        return None
    return http_date(value) if attr == "last_modified" else value
