"""``proxy_cookie_domain`` and ``proxy_cookie_path``: rewriting the upstream's Set-Cookie.

nginx 1.22 (ngx_http_proxy_rewrite_cookie) splits a ``Set-Cookie`` value at each ``;``
into ``name[=value]`` attributes (spaces around names and values trimmed, empty ones
kept), and offers each ``Domain`` and ``Path`` value to the rules of its directive, the
first matching rule winning. Only when some rule matched is the cookie rebuilt, its
attributes joined by ``"; "`` (so the spacing of the whole value changes); otherwise it
goes as it came. A cookie whose first attribute has no ``=`` is left alone.

The rules: a regex (``~``, ``~*``) is matched against the whole value and replaces it;
a ``Path`` pattern is a case-sensitive prefix, replaced by the replacement; a ``Domain``
pattern must equal the value (case-insensitive) after a leading dot, which stays (the
pattern's own leading dot is dropped when the config is read).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..conf.ast import Directive
from ..conf.errors import ConfigError
from ..http.block import Block
from ..http.regex import Regex
from ..http.variables import ComplexValue, compile_value
from .upstream import line_of

if TYPE_CHECKING:
    from ..http.engine import HttpEngine
    from ..http.request import Request


@dataclass(eq=False)
class CookieRule:
    """One ``proxy_cookie_domain``/``_path`` rule."""

    pattern: ComplexValue | None  # None for a regex rule
    regex: Regex | None
    replacement: ComplexValue
    domain: bool

    def apply(self, r: Request, value: str) -> str | None:
        """The new attribute value, or None when this rule does not match."""
        if self.regex is not None:
            caps = self.regex.exec(value)
            if caps is None:
                return None
            # ngx_http_regex_exec: the captures stay set for what runs later
            r.captures = caps
            for name, v in self.regex.named(caps).items():
                r.variables[name] = v
            return self.replacement.evaluate(r)
        assert self.pattern is not None
        pattern = self.pattern.evaluate(r)
        if self.domain:
            dot = "." if value.startswith(".") else ""
            if value[len(dot):].lower() != pattern.lower():
                return None
            return dot + self.replacement.evaluate(r)
        if not value.startswith(pattern):
            return None
        return self.replacement.evaluate(r) + value[len(pattern):]


def compile_rules(engine: HttpEngine, block: Block, name: str) -> list[CookieRule]:
    """The rules of ``name`` in force in ``block`` (an all-or-nothing array, like
    nginx's: a block with one of its own inherits none; ``off`` means none)."""
    found = block.get(name)
    domain = name == "proxy_cookie_domain"
    rules: list[CookieRule] = []
    for d in found:
        rule = _rule(engine, d, domain)
        if rule is not None:
            rules.append(rule)
    return rules


def check_directives(block: Block, name: str) -> None:
    """nginx's checks at parse time, in every block (with or without proxy_pass)."""
    own = block.own.get(name) or []
    for i, d in enumerate(own):
        if len(d.args) == 1 and d.args[0] != "off":
            raise ConfigError(f'invalid parameter "{d.args[0]}"', d.file, line_of(d))
        if i and (d.args == ["off"] or own[i - 1].args == ["off"]):
            raise ConfigError(f'"{name}" directive is duplicate', d.file, line_of(d))


def _rule(engine: HttpEngine, d: Directive, domain: bool) -> CookieRule | None:
    if d.args == ["off"]:
        return None
    table = engine.variables
    where = (d.file, line_of(d))
    first, second = d.args[0], d.args[1]
    if first.startswith("~"):
        caseless = first.startswith("~*")
        regex = Regex.for_directive(first[2:] if caseless else first[1:], caseless, *where)
        return CookieRule(None, regex, compile_value(second, table, *where), domain)
    if domain:
        # the cookie's own leading dot stays, so neither side keeps one
        first, second = first.removeprefix("."), second.removeprefix(".")
    return CookieRule(compile_value(first, table, *where), None,
                      compile_value(second, table, *where), domain)


def rewrite_cookie(r: Request, value: str, domains: list[CookieRule],
                   paths: list[CookieRule]) -> str:
    """A Set-Cookie value after the rules (the value itself when none matched)."""
    attrs = _parse(value)
    if attrs[0][1] is None:
        return value
    changed = False
    for i, (key, val) in enumerate(attrs[1:], 1):
        if val is None:
            continue
        low = key.lower()
        rules = domains if low == "domain" else paths if low == "path" else None
        for rule in rules or ():
            new = rule.apply(r, val)
            if new is not None:
                attrs[i] = (key, new)
                changed = True
                r.trace.add("header", op="set", name="Set-Cookie", value=new,
                            phase=f"proxy_cookie_{low}: {key} rewritten from {val}")
                break
    if not changed:
        return value
    return "; ".join(k if v is None else f"{k}={v}" for k, v in attrs)


def _parse(value: str) -> list[tuple[str, str | None]]:
    """ngx_http_proxy_parse_cookie: ``name[=value]`` pairs, spaces trimmed."""
    out: list[tuple[str, str | None]] = []
    for part in value.split(";"):
        name, eq, val = part.lstrip(" ").partition("=")
        out.append((name.rstrip(" "), val.strip(" ") if eq else None))
    return out
