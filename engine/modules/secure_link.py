"""ngx_http_secure_link_module: ``$secure_link`` and ``$secure_link_expires``.

Two modes, as in nginx:

* ``secure_link $hash[,$expires]`` + ``secure_link_md5 "string"``: the part before the
  first comma must be the base64url MD5 of the evaluated md5 string (at most 24
  characters, decoding to 16 bytes; nginx's decoder stops at ``=``). A positive
  number after the comma is an expiry time: ``$secure_link_expires`` holds it (so the md5
  string can include it) and ``$secure_link`` is "0" once it has passed. Any failure
  leaves ``$secure_link`` empty (not found).
* ``secure_link_secret word``: the request line's URI must be ``/prefix/<md5 hex>/link``
  with the hex MD5 of ``link`` + ``word``; ``$secure_link`` is then ``link`` (with the
  query string, which nginx takes from the unparsed URI), else empty.

Both variables are computed once per request, like nginx's cached variable values.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..conf.errors import ConfigError
from ..http.phases import HttpModule
from ..http.variables import ComplexValue, compile_value

if TYPE_CHECKING:
    from ..conf.ast import Directive
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

_B64URL = {c: i for i, c in enumerate(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}
_LINK = "keep:secure_link"
_EXPIRES = "keep:secure_link_expires"
#: The module's per-location context (``ngx_http_set_ctx``): reset by internal redirects.
_CTX = "secure_link_expires"


@dataclass(frozen=True)
class SecureLinkConf:
    """What is in force in one block after nginx's merge."""

    variable: ComplexValue | None = None
    md5: ComplexValue | None = None
    secret: str | None = None
    directive: Directive | None = None


def decode_base64url(text: str) -> bytes | None:
    """nginx's ``ngx_decode_base64url``: stops at the first ``=``; the unused low bits
    of the last character are ignored; None for a bad character or length."""
    end = text.find("=")
    if end < 0:
        end = len(text)
    try:
        sextets = [_B64URL[c] for c in text[:end]]
    except KeyError:
        return None
    if len(sextets) % 4 == 1:
        return None
    out = bytearray()
    for i in range(0, len(sextets) - 1, 4):
        a, b = sextets[i], sextets[i + 1]
        out.append((a << 2 | b >> 4) & 0xFF)
        if i + 2 < len(sextets):
            c = sextets[i + 2]
            out.append((b << 4 | c >> 2) & 0xFF)
            if i + 3 < len(sextets):
                out.append((c << 6 | sextets[i + 3]) & 0xFF)
    return bytes(out)


def _atotm(text: str) -> int:
    """nginx's ``ngx_atotm``: a non-negative decimal time, -1 when it is not one."""
    if not text or not text.isascii() or not text.isdigit() or int(text) >= 1 << 63:
        return -1
    return int(text)


class SecureLinkModule(HttpModule):
    name = "ngx_http_secure_link_module"
    directives = frozenset({"secure_link", "secure_link_md5", "secure_link_secret"})

    def init(self, engine: HttpEngine) -> None:
        engine.variables.add("secure_link", self.link)
        engine.variables.add("secure_link_expires", self.expires)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        if cfg.http is None:
            return
        own: dict[int, SecureLinkConf] = {}
        for block in cfg.blocks:  # compile in parse order first, as nginx's handlers do
            found = {d.name: d for d in block.items if d.name in self.directives}
            if found:
                own[id(block)] = self._compile(engine, found)
        empty = SecureLinkConf()
        for block in cfg.blocks:  # then nginx's merge, outer blocks first
            conf = own.get(id(block))
            if block.kind != "http":  # nginx never merges the http block's own values
                outer = block.parent.mod.get(self.name) if block.parent is not None \
                    else None
                conf = self._merge(conf or empty, outer, cfg.http.directive)
            if conf is not None and conf != empty:
                block.mod[self.name] = conf

    @staticmethod
    def _compile(engine: HttpEngine, found: dict[str, Directive]) -> SecureLinkConf:
        compiled = {name: compile_value(d.args[0], engine.variables, d.file,
                                        d.head_line or d.line)
                    for name, d in found.items() if name != "secure_link_secret"}
        secret = found.get("secure_link_secret")
        return SecureLinkConf(compiled.get("secure_link"), compiled.get("secure_link_md5"),
                              secret.args[0] if secret else None, next(iter(found.values())))

    @staticmethod
    def _merge(conf: SecureLinkConf, outer: SecureLinkConf | None,
               http: Directive | None) -> SecureLinkConf:
        """``ngx_http_secure_link_merge_conf``: a secret excludes the other two in its
        own block, and is inherited only where neither of them is in force."""
        if conf.secret is not None:
            if conf.variable is not None or conf.md5 is not None:
                raise ConfigError('"secure_link_secret" cannot be mixed with "secure_link" '
                                  'and "secure_link_md5"', http.file if http else None,
                                  http.end_line if http else None)
            return conf
        variable = conf.variable if conf.variable is not None else \
            (outer.variable if outer else None)
        md5 = conf.md5 if conf.md5 is not None else (outer.md5 if outer else None)
        secret = outer.secret if outer and variable is None and md5 is None else None
        return SecureLinkConf(variable, md5, secret,
                              conf.directive or (outer.directive if outer else None))

    def link(self, r: Request) -> str | None:
        """``$secure_link``."""
        cache = r.main.ctx
        if _LINK in cache:
            return cache[_LINK]
        conf: SecureLinkConf | None = r.loc.mod.get(self.name)
        value, why = None, "secure_link is not configured here"
        if conf is not None and conf.secret is not None:
            value, why = _check_secret(r, conf.secret)
        elif conf is not None and conf.variable is not None and conf.md5 is not None:
            value, why = _check_md5(r, conf.variable, conf.md5)
        if conf is not None and conf.directive is not None and r.trace.enabled:
            r.trace.add("variable", name="secure_link", value=value, why=why,
                        file=conf.directive.file, line=conf.directive.line)
        cache[_LINK] = value
        return value

    def expires(self, r: Request) -> str | None:
        """``$secure_link_expires``: what ``$secure_link`` found after the comma."""
        cache = r.main.ctx
        if _EXPIRES not in cache:
            cache[_EXPIRES] = r.ctx.get(_CTX)
        return cache[_EXPIRES]


def _check_md5(r: Request, variable: ComplexValue, md5: ComplexValue) -> tuple[str | None,
                                                                               str]:
    text = variable.evaluate(r)
    given, comma, tail = text.partition(",")
    expires = 0
    if comma:
        expires = _atotm(tail)
        if expires <= 0:
            return None, f"bad expiry time {tail!r}"
        r.ctx[_CTX] = tail
    if len(given) > 24:
        return None, "hash longer than 24 characters"
    digest = decode_base64url(given)
    if digest is None or len(digest) != 16:
        return None, f"hash {given!r} is not the base64url of 16 bytes"
    source = md5.evaluate(r)
    if hashlib.md5(source.encode("utf-8", "surrogateescape")).digest() != digest:
        return None, f"hash does not match md5({source!r})"
    if expires and expires < int(time.time()):  # ngx_time(): whole seconds
        return "0", f"expired at {expires}"
    return "1", "hash matches"


def _check_secret(r: Request, secret: str) -> tuple[str | None, str]:
    uri = r.main.unparsed_uri
    start = uri.find("/", 1) + 1
    end = uri.find("/", start) if start else -1
    if not start or end < 0:
        return None, "not a /prefix/<md5>/link URI"
    link = uri[end + 1:]
    if end - start != 32 or not link:
        return None, "not a /prefix/<md5>/link URI"
    digest = hashlib.md5((link + secret).encode("utf-8", "surrogateescape")).hexdigest()
    if uri[start:end].lower() != digest:
        return None, "md5 does not match"
    return link, "md5 matches"
