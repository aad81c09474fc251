"""PCRE1 compatibility for ``ngx.re`` (engine/lua/regex.py) on PCRE2.

Why: real OpenResty 0.10.23 links PCRE1, we compile with PCRE2, and the two parse some
patterns differently and report errors with other texts, offsets and order. This module
compiles a pattern so that what compiles, and the ``pcre_compile() failed: ...`` message
when it does not, are PCRE1's (each rule checked on the oracle):

* an unknown escaped letter (``\\y``, ``\\z`` in a class) is that letter; ``\\x`` without
  hex digits is NUL; ``\\8``/``\\9`` beyond the group count are digits;
* ``(*`` verbs, ``(?[`` and ``(?^`` and group names longer than 32 bytes are PCRE1's errors;
* PCRE1 reports references to absent numbered groups after parsing, unknown names in
  its second pass (before a stray ``)``), syntax errors first;
* PCRE2 error codes map to PCRE1's texts and offsets; messages are cut to 127 bytes as
  ngx_lua's error buffer cuts them.
"""

from __future__ import annotations

import re
from typing import Any

from pcre2 import _cy

_EXTENDED = 0x00000080
_LibraryError = _cy.LibraryError

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


def _pcre1_offset(pattern: bytes, code: int, pos: int) -> int:
    """Move PCRE2's error offset to where PCRE1 reports it (checked on the oracle).

    PCRE2 usually points just past the offending item, PCRE1 at it; a few errors differ
    more (lookbehinds: PCRE1 points at the group's ``)``).
    """
    if code in (108, 109, 111, 122, 137, 143, 144, 147, 151, 155, 164, 167, 168, 169, 171):
        return max(pos - 1, 0)
    if code == 113:
        return max(pattern.rfind(b"[.", 0, pos), pattern.rfind(b"[=", 0, pos), 0)
    if code == 112:
        start = pattern.rfind(b"[", 0, pos)
        return start if start >= 0 else pos
    if code == 115 and pos < len(pattern):
        # PCRE1 checks absolute numeric back references only once the pattern is parsed
        if _NUMERIC_REF.search(pattern, 0, pos):
            return len(pattern)
        if pattern.endswith(b"\\g", 0, pos) and pattern[pos:pos + 2] == b"{-":
            return pattern.find(b"}", pos)
        if _RECURSION.search(pattern, 0, pos):
            return pos
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


#: A numeric back reference (``\\1``, ``\\g2``, ``\\g{3}``) that ends where PCRE2 stops.
_NUMERIC_REF = re.compile(rb"\\(?:g\{?)?\d+\}?\Z")
#: Escapes left to right; group 1 is a reference starting with 8 or 9.
_HIGH_REF = re.compile(rb"\\(?:([89]\d*)|.)", re.S)
#: An unfinished ``(?`` group at the end of the pattern -> PCRE1's wording.
_OPEN_GROUP = re.compile(rb"\(\?(?:(P)|(<)|[-a-zA-Z]*)\Z")
#: A condition naming a group, ``(?(name``, up to where PCRE2 stops reading the name.
_CONDITION_NAME = re.compile(rb"\(\?\(\w*\Z")
#: A recursion into a numbered group, ``(?2`` (PCRE2 stops before its ``)``).
_RECURSION = re.compile(rb"\(\?[-+]?\d+\Z")
#: A reference by name: ``\\k<n>``, ``\\k'n'``, ``\\k{n}``, ``\\g{n}``, ``(?P=n)``,
#: ``(?P>n)``, ``(?&n)``; it ends one byte past the name.
_NAMED_REF = re.compile(rb"(?:\\k<|\\k'|\\k\{|\\g\{|\(\?P=|\(\?P>|\(\?&)"
                        rb"(?P<name>[A-Za-z_]\w*)[>'})]")
#: An option setting at the start of a pattern: ``(*UTF8)``, ``(*LIMIT_MATCH=9)``.
_LEAD_OPTION = re.compile(rb"\(\*[A-Z][A-Z0-9_]*(?:=\d+)?\)")
#: An option setting PCRE1 rejects (``(?[``, ``(?^``, PCRE2's ``(?a)``, ``(?n)``...): the
#: match ends at the first character PCRE1 does not know.
_OPTION_SETTING = re.compile(rb"\(\?(?=[a-zABD-OQS-Z\[^])[imsxJUX-]*+(?![):])")
#: Where a group name is defined or used (PCRE1 allows 32 bytes, PCRE2 128).
_NAME_SITE = re.compile(rb"(?:\\k[<'{]|\\g\{|\(\?P?<|\(\?'|\(\?P[=>]|\(\?&)([A-Za-z_]\w*)")
#: PCRE1's backtracking verbs (``(*:NAME)`` is MARK's short form: empty name).
_VERBS = {b"ACCEPT", b"COMMIT", b"F", b"FAIL", b"MARK", b"PRUNE", b"SKIP", b"THEN", b""}
_NO_ARG_VERBS = {b"ACCEPT", b"COMMIT", b"F", b"FAIL"}
#: ngx_lua's error buffer (``MAX_ERR_MSG_LEN`` in resty.core): 127 bytes and the NUL.
_ERR_MAX = 127


def _pcre1_error(pattern: bytes, extended: bool,
                 names: set[bytes] | None = None) -> tuple[int, int, str] | None:
    """The first error PCRE1 finds that PCRE2 does not (or finds later):
    ``(start, offset, text)``.

    Why: PCRE2 also accepts alpha assertions (``(*pla:``), ``(?[``, ``(?^`` and more
    option letters (``(?a)``), and reads
    ``(*`` followed by anything as a verb, while PCRE1 takes ``(*`` before a non-letter as
    ``(`` plus a quantifier with nothing to repeat. Leading option settings such as
    ``(*UTF8)`` are skipped. Given ``names`` (the pattern's group names), it looks for
    the first reference to an unknown name instead (PCRE1's second pass finds those).
    """
    i, n = 0, len(pattern)
    lead = True
    while i < n:
        c = pattern[i]
        if names is not None and c in (0x5C, 0x28):
            ref = _NAMED_REF.match(pattern, i)
            if ref is not None and ref.group("name") not in names:
                return (i, ref.end() - 1, "reference to non-existent subpattern")
        elif c in (0x5C, 0x28):
            site = _NAME_SITE.match(pattern, i)
            if site is not None and len(site.group(1)) > 32:
                return (i, site.end(), "subpattern name is too long (maximum 32 characters)")
        if c == 0x5C:
            if pattern[i + 1:i + 2] == b"Q":
                end = pattern.find(b"\\E", i + 2)
                i = n if end < 0 else end
            i, lead = i + 2, False
            continue
        if c == 0x5B:
            i, lead = _class_end(pattern, i), False
            continue
        if c == 0x23 and extended:
            end = pattern.find(b"\n", i)
            i = n if end < 0 else end + 1
            continue
        option = _LEAD_OPTION.match(pattern, i) if lead else None
        if option is not None:
            i = option.end()
            continue
        lead = False
        if names is None and c == 0x28 and pattern[i + 1:i + 2] == b"?":
            bad = _OPTION_SETTING.match(pattern, i)
            if bad is not None:
                return (i, bad.end(), "unrecognized character after (? or (?-")
        if names is None and c == 0x28 and pattern[i + 1:i + 2] == b"*":
            k, err = _verb_end(pattern, i)
            if err is not None:
                return (i, k, err)
            i = k
        i += 1
    return None


def _verb_end(pattern: bytes, i: int) -> tuple[int, str | None]:
    """Check the ``(*`` at ``i`` as PCRE1 does: ``(index of its ")", None)`` when fine,
    else ``(error offset, text)``."""
    n = len(pattern)
    j = i + 2
    if j >= n or not (pattern[j:j + 1].isalpha() or pattern[j] == 0x3A):
        return (i + 1, "nothing to repeat")
    k = j
    while k < n and (pattern[k:k + 1].isalnum() or pattern[k] == 0x5F):
        k += 1
    name = pattern[j:k]
    has_arg = pattern[k:k + 1] == b":"
    if has_arg:
        k = pattern.find(b")", k)
        if k < 0:
            return (n, "(*VERB) not recognized or malformed")
    elif pattern[k:k + 1] != b")":
        return (k, "(*VERB) not recognized or malformed")
    if name not in _VERBS:
        return (k, "(*VERB) not recognized or malformed")
    if has_arg and name in _NO_ARG_VERBS:
        return (k, "an argument is not allowed for (*ACCEPT), (*FAIL), or (*COMMIT)")
    return (k, None)


def _class_end(pattern: bytes, i: int) -> int:
    """Index just past the character class opened at ``i`` (or the pattern's end)."""
    n = len(pattern)
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
    return i + 1


def _compile_error(pattern: bytes, err: Exception, shifts: list[int]) -> tuple[int, bytes]:
    """ngx_lua's message for a PCRE2 error, worded and placed as PCRE1 would, and its
    offset (the pattern's length when PCRE1 reports it only after parsing).

    ``shifts`` are the offsets (in ``pattern``) of backslashes removed before compiling
    (see :meth:`RegexEngine._compile_pcre1`), so PCRE2's offset is mapped back.
    """
    code = getattr(err, "code", 0)
    pos = getattr(err, "pos", len(pattern))
    pos = _pcre1_offset(pattern, code, _orig_pos(err, shifts))
    if isinstance(code, int) and code < 0:
        text = "invalid UTF-8 string"
    else:
        text = _PCRE1_TEXT.get(code) or str(getattr(err, "msg", err)).split("; ", 1)[-1]
    if code == 142 and _CONDITION_NAME.search(pattern, 0, pos):
        text = "malformed number or name after (?("
    if code in (114, 162) and pos == len(pattern):
        tail = _OPEN_GROUP.search(pattern)
        if tail:
            text = ("unrecognized character after (?P" if tail.group(1)
                    else "unrecognized character after (?<" if tail.group(2)
                    else "unrecognized character after (? or (?-")
    return pos, _format_error(pattern, text, pos)


def _format_error(pattern: bytes, text: str, pos: int | None) -> bytes:
    """``pcre_compile() failed: <text> in "<pattern>" [at "<rest>"]``, cut as ngx_lua's
    error buffer cuts it."""
    msg = b"pcre_compile() failed: " + text.encode() + b' in "' + pattern + b'"'
    if isinstance(pos, int) and 0 <= pos < len(pattern):
        msg += b' at "' + pattern[pos:] + b'"'
    return msg[:_ERR_MAX]


def _literal_high_refs(pattern: bytes, extended: bool) -> tuple[bytes, list[int]]:
    """PCRE1 reads ``\\8``/``\\9`` (and ``\\81``...) as literal digits when the pattern
    has fewer groups; PCRE2 as references. Returns the pattern without those backslashes
    and their offsets."""
    refs = [m for m in _HIGH_REF.finditer(pattern) if m.group(1)]
    if not refs:
        return pattern, []
    groups = len(group_names_in_order(pattern, extended))
    shifts = [m.start() for m in refs if int(m.group(1)) > groups]
    out = pattern
    for at in reversed(shifts):
        out = out[:at] + out[at + 1:]
    # as removals in order: each offset in the pattern already shortened by the earlier
    return out, [at - k for k, at in enumerate(shifts)]


def _orig_pos(err: Exception, shifts: list[int]) -> int:
    """PCRE2's error offset in the pattern as written (before backslashes were removed)."""
    pos = getattr(err, "pos", 0)
    if not isinstance(pos, int):
        return 0
    for at in reversed(shifts):
        if at <= pos:
            pos += 1
    return pos


def group_names_in_order(pattern: bytes, extended: bool) -> list[bytes | None]:
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
            i = _class_end(pattern, i)
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


def compile_pcre1(pattern: bytes, options: int, disabled: int) -> Any:
    """Compile with PCRE2 the way PCRE1 parses: an unknown escaped letter (``\\y``,
    or ``\\z`` in a class) is that letter, ``\\x`` without digits is NUL, and PCRE1's
    own syntax errors (see :func:`_pcre1_error`) come first when PCRE1 meets them
    first. Returns the code or the error message."""
    first = _pcre1_error(pattern, bool(options & _EXTENDED))
    source, shifts = _literal_high_refs(pattern, bool(options & _EXTENDED))
    for _ in range(64):
        try:
            code = _cy.compile(source, options, disabled)
        except _LibraryError as exc:
            err, at = getattr(exc, "code", 0), getattr(exc, "pos", -1)
            esc = source[at - 2:at] if isinstance(at, int) and at >= 2 else b""
            if err in (103, 107) and esc[:1] == b"\\" and esc[1:].isalpha():
                source = source[:at - 2] + source[at - 1:]
                shifts.append(at - 2)
                continue
            if err == 178 and esc == b"\\x":
                source = source[:at - 2] + b"\\0" + source[at:]
                continue
            offset, msg = _compile_error(pattern, exc, shifts)
            if first is not None and first[0] <= offset:
                return _format_error(pattern, first[2], first[1])
            if err == 122 or (err == 115 and offset == len(pattern)):
                # PCRE1 finds these after its second pass, which stops at a stray ")"
                # and reports unknown names as it meets them
                head, extended = pattern[:offset], bool(options & _EXTENDED)
                named = _pcre1_error(head, extended, {
                    nm for nm in group_names_in_order(head, extended) if nm})
                if named is not None:
                    return _format_error(pattern, named[2], named[1])
            return msg
        if first is not None:
            return _format_error(pattern, first[2], first[1])
        return code
    return _format_error(pattern, "regular expression is too complicated", None)
