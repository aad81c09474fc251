"""nginx's regular expressions (``ngx_regex_compile``) on PCRE2, as nginx links it.

Python's ``re`` differs from PCRE (``(?<name>...)``, possessive quantifiers, ``\\h``...),
so matching goes through the pcre2 binding. Patterns are compiled once at load time,
like nginx does, and a match yields the capture list nginx's scripts see as ``$0``..``$9``
plus named captures, which nginx also exposes as variables. nginx compiles without
PCRE2_UTF, so patterns and subjects are bytes here too: ``.`` and ``\\w`` see one byte of
"é", never the character.
"""

from __future__ import annotations

import ctypes

import pcre2

from ..conf.errors import ConfigError


class RegexError(Exception):
    pass


def _compile_error(pattern: str, caseless: bool, binding_error: str) -> str:
    """nginx's message for a pattern pcre2 refuses: ``pcre2_compile() failed: <reason>
    in "<pattern>"``, plus `` at "<rest>"`` unless pcre2 stopped at the pattern's end.
    Reason and offset come from the system's libpcre2 (nginx's): the binding's bundled
    pcre2 reports other offsets for some errors; its own message is the fallback."""
    raw = pattern.encode("utf-8", "surrogateescape")
    head, _, reason = binding_error.partition("; ")
    found = _system_error(raw, caseless)
    if found is not None:
        reason, pos = found
    else:
        tail = head.rsplit(" ", 1)[-1]
        pos = int(tail) if tail.isdigit() else len(raw)
    at = f' at "{raw[pos:].decode("utf-8", "surrogateescape")}"' if pos < len(raw) else ""
    return f'pcre2_compile() failed: {reason or head} in "{pattern}"{at}'


def _system_error(raw: bytes, caseless: bool) -> tuple[str, int] | None:
    """(message, offset) of pcre2_compile() in the system's libpcre2-8; None without it."""
    try:
        lib = ctypes.CDLL("libpcre2-8.so.0")
    except OSError:
        return None
    lib.pcre2_compile_8.restype = ctypes.c_void_p
    code, offset = ctypes.c_int(), ctypes.c_size_t()
    compiled = lib.pcre2_compile_8(raw, len(raw), 0x8 if caseless else 0,  # PCRE2_CASELESS
                                   ctypes.byref(code), ctypes.byref(offset), None)
    if compiled:
        lib.pcre2_code_free_8(ctypes.c_void_p(compiled))
        return None
    message = ctypes.create_string_buffer(256)
    lib.pcre2_get_error_message_8(code, message, len(message))
    return message.value.decode("utf-8", "replace"), offset.value


class Regex:
    __slots__ = ("pattern", "caseless", "_re", "names", "groups")

    def __init__(self, pattern: str, caseless: bool = False) -> None:
        self.pattern = pattern
        self.caseless = caseless
        try:
            self._re = pcre2.compile(pattern.encode("utf-8", "surrogateescape"),
                                     flags=pcre2.I if caseless else 0, jit=True)
        except Exception as exc:  # pcre2 reports "compilation failed at position N; reason"
            raise RegexError(_compile_error(pattern, caseless, str(exc))) from None
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
            m = self._re.search(subject.encode("utf-8", "surrogateescape"))
        except Exception:
            return None
        if m is None:
            return None
        groups = [m.group(i) for i in range(self.groups + 1)]
        return [None if g is None else g.decode("utf-8", "surrogateescape") for g in groups]

    def named(self, captures: list[str | None]) -> dict[str, str]:
        return {name: captures[i] or "" for name, i in self.names.items()}

    def __repr__(self) -> str:
        return f"<Regex {'~*' if self.caseless else '~'} {self.pattern!r}>"
