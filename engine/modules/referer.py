"""ngx_http_referer_module: ``valid_referers ...`` and ``$invalid_referer``.

``$invalid_referer`` is "" when the Referer header is acceptable and "1" otherwise:

* no ``valid_referers`` in force (no names, no regexes): valid;
* no Referer header: valid only with ``none``;
* a Referer shorter than ``http://i.ru`` or not starting with ``http://``/``https://``
  (any case): valid only with ``blocked``;
* else the host (up to ``:`` or ``/``, ASCII-lowercased, at most 256 bytes) is looked up
  like nginx's combined hash: exact names, then the longest ``*.example.com`` /
  ``.example.com`` suffix, then the longest ``www.example.*`` prefix; a name written
  with a URI (``example.com/galleries/``) also needs the Referer's path (from the first
  ``/`` after the host, the port skipped) to start with it, case-sensitively. Then the
  server's regex names (``server_names``) against the host, then the ``~regex``
  referers (always caseless) against the Referer without its scheme.

Like nginx's merge, a block's own ``valid_referers`` lines build its hash from scratch
(plus the server's names for ``server_names``) and its ``none``/``blocked``, while
the regex lists it does not set are inherited (both probed on nginx 1.22). The value
is cached for the request.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..conf.ast import Directive
from ..conf.errors import ConfigError
from ..http.phases import HttpModule
from ..http.regex import Regex
from ..http.servers import ServerConf

if TYPE_CHECKING:
    from ..http.block import Block
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_CACHE_KEY = "keep:invalid_referer"
_HASH_SIZES = ("referer_hash_max_size", "referer_hash_bucket_size")


@dataclass
class RefererConf:
    """One block's referer configuration, after nginx's merge with the outer block."""

    #: host -> required URI prefix ("" when none), exact names.
    exact: dict[str, str] = field(default_factory=dict)
    #: (".example.com", uri, bare) for ``*.example.com`` and ``.example.com`` (``bare``:
    #: example.com itself matches too).
    head: list[tuple[str, str, bool]] = field(default_factory=list)
    #: ("www.example.", uri) for ``www.example.*``.
    tail: list[tuple[str, str]] = field(default_factory=list)
    #: Regex server names (``server_names``), matched against the host.
    server_regexes: list[Regex] | None = None
    #: ``~regex`` referers, matched against the Referer without its scheme.
    regexes: list[Regex] | None = None
    none: bool = False
    blocked: bool = False
    #: ``server_names``: the server's names are added when the block is merged.
    server_names: bool = False
    #: The ``valid_referers`` lines (for the trace).
    directives: list[Directive] = field(default_factory=list)
    #: Keys as nginx's hash compares them for conflicts: exact names (with the
    #: example.com of each ``.example.com``), head and tail wildcards.
    exact_keys: set[str] = field(default_factory=set)
    head_keys: set[str] = field(default_factory=set)
    tail_keys: set[str] = field(default_factory=set)

    def inherit(self, outer: RefererConf | None) -> None:
        """nginx's merge for a block with its own ``valid_referers``: only the regex
        lists come from outside (``none`` and ``blocked`` do not)."""
        if self.regexes is None:
            self.regexes = outer.regexes if outer else None
        if self.server_regexes is None:
            self.server_regexes = outer.server_regexes if outer else None

    def verdict(self, referer: str | None) -> str:
        """Why the Referer is valid or not: "" for valid, else the reason (for the trace)."""
        if not (self.exact or self.head or self.tail or self.regexes
                or self.server_regexes):
            return ""
        if referer is None:
            return "" if self.none else "no Referer"
        low = referer[:8].translate(_ASCII_LOWER)
        if len(referer) >= 11 and low.startswith("http://"):
            rest = referer[7:]
        elif len(referer) >= 11 and low.startswith("https://"):
            rest = referer[8:]
        else:
            return "" if self.blocked else "no http:// or https://"
        end = len(rest)
        for i, ch in enumerate(rest):
            if ch == "/" or ch == ":":
                end = i
                break
        if end > 256:
            return "host longer than 256 bytes"
        host = rest[:end].translate(_ASCII_LOWER)
        uri = self._lookup(host)
        if uri is not None:
            if not uri:
                return ""
            slash = rest.find("/", end)
            path = rest[slash:] if slash >= 0 else ""
            return "" if path.startswith(uri) else f"path does not start with {uri}"
        for regex in self.server_regexes or ():
            if regex.exec(host) is not None:
                return ""
        for regex in self.regexes or ():
            if regex.exec(rest) is not None:
                return ""
        return "host not valid"

    def _lookup(self, host: str) -> str | None:
        uri = self.exact.get(host)
        if uri is not None:
            return uri
        best: tuple[int, str] | None = None
        for suffix, value, bare in self.head:
            if (host.endswith(suffix) or bare and host == suffix[1:]) \
                    and (best is None or len(suffix) > best[0]):
                best = (len(suffix), value)
        if best is None:
            for prefix, value in self.tail:
                if host.startswith(prefix) and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), value)
        return best[1] if best else None

    def add_name(self, name: str, uri: str) -> str | None:
        """Add a host name or wildcard as nginx's ``ngx_hash_add_key`` does; returns the
        error message nginx gives for it, if any."""
        stars = name.count("*")
        if stars > 1 or ".." in name:
            return f'invalid hostname or wildcard "{name}"'
        low = name.translate(_ASCII_LOWER)
        if len(name) > 1 and name[0] == ".":
            if low[1:] in self.exact_keys or low[1:] in self.head_keys:
                return f'conflicting parameter "{low}"'
            self.exact_keys.add(low[1:])
            self.head_keys.add(low[1:])
            self.head.append((low, uri, True))
        elif len(name) > 2 and name.startswith("*."):
            if low[2:] in self.head_keys:
                return f'conflicting parameter "{low}"'
            self.head_keys.add(low[2:])
            self.head.append((low[1:], uri, False))
        elif len(name) > 2 and name.endswith(".*"):
            if low[:-1] in self.tail_keys:
                return f'conflicting parameter "{low}"'
            self.tail_keys.add(low[:-1])
            self.tail.append((low[:-1], uri))
        elif stars:
            return f'invalid hostname or wildcard "{name}"'
        elif low in self.exact_keys:
            return f'conflicting parameter "{low}"'
        else:
            self.exact_keys.add(low)
            self.exact[low] = uri
        return None


class RefererModule(HttpModule):
    name = "ngx_http_referer_module"
    directives = frozenset({"valid_referers", "referer_hash_max_size",
                            "referer_hash_bucket_size"})

    def init(self, engine: HttpEngine) -> None:
        engine.variables.add("invalid_referer", self.variable, changeable=True)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        if cfg.http is None:
            return
        own: dict[int, RefererConf] = {}
        for block in cfg.blocks:  # errors of the lines themselves come first, as nginx
            lines = []
            for d in block.items:
                if d.name == "valid_referers":
                    lines.append(d)
                elif d.name in _HASH_SIZES and _atoi(d.args[0]) is None:
                    raise ConfigError(f'"{d.name}" directive invalid number', d.file,
                                      d.head_line or d.line)
            if lines:
                own[id(block)] = self._compile(lines)
        http = cfg.http.directive
        for block in cfg.blocks:  # then the merge, outer blocks first
            outer = block.parent.mod.get(self.name) if block.parent is not None else None
            conf = own.get(id(block))
            if conf is not None:
                self._merge(conf, outer, block, http)
                block.mod[self.name] = conf
            elif outer is not None:
                block.mod[self.name] = outer

    def _compile(self, lines: list[Directive]) -> RefererConf:
        conf = RefererConf(directives=lines)
        for d in lines:
            line = d.head_line or d.line
            for value in d.args:
                if not value:
                    raise ConfigError('invalid referer ""', d.file, line)
                if value == "none":
                    conf.none = True
                elif value == "blocked":
                    conf.blocked = True
                elif value == "server_names":
                    conf.server_names = True
                elif value[0] == "~":
                    if len(value) == 1:
                        raise ConfigError('empty regex in "~"', d.file, line)
                    if conf.regexes is None:
                        conf.regexes = []
                    conf.regexes.append(Regex.for_directive(value[1:], True, d.file, line))
                else:
                    host, slash, uri = value.partition("/")
                    err = conf.add_name(host, slash + uri)
                    if err:
                        raise ConfigError(err, d.file, line)
        return conf

    def _merge(self, conf: RefererConf, outer: RefererConf | None, block: Block,
               http: Directive | None) -> None:
        """Server names, the "none"/"blocked" check, then what the block inherits."""
        where = (http.file, http.end_line) if http is not None else (None, None)
        if conf.server_names:
            srv = next(b for b in block.ancestors() if isinstance(b, ServerConf))
            for name in srv.names or [""]:
                if name.startswith("~"):
                    if conf.server_regexes is None:
                        conf.server_regexes = []
                    pattern = name[1:]
                    caseless = any("A" <= c <= "Z" for c in pattern)  # as nginx's core
                    conf.server_regexes.append(Regex.for_directive(pattern, caseless,
                                                                   *where))
                    continue
                if name == "$hostname":
                    name = socket.gethostname().lower()
                err = conf.add_name(name, "")
                if err:
                    raise ConfigError(err, *where)
        if (conf.none or conf.blocked) and not (conf.exact or conf.head or conf.tail):
            raise ConfigError('the "none" or "blocked" referers are specified in the '
                              '"valid_referers" directive without any valid referer')
        _check_hash(conf, block)
        conf.inherit(outer)

    def variable(self, r: Request) -> str:
        """``$invalid_referer``: computed once per request, like nginx's cached value."""
        cache = r.main.ctx
        value = cache.get(_CACHE_KEY)
        if value is None:
            conf: RefererConf | None = r.loc.mod.get(self.name)
            if conf is None:
                value = ""
            else:
                referer = r.headers_in.get("referer")
                why = conf.verdict(referer)
                value = "1" if why else ""
                if r.trace.enabled:
                    d = conf.directives[0]
                    r.trace.add("variable", name="invalid_referer", value=value,
                                why=why or "valid", referer=referer, file=d.file,
                                line=d.line)
            cache[_CACHE_KEY] = value
        return value


def _atoi(text: str) -> int | None:
    """nginx's ``ngx_atoi``: decimal digits only, no sign, no overflow."""
    if not text or not text.isascii() or not text.isdigit() or int(text) >= 1 << 63:
        return None
    return int(text)


def _check_hash(conf: RefererConf, block: Block) -> None:
    """``ngx_hash_init``'s refusals for the names of one block: a zero max size, a bucket
    too large, or a name (a label, for wildcards) that does not fit in one bucket (with
    64-bit pointers, and the bucket size rounded up to the 64-byte cache line)."""
    labels = [len(name) for name in conf.exact]
    for key in conf.head_keys | conf.tail_keys:
        labels += [len(label) for label in key.split(".")]
    if not labels:
        return
    max_size = _atoi(block.value("referer_hash_max_size") or "2048")
    bucket = -(-(_atoi(block.value("referer_hash_bucket_size") or "64") or 0) // 64) * 64
    if max_size == 0:
        raise ConfigError("could not build referer_hash, you should increase "
                          "referer_hash_max_size: 0")
    if bucket > 65536 - 64:
        raise ConfigError("could not build referer_hash, too large "
                          f"referer_hash_bucket_size: {bucket}")
    if bucket < 8 + -(-(max(labels) + 2) // 8) * 8 + 8:
        raise ConfigError("could not build referer_hash, you should increase "
                          f"referer_hash_bucket_size: {bucket}")
