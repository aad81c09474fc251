"""nginx's regular expressions (``ngx_regex_compile``) on PCRE2, as nginx links it.

Python's ``re`` differs from PCRE (``(?<name>...)``, possessive quantifiers, ``\\h``...),
so matching goes through the pcre2 binding. Patterns are compiled once at load time,
like nginx does, and a match yields the capture list nginx's scripts see as ``$0``..``$9``
plus named captures, which nginx also exposes as variables.
"""

from __future__ import annotations

import pcre2

from ..conf.errors import ConfigError


class RegexError(Exception):
    pass


class Regex:
    __slots__ = ("pattern", "caseless", "_re", "names", "groups")

    def __init__(self, pattern: str, caseless: bool = False) -> None:
        self.pattern = pattern
        self.caseless = caseless
        try:
            self._re = pcre2.compile(pattern, flags=pcre2.I if caseless else 0, jit=True)
        except Exception as exc:  # pcre2 reports "compilation failed at position N; reason"
            reason = str(exc).split("; ", 1)[-1]
            raise RegexError(f'pcre2_compile() failed: {reason} in "{pattern}"') from None
        self.names: dict[str, int] = dict(self._re.groupindex)
        self.groups: int = self._re.groups

    @classmethod
    def for_directive(cls, pattern: str, caseless: bool, file: str, line: int) -> Regex:
        try:
            return cls(pattern, caseless)
        except RegexError as exc:
            raise ConfigError(str(exc), file, line) from None

    def exec(self, subject: str) -> list[str | None] | None:
        """Captures ``[$0, $1, ...]`` (None for groups that did not take part), or None."""
        try:
            m = self._re.search(subject)
        except Exception:
            return None
        if m is None:
            return None
        return [m.group(i) for i in range(self.groups + 1)]

    def named(self, captures: list[str | None]) -> dict[str, str]:
        return {name: captures[i] or "" for name, i in self.names.items()}

    def __repr__(self) -> str:
        return f"<Regex {'~*' if self.caseless else '~'} {self.pattern!r}>"
