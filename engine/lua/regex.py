"""``ngx.re.*`` (ngx_lua's ``ngx_http_lua_regex.c`` + lua-resty-core's ``resty.core.regex``
and ``ngx.re``) on the ``pcre2`` PyPI package.

Why this split: argument handling, result tables and iteration live in
``engine/lua/regex.lua`` so that one API call costs one Lua->Python crossing; Python does
only what needs PCRE: compiling (once per pattern+options per VM), executing, and the
whole ``sub``/``gsub`` loop for template replacements.

Fidelity notes (real OpenResty 0.10.23 links PCRE1; we use PCRE2):

* Compile errors are re-worded to PCRE1's texts and formatted as ngx_lua does:
  ``pcre_compile() failed: <msg> in "<pattern>"`` plus ``at "<rest>"`` when the error
  offset is inside the pattern. PCRE2 sometimes reports a different offset than PCRE1.
* ``pcre_exec()`` failures carry PCRE1 error numbers (bad UTF-8 -10, bad UTF-8 offset
  -11, match limit -8, recursion limit -21, JIT stack limit -27, bad offset -24).
* Options: ``i m s x a`` map to PCRE options; ``u`` is UTF-8 without Unicode properties
  (as PCRE1's ``PCRE_UTF8``; ``\\w`` stays ASCII); ``U`` is treated like ``u`` (the
  skipped UTF-8 check only makes invalid input undefined in the real thing); ``J`` is
  PCRE1's JavaScript compatibility (PCRE2's ALT_BSUX + ALLOW_EMPTY_CLASS +
  MATCH_UNSET_BACKREF); ``D`` allows duplicate names and collects them into arrays.
  ``o`` (compile once) and ``j`` (JIT) are no-ops: every pattern is JIT-compiled and
  cached per VM. ``d`` (DFA) is emulated: the leftmost start, then the longest end over
  every path (the pattern is followed by a callout that records each end and fails); as
  in ngx_lua, DFA results carry only ``[0]``. Not modelled: PCRE1's DFA error -16 for a
  back reference the matcher reaches.
* PCRE1 parses some patterns differently and reports errors in another order and at
  other offsets: ``engine/lua/regex_pcre1.py`` compiles as PCRE1 would.
"""

from __future__ import annotations

from typing import Any

import pcre2
from pcre2 import _cy

from engine.lua._loader import load_chunk
from engine.lua.regex_pcre1 import compile_pcre1, group_names_in_order

# PCRE2 compile options (pcre2.h); the package's flag enum lacks several of them.
_CASELESS = 0x00000008
_MULTILINE = 0x00000400
_DOTALL = 0x00000020
_EXTENDED = 0x00000080
_UTF = 0x00080000
_UCP = 0x00020000
_ANCHORED = 0x80000000
_DUPNAMES = 0x00000040
_ALLOW_EMPTY_CLASS = 0x00000001
_ALT_BSUX = 0x00000002
_MATCH_UNSET_BACKREF = 0x00000200
_NEVER_BACKSLASH_C = 0x00100000
_ENDANCHORED = 0x20000000
_NO_AUTO_POSSESS = 0x00004000
_JS_COMPAT = _ALT_BSUX | _ALLOW_EMPTY_CLASS | _MATCH_UNSET_BACKREF

_OPT_BITS = {
    ord("i"): _CASELESS, ord("m"): _MULTILINE, ord("s"): _DOTALL, ord("x"): _EXTENDED,
    ord("u"): _UTF, ord("U"): _UTF, ord("a"): _ANCHORED, ord("D"): _DUPNAMES,
    ord("J"): _JS_COMPAT, ord("o"): 0, ord("j"): 0, ord("d"): 0,
}

def _exec_errno(code: int) -> int:
    """Map a PCRE2 match error to the PCRE1 number ngx_lua reports."""
    if -23 <= code <= -3:
        return -10  # PCRE_ERROR_BADUTF8
    return {-36: -11, -33: -24, -47: -8, -63: -8, -53: -21, -46: -27}.get(code, code)


def _longest_end(code: Any, subj: bytes, start: int, end: int) -> int:
    """The longest match from ``start`` (as PCRE1's DFA matcher finds): ``code`` is the
    pattern followed by a callout that records each end and fails, so every path is
    tried."""
    best = [end]

    def reached(block: Any) -> int:
        best[0] = max(best[0], _cb_span(block, subj, 0)[1])
        return 1

    try:
        _match(code, subj, len(subj), start, _cy.create_match_context(reached), _ANCHORED)
    except _LibraryError:
        pass
    return best[0]


def _valid_utf8(data: bytes) -> bool:
    """Whether ``data`` is UTF-8 as PCRE1's check defines it (no surrogates, <= U+10FFFF:
    the same rules as Python's strict decoder)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _compile_template(tmpl: bytes) -> list[bytes | int] | None:
    """Parse an ngx_lua replacement template: ``$N``, ``${N}``, ``$$``; None if invalid.

    ngx_lua has no named references (``${name}`` fails to compile), and a lone or trailing
    ``$`` is an error too (checked on the oracle).
    """
    parts: list[bytes | int] = []
    lit = bytearray()
    i, n = 0, len(tmpl)
    while i < n:
        c = tmpl[i]
        if c != 0x24:
            lit.append(c)
            i += 1
            continue
        if i + 1 >= n:
            return None
        d = tmpl[i + 1]
        if d == 0x24:
            lit.append(0x24)
            i += 2
            continue
        if 0x30 <= d <= 0x39:
            j = i + 1
            while j < n and 0x30 <= tmpl[j] <= 0x39:
                j += 1
            num = int(tmpl[i + 1:j])
            i = j
        elif d == 0x7B:
            j = i + 2
            while j < n and 0x30 <= tmpl[j] <= 0x39:
                j += 1
            if j == i + 2 or j >= n or tmpl[j] != 0x7D:
                return None
            num = int(tmpl[i + 2:j])
            i = j + 1
        else:
            return None
        if lit:
            parts.append(bytes(lit))
            lit.clear()
        parts.append(num)
    if lit:
        parts.append(bytes(lit))
    return parts


_CTX = pcre2._EMPTY_MATCH_CONTEXT
_match = _cy.match
_span = _cy.match_substring_span_bynumber
_cb_span = _cy.callout_block_substring_span_bynumber
_LibraryError = _cy.LibraryError


class RegexEngine:
    """Compiled patterns of one VM, addressed by small integers from Lua.

    The Lua side keeps the ``(opts, pattern) -> index`` cache and calls :meth:`reset`
    when it grows too large, so the two caches never disagree.
    """

    def __init__(self) -> None:
        # (code, captures, DFA: the callout variant / its compile error / None, UTF)
        self.codes: list[tuple[Any, int, Any, bool]] = []
        self.templates: dict[bytes, list[bytes | int] | None] = {}

    def reset(self) -> None:
        self.codes.clear()
        self.templates.clear()

    # -- compile ---------------------------------------------------------------------
    def compile(self, regex: bytes, opts: bytes) -> tuple:
        """Return ``(idx, ncaps, dup, name, num, ...)``, ``(-1, err)`` or ``(-2, flagerr)``."""
        try:
            return self._compile(regex, opts)
        except Exception as exc:  # never let a Python exception reach Lua
            return (-1, f"pcre_compile() failed: {exc}".encode())

    def _compile(self, regex: bytes, opts: bytes) -> tuple:
        options = 0
        dfa = False
        for ch in opts:
            bits = _OPT_BITS.get(ch)
            if bits is None:
                flag = bytes([ch])
                return (-2, b'unknown flag "' + flag + b'" (flags "' + opts + b'")')
            options |= bits
            if ch == 0x64:
                dfa = True
        disabled = _UCP | _NEVER_BACKSLASH_C | ((_ALT_BSUX) if not options & _ALT_BSUX else 0)
        nul = regex.find(b"\0")
        # pcre_compile() takes a C string: the pattern ends at its first NUL byte
        code = compile_pcre1(regex if nul < 0 else regex[:nul], options, disabled)
        if isinstance(code, bytes):
            return (-1, code)
        try:
            _cy.jit_compile(code)
        except _LibraryError:
            pass
        ncaps = 0 if dfa else _cy.pattern_capture_count(code)
        longest = None
        if dfa:
            # every path of the pattern ends in a callout: the DFA's longest match
            tail = b"\n)(?C1)" if options & _EXTENDED else b")(?C1)"
            longest = compile_pcre1(b"(?:" + (regex if nul < 0 else regex[:nul]) + tail,
                                    options | _NO_AUTO_POSSESS, disabled)
        self.codes.append((code, ncaps, longest, bool(options & _UTF)))
        out: list[Any] = [len(self.codes) - 1, ncaps, bool(options & _DUPNAMES)]
        if dfa:
            return tuple(out)
        name_dict = _cy.pattern_name_dict(code)
        pairs: list[tuple[bytes, int]] = []
        if options & _DUPNAMES and name_dict:
            scanned = group_names_in_order(regex, bool(options & _EXTENDED))
            if len(scanned) == ncaps and {s for s in scanned if s} == {
                    k.encode("latin-1") for k in name_dict}:
                pairs = [(nm, i + 1) for i, nm in enumerate(scanned) if nm]
        if not pairs:
            pairs = [(k.encode("latin-1"), v) for k, v in name_dict.items()]
        pairs.sort()
        for name, num in pairs:
            out.append(name)
            out.append(num)
        return tuple(out)

    # -- execute ---------------------------------------------------------------------
    def _exec(self, idx: int, subj: bytes, pos: int) -> list[int] | int:
        """Spans ``[s0, e0, s1, e1, ...]`` (``-1`` for unset groups) or an error number."""
        code, ncaps, dfa, utf = self.codes[idx]
        n = len(subj)
        if pos > n or pos < 0:
            return -24
        if utf and pos and not _valid_utf8(subj):
            return -10  # PCRE1 checks the whole subject, PCRE2 only from the start offset
        try:
            md = _match(code, subj, n, pos, _CTX, 0)[0]
        except _LibraryError as exc:
            return _exec_errno(exc.code)
        if md is None:
            return -1
        if dfa is not None:
            s0, e0 = _span(md, subj, 0)
            if not isinstance(dfa, bytes):
                return [s0, _longest_end(dfa, subj, s0, e0)]
            for end in range(n, e0, -1):
                try:
                    md2 = _match(code, subj, end, s0, _CTX, _ANCHORED | _ENDANCHORED)[0]
                except _LibraryError:
                    md2 = None
                if md2 is not None:
                    return [s0, end]
            return [s0, e0]
        spans: list[int] = []
        for g in range(ncaps + 1):
            s, e = _span(md, subj, g)
            spans.append(s)
            spans.append(e)
        return spans

    def match(self, idx: int, subj: bytes, pos: int) -> tuple:
        """``(rc, s0, e0, cap0, cap1, ...)`` with ``False`` for unset groups, or ``(err,)``."""
        try:
            spans = self._exec(idx, subj, pos)
        except Exception:
            return (-2,)
        if isinstance(spans, int):
            return (spans,)
        rc = 0
        caps: list[Any] = []
        for g in range(0, len(spans), 2):
            s = spans[g]
            if s >= 0:
                rc = g // 2 + 1
                caps.append(subj[s:spans[g + 1]])
            else:
                caps.append(False)
        return (rc, spans[0], spans[1], *caps)

    def find(self, idx: int, subj: bytes, pos: int, nth: int) -> tuple:
        """``(rc, s0, e0, from, to)`` (0-based, -1 when group ``nth`` is unset) or ``(err,)``."""
        try:
            spans = self._exec(idx, subj, pos)
        except Exception:
            return (-2,)
        if isinstance(spans, int):
            return (spans,)
        k = 2 * nth
        if k + 1 < len(spans):
            return (1, spans[0], spans[1], spans[k], spans[k + 1])
        return (1, spans[0], spans[1], -1, -1)

    def sub(self, idx: int, subj: bytes, tmpl: bytes, is_global: bool) -> tuple:
        """Whole ``sub``/``gsub`` with a string template: ``(result, count)`` or
        ``(None, None, err)``. Mirrors resty.core's loop, including its empty-match rule
        (retry one byte further on)."""
        try:
            parts = self.templates[tmpl]
        except KeyError:
            parts = self.templates[tmpl] = _compile_template(tmpl)
        except TypeError:
            parts = None
        if parts is None:
            return (None, None, b"failed to compile the replacement template")
        try:
            return self._sub(idx, subj, parts, is_global)
        except Exception as exc:
            return (None, None, f"sub failed: {exc}".encode())

    def _sub(self, idx: int, subj: bytes, parts: list[bytes | int], is_global: bool) -> tuple:
        n = len(subj)
        pos = cp = count = 0
        out: list[bytes] = []
        literal = parts[0] if len(parts) == 1 and isinstance(parts[0], bytes) else None
        if not parts:
            literal = b""
        while True:
            spans = self._exec(idx, subj, pos)
            if isinstance(spans, int):
                if spans == -1:
                    break
                return (None, None, b"pcre_exec() failed: %d" % spans)
            count += 1
            s0, e0 = spans[0], spans[1]
            out.append(subj[cp:s0])
            if literal is not None:
                out.append(literal)
            else:
                for p in parts:
                    if isinstance(p, bytes):
                        out.append(p)
                    elif 2 * p + 1 < len(spans) and spans[2 * p] >= 0:
                        out.append(subj[spans[2 * p]:spans[2 * p + 1]])
            cp = pos = e0
            if pos == s0:
                pos += 1
                if pos > n:
                    break
            if not is_global:
                break
        if count == 0:
            return (subj, 0)
        out.append(subj[cp:])
        return (b"".join(out), count)


def install(lua: Any, ngx: Any) -> RegexEngine:
    """Build ``ngx.re`` in ``ngx`` and register ``require "ngx.re"`` (split, opt).

    Returns the VM's :class:`RegexEngine` (for tests and introspection); user Lua only
    ever sees Lua closures.
    """
    engine = RegexEngine()
    factory = load_chunk(lua, "regex")
    factory(ngx, engine.compile, engine.match, engine.find, engine.sub, engine.reset)
    return engine
