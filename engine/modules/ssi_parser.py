"""The SSI command scanner of ngx_http_ssi_filter_module, its strings and expressions.

nginx scans each body buffer with a byte state machine (ngx_http_ssi_parse) that keeps
its state between buffers, so a command may be split anywhere. The text between
commands is copied out as ranges of the buffer; the part of ``<!--`` seen at the end of
one buffer is remembered only as a count (``looked``, then ``saved``) and re-emitted from
a constant when the next buffer proves it was no command. That bookkeeping has quirks
that show in the output, and they are kept here: a lone ``<`` at the end of a buffer is
lost when the next buffer starts with ``<!--#`` (the count is dropped or overwritten),
while the same bytes inside one buffer come out. A malformed command is skipped up to the
next ``-->``; if none follows, the rest of the body is swallowed.
"""

from __future__ import annotations

from typing import Callable
from urllib.parse import unquote_to_bytes

from ..http.regex import Regex, RegexError
from ..http.uri import escape_bytes

#: Limits of nginx's build (ngx_http_ssi_filter_module.h).
COMMAND_LEN = 32
PARAM_LEN = 32
MAX_PARAMS = 16

#: ngx_http_ssi_parse's return codes.
AGAIN, OK, ERROR = 0, 1, 2

(START, TAG, COMMENT0, COMMENT1, SHARP, PRECOMMAND, COMMAND, PREPARAM, PARAM, PREEQUAL,
 PREVALUE, DQUOTED, SQUOTED, QUOTED_SYMBOL, POSTPARAM, END0, END1, ERR, ERR_END0,
 ERR_END1) = range(20)

_SPACE = frozenset(b" \r\n\t")
_OPEN = b"<!--"
#: Bytes allowed in a variable name of an SSI string.
_NAME = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
#: What the left side of an ``if`` expression is made of.
_EXPR_NAME = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789${}_\"'")
#: ngx_escape_uri's NGX_ESCAPE_HTML set (echo encoding="url").
_URL_ESCAPE = frozenset(b' "#%\'<>\\^`{|}') | frozenset(range(0x20)) | \
    frozenset(range(0x7F, 0x100))
#: The bytes kept quoted after a backslash in a string (``\\x`` stays ``\\x``).
_UNQUOTE = frozenset(b"\\'\"$")


def text(b: bytes) -> str:
    """Engine text from body bytes (UTF-8 with surrogateescape, as everywhere)."""
    return b.decode("utf-8", "surrogateescape")


class Parser:
    """ngx_http_ssi_parse's state for one response (part of ngx_http_ssi_ctx_t)."""

    def __init__(self, value_len: int, log: Callable[[str], None]) -> None:
        self.value_len = value_len
        self.log = log
        self.state = START
        self.saved_state = START
        #: How many bytes of ``<!--`` the scan is in (carried to the next buffer).
        self.looked = 0
        #: ``looked`` at the end of the previous buffer: bytes owed if no command.
        self.saved = 0
        self.pos = 0
        #: The range of the current buffer to copy out (None: nothing decided yet).
        self.copy_start: int | None = None
        self.copy_end: int | None = None
        self.command = b""
        #: [key, value] pairs in order, as bytearrays while they grow.
        self.params: list[list[bytearray]] = []

    def begin(self) -> None:
        """A new buffer: its copy range starts at 0 unless a command is in progress."""
        self.pos = 0
        if self.state == START:
            self.copy_start = self.copy_end = 0

    def after_command(self) -> None:
        """The copy range restarts after a command (or stays undecided inside one)."""
        if self.state == START:
            self.copy_start = self.copy_end = self.pos
        else:
            self.copy_start = self.copy_end = None

    def _err(self, msg: str, ch: int) -> int:
        self.log(msg)
        return ERR_END0 if ch == 0x2D else ERR

    def parse(self, buf: bytes) -> int:
        """Scan ``buf`` from ``self.pos``: AGAIN (buffer used up), OK (a command is in
        ``command``/``params``) or ERROR (a malformed one ended); ``pos`` and the copy
        range are updated."""
        state, looked, copy_end = self.state, self.looked, self.copy_end
        entry = p = self.pos
        last = len(buf)
        cmd = self.command
        while p < last:
            if state == START:
                i = buf.find(b"<", p)
                if i < 0:
                    self.state, self.pos, self.looked, self.copy_end = state, last, looked, last
                    if self.copy_start is None:
                        self.copy_start = 0
                    return AGAIN
                copy_end, looked, state, p = i, 1, TAG, i + 1
                continue
            ch = buf[p]
            if state in (TAG, COMMENT0, COMMENT1, SHARP):
                expect = b"!--#"[state - TAG]
                if ch == expect:
                    if state == SHARP:
                        if p - entry < 4:
                            self.saved = 0
                        looked, state = 0, PRECOMMAND
                    else:
                        looked, state = looked + 1, state + 1
                elif ch == 0x3C:  # '<': a new tag may start here
                    copy_end, looked, state = p, 1, TAG
                else:
                    copy_end, looked, state = p, 0, START
            elif state == PRECOMMAND:
                if ch not in _SPACE:
                    cmd = bytes((ch,))
                    self.params = []
                    state = COMMAND
            elif state == COMMAND:
                if ch in _SPACE:
                    state = PREPARAM
                elif ch == 0x2D:
                    state = END0
                elif len(cmd) == COMMAND_LEN:
                    self.log(f'the "{text(cmd)}{text(bytes((ch,)))}..." SSI command is too long')
                    state = ERR
                else:
                    cmd += bytes((ch,))
            elif state == PREPARAM:
                if ch == 0x2D:
                    state = END0
                elif ch not in _SPACE:
                    self.params.append([bytearray((ch,)), bytearray()])
                    state = PARAM
            elif state == PARAM:
                key = self.params[-1][0]
                if ch in _SPACE:
                    state = PREEQUAL
                elif ch == 0x3D:
                    state = PREVALUE
                elif ch == 0x2D:
                    state = self._err(f'unexpected "-" symbol after "{text(key)}" parameter '
                                      f'in "{text(cmd)}" SSI command', ch)
                elif len(key) == PARAM_LEN:
                    self.log(f'too long "{text(key)}{text(bytes((ch,)))}..." parameter in '
                             f'"{text(cmd)}" SSI command')
                    state = ERR
                else:
                    key.append(ch)
            elif state == PREEQUAL:
                if ch == 0x3D:
                    state = PREVALUE
                elif ch not in _SPACE:
                    state = self._err(
                        f'unexpected "{text(bytes((ch,)))}" symbol after '
                        f'"{text(self.params[-1][0])}" parameter in "{text(cmd)}" SSI command',
                        ch)
            elif state == PREVALUE:
                if ch == 0x22:
                    state = DQUOTED
                elif ch == 0x27:
                    state = SQUOTED
                elif ch not in _SPACE:
                    state = self._err(
                        f'unexpected "{text(bytes((ch,)))}" symbol before value of '
                        f'"{text(self.params[-1][0])}" parameter in "{text(cmd)}" SSI command',
                        ch)
            elif state in (DQUOTED, SQUOTED, QUOTED_SYMBOL):
                if state != QUOTED_SYMBOL and ch == (0x22 if state == DQUOTED else 0x27):
                    state = POSTPARAM
                else:
                    if state == QUOTED_SYMBOL:
                        state = self.saved_state
                    elif ch == 0x5C:  # a backslash: the next byte is taken as is
                        self.saved_state, state = state, QUOTED_SYMBOL
                    key, value = self.params[-1]
                    if len(value) == self.value_len:
                        self.log(f'too long "{text(value)}{text(bytes((ch,)))}..." value of '
                                 f'"{text(key)}" parameter in "{text(cmd)}" SSI command')
                        state = ERR
                    else:
                        value.append(ch)
            elif state == POSTPARAM:
                if ch in _SPACE:
                    state = PREPARAM
                elif ch == 0x2D:
                    state = END0
                else:
                    key, value = self.params[-1]
                    self.log(f'unexpected "{text(bytes((ch,)))}" symbol after "{text(value)}" '
                             f'value of "{text(key)}" parameter in "{text(cmd)}" SSI command')
                    state = ERR
            elif state in (END0, END1):
                if ch == (0x2D if state == END0 else 0x3E):
                    if state == END1:
                        self.command = cmd
                        return self._done(p, looked, copy_end, OK)
                    state = END1
                else:
                    self.log(f'unexpected "{text(bytes((ch,)))}" symbol in "{text(cmd)}" '
                             f'SSI command')
                    state = ERR
            elif state == ERR:
                if ch == 0x2D:
                    state = ERR_END0
            elif state == ERR_END0:
                state = ERR_END1 if ch == 0x2D else ERR
            elif state == ERR_END1:
                if ch == 0x3E:
                    self.command = cmd
                    return self._done(p, looked, copy_end, ERROR)
                state = ERR
            p += 1
        self.command = cmd
        self.state, self.pos, self.looked = state, p, looked
        self.copy_end = p if state == START else copy_end
        if self.copy_start is None and self.copy_end is not None:
            self.copy_start = 0
        return AGAIN

    def _done(self, p: int, looked: int, copy_end: int | None, rc: int) -> int:
        """A command (or a malformed one) ended at ``p`` (its ``>``)."""
        self.state, self.pos, self.looked, self.copy_end = START, p + 1, looked, copy_end
        if self.copy_start is None and copy_end is not None:
            self.copy_start = 0
        return rc

    def saved_bytes(self) -> bytes:
        """The ``<!--`` prefix owed from the previous buffer, now known to be text."""
        return _OPEN[:self.saved]


class SsiError(Exception):
    """A command failed (NGX_HTTP_SSI_ERROR): the message is already logged."""


def evaluate(raw: bytes, lookup: Callable[[str], str | None], log: Callable[[str], None],
             prefix: str = "") -> str:
    """ngx_http_ssi_evaluate_string: ``$name`` and ``${name}`` replaced (a variable not
    found gives nothing), a backslash before ``\\ ' " $`` dropped. ``prefix`` is the
    directory of the URI that a relative include path is taken from."""
    parts: list[str] = []
    n = len(raw)
    if 0x24 not in raw:
        plain = _unquote(raw, 0, n)[0]
        return (prefix if prefix and not plain.startswith("/") else "") + plain
    i = 0
    while i < n:
        if raw[i] != 0x24:
            piece, i = _unquote(raw, i, n)
            parts.append(piece)
            continue
        i += 1
        if i == n:
            raise _invalid(raw, log)
        bracket = raw[i] == 0x7B
        if bracket:
            i += 1
            if i == n:
                raise _invalid(raw, log)
        start = i
        while i < n and raw[i] in _NAME:
            i += 1
        name = raw[start:i]
        if bracket:
            if i < n and raw[i] == 0x7D:
                i += 1
            else:
                log(f'the closing bracket in "{text(name)}" variable is missing')
                raise SsiError
        if not name:
            raise _invalid(raw, log)
        parts.append(lookup(text(name).lower()) or "")
    if prefix:
        first = next((p for p in parts if p), "")
        if not first.startswith("/"):
            parts.insert(0, prefix)
    return "".join(parts)


def _unquote(raw: bytes, i: int, n: int) -> tuple[str, int]:
    """Literal text from ``i`` up to a ``$`` that is not escaped."""
    out = bytearray()
    quoted = False
    while i < n:
        ch = raw[i]
        if not quoted:
            if ch == 0x5C:
                quoted = True
                i += 1
                continue
            if ch == 0x24:
                break
        else:
            quoted = False
            if ch not in _UNQUOTE:
                out.append(0x5C)
        out.append(ch)
        i += 1
    return text(bytes(out)), i


def _invalid(raw: bytes, log: Callable[[str], None]) -> SsiError:
    log(f'invalid variable name in "{text(raw)}"')
    return SsiError()


Lookup = Callable[[str], "str | None"]


def condition(expr: bytes, lookup: Lookup, log: Callable[[str], None]
              ) -> tuple[bool, tuple[list[str], dict[str, str]] | None]:
    """An ``if`` expression as ngx_http_ssi_if reads it: (true?, captures). The forms
    are ``left`` (true when not empty), ``left = text``, ``left != text`` and
    ``left = /regex/`` (a match also gives its captures and named captures, kept even
    under ``!=``). ``left`` is the leading run of name bytes, lowercased (``$URI`` is
    ``$uri``), so ``$a=b`` is invalid; a right side that starts with ``/`` is a regex
    and must end with one (``\\/`` starts a text)."""
    n = len(expr)
    i = 0
    low = bytearray(expr)
    while i < n:
        c = low[i]
        if 0x41 <= c <= 0x5A:
            low[i] = c | 0x20
        elif c not in _EXPR_NAME:
            break
        i += 1
    left = evaluate(bytes(low[:i]), lookup, log)
    while i < n and low[i] == 0x20:
        i += 1
    if i == n:
        return bool(left), None
    if low[i] == 0x3D:
        negative, i = False, i + 1
    elif low[i:i + 2] == b"!=":
        negative, i = True, i + 2
    else:
        raise _bad_expression(low, log)
    while i < n and low[i] == 0x20:
        i += 1
    right = bytes(low[i:])
    if len(right) > 1 and right[0] == 0x2F:
        if right[-1] != 0x2F:
            raise _bad_expression(low, log)
        try:
            regex = Regex(evaluate(right[1:-1], lookup, log))
        except RegexError as exc:
            log(str(exc))
            raise SsiError from None
        caps = regex.exec(left)
        if caps is None:
            return negative, None
        count = max(k + 1 for k, c in enumerate(caps) if c is not None)
        return not negative, ([c or "" for c in caps[:count]], regex.named(caps))
    if right[:2] == b"\\/":
        right = right[1:]
    return (left == evaluate(right, lookup, log)) != negative, None


def _bad_expression(expr: bytearray, log: Callable[[str], None]) -> SsiError:
    log(f'invalid expression in "{text(bytes(expr))}"')
    return SsiError()


def url_escape(raw: bytes) -> bytes:
    """ngx_escape_uri with NGX_ESCAPE_HTML (``echo encoding="url"``)."""
    return escape_bytes(raw, _URL_ESCAPE)


def split_unsafe(uri: str) -> tuple[str | None, str]:
    """ngx_http_parse_unsafe_uri: (path, args), or (None, the URI to log) when the path
    has a NUL or climbs with ``..`` (checked again after %XX decoding)."""
    path, _, query = uri.partition("?")
    if _unsafe(path):
        return None, uri
    if "%" in path:
        path = unquote_to_bytes(path).decode("utf-8", "surrogateescape")
        if _unsafe(path):
            return None, path
    return path, query


def _unsafe(path: str) -> bool:
    return ("\0" in path or "/../" in path or path.endswith("/..") or path == ".."
            or path.startswith("../"))
