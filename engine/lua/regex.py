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
  cached per VM. ``d`` (DFA) is emulated: the leftmost start with the longest end found
  by end-anchored retries on a shortened subject, so ``$`` and lookaheads at the
  shortened end can differ from a true DFA; as in ngx_lua, DFA results carry only ``[0]``.
"""

from __future__ import annotations

from typing import Any

import pcre2
from pcre2 import _cy

from engine.lua._loader import load_chunk

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
_JS_COMPAT = _ALT_BSUX | _ALLOW_EMPTY_CLASS | _MATCH_UNSET_BACKREF

_OPT_BITS = {
    ord("i"): _CASELESS, ord("m"): _MULTILINE, ord("s"): _DOTALL, ord("x"): _EXTENDED,
    ord("u"): _UTF, ord("U"): _UTF, ord("a"): _ANCHORED, ord("D"): _DUPNAMES,
    ord("J"): _JS_COMPAT, ord("o"): 0, ord("j"): 0, ord("d"): 0,
}

# PCRE2 compile error code -> the PCRE1 text ngx_lua 0.10.23 prints for the same mistake.
_PCRE1_TEXT = {
    101: "\\ at end of pattern", 102: "\\c at end of pattern",
    103: "unrecognized character follows \\",
    104: "numbers out of order in {} quantifier", 105: "number too big in {} quantifier",
    106: "missing terminating ] for character class",
    107: "invalid escape sequence in character class",
    108: "range out of order in character class", 109: "nothing to repeat",
    110: "internal error: unexpected repeat",
    111: "unrecognized character after (? or (?-",
    112: "POSIX named classes are supported only within a class",
    113: "POSIX collating elements are not supported", 114: "missing )",
    115: "reference to non-existent subpattern", 117: "unknown option bit(s) set",
    118: "missing ) after comment", 119: "parentheses nested too deeply",
    120: "regular expression is too large", 121: "failed to get memory",
    122: "unmatched parentheses", 123: "internal error: code overflow",
    124: "malformed number or name after (?(",
    125: "lookbehind assertion is not fixed length",
    126: "a numbered reference must not be zero",
    127: "conditional group contains more than two branches",
    128: "assertion expected after (?( or (?(?C)", 129: "digit expected after (?+",
    130: "unknown POSIX class name",
    133: "parentheses are too deeply nested (stack check)",
    134: "character value in \\x{} or \\o{} is too large",
    135: "lookbehind assertion is not fixed length",
    136: "\\C not allowed in lookbehind assertion",
    137: "PCRE does not support \\L, \\l, \\N{name}, \\U, or \\u",
    138: "number after (?C is > 255", 139: "closing ) for (?C expected",
    141: "unrecognized character after (?P",
    142: "syntax error in subpattern name (missing terminator)",
    143: "two named subpatterns have the same name",
    144: "group name must start with a non-digit", 146: "malformed \\P or \\p sequence",
    147: "unknown property name after \\P or \\p",
    148: "subpattern name is too long (maximum 32 characters)",
    149: "too many named subpatterns (maximum 10000)",
    150: "invalid range in character class",
    151: "octal value is greater than \\377 in 8-bit non-UTF-8 mode",
    154: "DEFINE group contains more than one branch",
    155: "missing opening brace after \\o",
    157: "\\g is not followed by a braced, angle-bracketed, or quoted name/number "
         "or by a plain number",
    158: "(?R or (?[+-]digits must be followed by )",
    160: "(*VERB) not recognized or malformed", 161: "number is too big",
    162: "subpattern name expected",
    164: "non-octal character in \\o{} (closing brace missing?)",
    165: "different names for subpatterns of the same number are not allowed",
    166: "(*MARK) must have an argument",
    167: "non-hex character in \\x{} (closing brace missing?)",
    168: "\\c must be followed by an ASCII character",
    169: "\\k is not followed by a braced, angle-bracketed, or quoted name",
    171: "\\N is not supported in a class",
    173: "disallowed Unicode code point (>= 0xd800 && <= 0xdfff)",
    176: "name is too long in (*MARK), (*PRUNE), (*SKIP), or (*THEN)",
    177: "character value in \\u.... sequence is too large",
    178: "digits missing in \\x{} or \\o{}",
    186: "regular expression is too complicated",
    187: "lookbehind assertion is not fixed length",
}


def _exec_errno(code: int) -> int:
    """Map a PCRE2 match error to the PCRE1 number ngx_lua reports."""
    if -23 <= code <= -3:
        return -10  # PCRE_ERROR_BADUTF8
    return {-36: -11, -33: -24, -47: -8, -63: -8, -53: -21, -46: -27}.get(code, code)


def _pcre1_offset(pattern: bytes, code: int, pos: int) -> int:
    """Move PCRE2's error offset to where PCRE1 reports it (checked on the oracle).

    PCRE2 usually points just past the offending item, PCRE1 at it; a few errors differ
    more (lookbehinds: PCRE1 points at the group's ``)``).
    """
    if code in (108, 109, 111, 122, 143, 144, 147, 169):
        return max(pos - 1, 0)
    if code == 115 and pos < len(pattern):
        return pos + 1
    if code == 130:
        start = pattern.rfind(b"[:", 0, pos)
        return start + 2 if start >= 0 else pos
    if code in (125, 135, 187):
        depth = 0
        i = pos
        while i < len(pattern):
            c = pattern[i]
            if c == 0x5C:
                i += 2
                continue
            if c == 0x28:
                depth += 1
            elif c == 0x29:
                depth -= 1
                if depth <= 0:
                    return i
            i += 1
    return pos


def _compile_error(pattern: bytes, err: Exception) -> bytes:
    code = getattr(err, "code", 0)
    pos = getattr(err, "pos", len(pattern))
    if isinstance(pos, int):
        pos = _pcre1_offset(pattern, code, pos)
    if isinstance(code, int) and code < 0:
        text = "invalid UTF-8 string"
    else:
        text = _PCRE1_TEXT.get(code) or str(getattr(err, "msg", err)).split("; ", 1)[-1]
    msg = b"pcre_compile() failed: " + text.encode() + b' in "' + pattern + b'"'
    if isinstance(pos, int) and 0 <= pos < len(pattern):
        msg += b' at "' + pattern[pos:] + b'"'
    return msg


def _group_names_in_order(pattern: bytes, extended: bool) -> list[bytes | None]:
    """Names of capturing groups in number order (None for unnamed), by scanning.

    Why: pcre2's ``groupindex`` keeps one number per name, but ``D`` (duplicate names)
    needs every group carrying a name. Branch-reset groups ``(?|`` are not modelled; the
    caller checks the count against PCRE's and falls back when they disagree.
    """
    names: list[bytes | None] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == 0x5C:  # backslash
            if pattern[i + 1:i + 2] == b"Q":
                end = pattern.find(b"\\E", i + 2)
                i = n if end < 0 else end + 2
            else:
                i += 2
        elif c == 0x5B:  # character class
            i += 1
            if pattern[i:i + 1] == b"^":
                i += 1
            if pattern[i:i + 1] == b"]":
                i += 1
            while i < n and pattern[i] != 0x5D:
                if pattern[i] == 0x5C:
                    i += 1
                elif pattern[i:i + 2] == b"[:":
                    end = pattern.find(b":]", i + 2)
                    if end > 0:
                        i = end + 1
                i += 1
            i += 1
        elif c == 0x23 and extended:  # comment to end of line
            end = pattern.find(b"\n", i)
            i = n if end < 0 else end + 1
        elif c == 0x28:  # (
            rest = pattern[i + 1:i + 4]
            if rest.startswith(b"?#"):
                end = pattern.find(b")", i)
                i = n if end < 0 else end + 1
                continue
            if not rest.startswith((b"?", b"*")):
                names.append(None)
            else:
                for opener, closer in ((b"?<", b">"), (b"?P<", b">"), (b"?'", b"'")):
                    if rest.startswith(opener) and pattern[i + 1 + len(opener):i + 2 + len(
                            opener)] not in (b"=", b"!"):
                        start = i + 1 + len(opener)
                        end = pattern.find(closer, start)
                        if end > start:
                            names.append(pattern[start:end])
                        break
            i += 1
        else:
            i += 1
    return names


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
_LibraryError = _cy.LibraryError


class RegexEngine:
    """Compiled patterns of one VM, addressed by small integers from Lua.

    The Lua side keeps the ``(opts, pattern) -> index`` cache and calls :meth:`reset`
    when it grows too large, so the two caches never disagree.
    """

    def __init__(self) -> None:
        self.codes: list[tuple[Any, int, bool]] = []
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
        try:
            # pcre_compile() takes a C string: the pattern ends at its first NUL byte
            code = _cy.compile(regex if nul < 0 else regex[:nul], options, disabled)
        except _LibraryError as exc:
            return (-1, _compile_error(regex, exc))
        try:
            _cy.jit_compile(code)
        except _LibraryError:
            pass
        ncaps = 0 if dfa else _cy.pattern_capture_count(code)
        self.codes.append((code, ncaps, dfa))
        out: list[Any] = [len(self.codes) - 1, ncaps, bool(options & _DUPNAMES)]
        if dfa:
            return tuple(out)
        name_dict = _cy.pattern_name_dict(code)
        pairs: list[tuple[bytes, int]] = []
        if options & _DUPNAMES and name_dict:
            scanned = _group_names_in_order(regex, bool(options & _EXTENDED))
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
        code, ncaps, dfa = self.codes[idx]
        n = len(subj)
        if pos > n or pos < 0:
            return -24
        try:
            md = _match(code, subj, n, pos, _CTX, 0)[0]
        except _LibraryError as exc:
            return _exec_errno(exc.code)
        if md is None:
            return -1
        if dfa:
            s0, e0 = _span(md, subj, 0)
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
