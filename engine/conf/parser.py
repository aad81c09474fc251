"""Scanning and parsing one nginx configuration text.

Two layers, following nginx's own split:

* :func:`scan` is ``ngx_conf_read_token``: it turns text into one token per directive
  head (name + arguments + terminator) with nginx's exact rules for quotes, escapes,
  ``${var}``, comments and the error messages it emits (``unexpected "x"``, ``unexpected
  end of file, expecting ";" or "}"``, ``too long parameter ...``). After a head ending in
  ``{`` whose name ends in ``_by_lua_block`` it switches to ngx_lua's rules and returns the
  Lua body verbatim as one token, so Lua braces, strings, long strings and comments never
  end the block early.
* :func:`parser` is the lark LALR parser over ``grammar.lark``; it owns the block
  structure (``unexpected "}"``, ``unexpected end of file, expecting "}"``) and calls a
  :class:`Sink` as each token is shifted, so the loader validates in file order.

Tokens are scanned lazily, one at a time, so a later lexical error never hides an
earlier directive error: exactly nginx's streaming behaviour.
"""

from __future__ import annotations

import functools
import re
import threading
from pathlib import Path
from typing import Any, Iterator, Protocol

from lark import Lark, Transformer
from lark.exceptions import UnexpectedToken
from lark.lexer import Lexer

from .ast import Comment, Directive
from .errors import ConfigError

__all__ = ["Tok", "Sink", "scan", "parse_text", "parser", "unescape", "NGX_CONF_BUFFER"]

#: nginx reads the config through a 4096-byte buffer; a single token must fit in it.
NGX_CONF_BUFFER = 4096

# One token after optional whitespace. Whitespace for nginx is only SP, HT, CR, LF.
# Groups: 1 comment, 2 punctuation, 3 "double", 4 'single', 5 bare word.
_TOKEN = re.compile(
    r"""[ \t\r\n]*(?:
        (\#[^\n]*)
      | ([;{}])
      | "((?:[^"\\]|\\.)*)"
      | '((?:[^'\\]|\\.)*)'
      | ((?:[^ \t\r\n;{"'\\$]|\\.|\$\{*)(?:[^ \t\r\n;{\\$]+|\\.|\$\{*)*)
    )""",
    re.S | re.X,
)
_SKIP_WS = re.compile(r"[ \t\r\n]*")

# Fast path: a whole directive head of plain words (no quotes, escapes, comments or
# "${") up to its ";" or "{". Word characters also exclude everything str.split()
# treats as whitespace, so splitting the match is exact. Anything else falls back to
# the token-by-token path, which implements every rule.
_PYWS = "\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_W = (r"(?:[^ \t\r\n;{}\"'#\\$" + _PYWS + r"]|\$(?!\{))"
      r"(?:[^ \t\r\n;{\\$" + _PYWS + r"]|\$(?!\{))*")
_HEAD = re.compile(r"[ \t\r\n]*(" + _W + r"(?:[ \t\r\n]+" + _W + r")*)[ \t\r\n]*([;{])")
# After a closing quote nginx wants a space, ";", "{" or ")" (ngx_conf_read_token need_space).
_AFTER_QUOTE_OK = frozenset(" \t\r\n;{)")

_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "t": "\t", "r": "\r", "n": "\n"}
_ESCAPE_RE = re.compile(r"""\\(["'\\trn])""")

# ngx_lua's block lexer: the things that may contain a brace without being one.
_LUA = re.compile(
    r"""--\[(=*)\[|--[^\n]*|\[(=*)\[|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|[{}]""",
    re.S,
)


def unescape(raw: str) -> str:
    """Apply nginx's argument escapes: ``\\" \\' \\\\ \\t \\r \\n``; any other ``\\x`` is kept."""
    if "\\" not in raw:
        return raw
    return _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(1)], raw)


class Tok:
    """A token handed to lark: one directive head, a ``}``, or a Lua body."""

    __slots__ = ("type", "args", "quoted", "line", "end_line", "value")

    def __init__(self, type: str, args: list[str], quoted: list[bool], line: int,
                 end_line: int, value: str = "") -> None:
        self.type = type
        #: name first, then the arguments (escapes applied)
        self.args = args
        self.quoted = quoted
        #: line of the name (or of the ``}``); end_line: line of the ``;``/``{``/``}``
        self.line = line
        self.end_line = end_line
        self.value = value

    def __repr__(self) -> str:
        return f"Tok({self.type}, {self.args!r}, line={self.line})"


def _file_err(msg: str, file: str, line: int | None) -> ConfigError:
    return ConfigError(msg, file, line)


def _cmd_err(msg: str, file: str, line: int | None) -> ConfigError:
    """``-g`` errors carry no line: nginx prints ``in command line``."""
    return ConfigError(msg, file, None)


_CMDLINE = "command line"


def scan(text: str, file: str, comments: list[Comment] | None = None,
         cmdline: bool = False) -> Iterator[Tok]:
    """Yield the tokens of ``text`` the way ``ngx_conf_read_token`` reads them.

    ``cmdline`` selects the ``-g`` rules (``parse_param``): no blocks, and a missing
    final ``;`` is ``unexpected end of parameter``.
    """
    n = len(text)
    pos = 0
    line = 1
    lpos = 0  # text[:lpos] has been counted into ``line``
    args: list[str] = []
    quoted: list[bool] = []
    start_line = 0
    match = _TOKEN.match
    count = text.count
    where = file

    _err = _cmd_err if cmdline else _file_err

    def eof_error() -> ConfigError:
        last = 1 + count("\n")
        if cmdline:
            return _err('unexpected end of parameter, expecting ";"', file, None)
        return _err('unexpected end of file, expecting ";" or "}"', file, last)

    head = _HEAD.match
    while True:
        if not args:
            h = head(text, pos)
            if h is not None and h.end(1) - h.start(1) < NGX_CONF_BUFFER:
                hstart = h.start(1)
                line += count("\n", lpos, hstart)
                words = h.group(1).split()
                start_line = line
                tend = h.start(2)
                line += count("\n", hstart, tend)
                lpos = tend
                pos = h.end()
                if h.group(2) == ";":
                    yield Tok("DIRECTIVE", words, [False] * len(words), start_line, line)
                    continue
                if cmdline:
                    raise _err("block directives are not supported in -g option", where, None)
                if words[0].endswith("_by_lua_block"):
                    yield Tok("LUA_START", words, [False] * len(words), start_line, line)
                    body, pos, end_line = _scan_lua(text, pos, file, line)
                    line = end_line
                    lpos = pos - 1
                    yield Tok("LUA_BODY", [], [], end_line, end_line, body)
                else:
                    yield Tok("BLOCK_START", words, [False] * len(words), start_line, line)
                continue
        m = match(text, pos)
        if m is None:
            # End of text, an unterminated quote, or a backslash at the very end.
            p = _SKIP_WS.match(text, pos).end()
            if p >= n:
                if args:
                    raise eof_error()
                return
            line += count("\n", lpos, p)
            lpos = p
            if text[p] in "\"'" and n - (p + 1) > NGX_CONF_BUFFER:
                raise _err("too long parameter, probably missing terminating "
                           f'"{text[p]}" character', where, line)
            raise eof_error()
        kind = m.lastindex
        tstart = m.start(kind)
        if tstart != lpos:
            line += count("\n", lpos, tstart)
            lpos = tstart
        pos = m.end()
        if kind == 5:  # bare word
            word = m.group(5)
            if pos - tstart >= NGX_CONF_BUFFER and n - tstart > NGX_CONF_BUFFER:
                raise _err(f'too long parameter "{word[:10]}..." started', where, line)
            if not args:
                start_line = line
            args.append(unescape(word) if "\\" in word else word)
            quoted.append(False)
        elif kind == 2:  # ; { }
            ch = m.group(2)
            if ch == "}":
                if args:
                    raise _err('unexpected "}"', where, line)
                yield Tok("BLOCK_END", [], [], line, line)
                continue
            if not args:
                raise _err(f'unexpected "{ch}"', where, line)
            if ch == ";":
                yield Tok("DIRECTIVE", args, quoted, start_line, line)
            elif cmdline:
                raise _err("block directives are not supported in -g option", where, None)
            elif args[0].endswith("_by_lua_block"):
                yield Tok("LUA_START", args, quoted, start_line, line)
                body, pos, end_line = _scan_lua(text, pos, file, line)
                line = end_line
                lpos = pos - 1
                yield Tok("LUA_BODY", [], [], end_line, end_line, body)
            else:
                yield Tok("BLOCK_START", args, quoted, start_line, line)
            args = []
            quoted = []
        elif kind == 1:  # comment; only at the start of a token, as in nginx
            if comments is not None:
                comments.append(Comment(file, line, m.group(1)))
        else:  # quoted
            content = m.group(kind)
            if len(content) + 1 > NGX_CONF_BUFFER:
                raise _err("too long parameter, probably missing terminating "
                           f'"{text[tstart]}" character', where, line)
            if not args:
                start_line = line
            args.append(unescape(content) if "\\" in content else content)
            quoted.append(True)
            if pos < n and text[pos] not in _AFTER_QUOTE_OK:
                line += count("\n", lpos, pos)
                lpos = pos
                raise _err(f'unexpected "{text[pos]}"', where, line)


def _scan_lua(text: str, pos: int, file: str, open_line: int) -> tuple[str, int, int]:
    """Find the ``}`` that closes a ``*_by_lua_block`` body starting at ``pos``.

    Returns (body, position after the ``}``, line of the ``}``). Follows ngx_lua's lexer:
    short strings end at their quote (an unterminated one is just a character), long
    strings and comments need their closing bracket.
    """
    level = 1
    search = _LUA.search
    p = pos
    while True:
        m = search(text, p)
        if m is None:
            raise _file_err("unexpected end of file, expecting terminating characters for "
                       "lua code block", file, open_line)
        tok = m.group(0)
        p = m.end()
        if tok == "{":
            level += 1
        elif tok == "}":
            level -= 1
            if level == 0:
                end_line = open_line + text.count("\n", pos, m.start())
                return text[pos:m.start()], p, end_line
        elif tok[0] == "[" or tok.startswith("--["):
            eq = m.group(1) if m.group(1) is not None else m.group(2)
            if eq is None:  # "--[" that is not a long bracket: a line comment
                continue
            closing = "]" + eq + "]"
            j = text.find(closing, p)
            if j < 0:
                line = open_line + text.count("\n", pos, m.start())
                raise _file_err(f'Lua code block missing the closing long bracket "{closing}", '
                           "the inlined Lua code may be too long", file, line)
            p = j + len(closing)


class Sink(Protocol):
    """What the parser calls as it shifts tokens (the loader implements it)."""

    def directive(self, tok: Tok) -> Directive: ...
    def block_start(self, tok: Tok) -> Directive: ...
    def lua_start(self, tok: Tok) -> Directive: ...
    def lua_body(self, tok: Tok) -> Tok: ...
    def block(self, children: list[Any]) -> Directive: ...
    def lua_block(self, children: list[Any]) -> Directive: ...


_tls = threading.local()


class _Dispatch(Transformer):  # type: ignore[type-arg]
    """Forwards lark's callbacks to the sink of the parse running in this thread.

    lark binds callbacks when the parser is built; routing them through a thread-local
    lets one cached parser serve every load (and nested parses for ``include``).
    """

    def DIRECTIVE(self, tok: Tok) -> Directive:
        return _tls.sink.directive(tok)

    def BLOCK_START(self, tok: Tok) -> Directive:
        return _tls.sink.block_start(tok)

    def LUA_START(self, tok: Tok) -> Directive:
        return _tls.sink.lua_start(tok)

    def LUA_BODY(self, tok: Tok) -> Tok:
        return _tls.sink.lua_body(tok)

    def block(self, children: list[Any]) -> Directive:
        return _tls.sink.block(children)

    def lua_block(self, children: list[Any]) -> Directive:
        return _tls.sink.lua_block(children)

    def start(self, children: list[Any]) -> list[Any]:
        return children


class _NoLexer(Lexer):
    """Placeholder: tokens are fed by :func:`parse_text`, never lexed by lark."""

    def __init__(self, conf: Any) -> None:
        pass

    def lex(self, data: Any) -> Iterator[Any]:  # pragma: no cover - never called
        return iter(())


@functools.lru_cache(maxsize=None)
def parser() -> Lark:
    """The LALR parser for ``grammar.lark``, built once (tables cached on disk by lark)."""
    grammar = (Path(__file__).with_name("grammar.lark")).read_text()
    dispatch = _Dispatch()
    lark = Lark(grammar, parser="lalr", lexer=_NoLexer, transformer=dispatch, cache=True)
    # lark applies terminal callbacks in its own lexer, which we replace; the LALR
    # parser also consults its callback table by token type when it shifts, so the
    # terminal callbacks go there: they then run after the reductions the token
    # triggers (a closed block is popped before the next directive is checked).
    callbacks = lark.parse_interactive().parser_state.parse_conf.callbacks
    for name in ("DIRECTIVE", "BLOCK_START", "LUA_START", "LUA_BODY"):
        callbacks[name] = getattr(dispatch, name)
    return lark


def _flush(state: Any) -> None:
    """Run the reductions pending before a lexical error (e.g. a block just closed).

    nginx handles everything before the bad token before failing on it; in the LALR
    parser a closed block is only reduced on the next token, so feed a harmless one.
    """
    for kind in ("BLOCK_END", "$END"):
        if kind in state.parse_conf.states[state.position]:
            try:
                state.feed_token(Tok(kind, [], [], 0, 0), kind == "$END")
            except UnexpectedToken:
                pass
            return


def parse_text(text: str, file: str, sink: Sink, comments: list[Comment] | None = None,
               cmdline: bool = False) -> list[Directive]:
    """Parse one file's text (or the ``-g`` string) into directives, validating via ``sink``.

    Raises :class:`ConfigError` worded as nginx words it; the first error in file order wins.
    """
    ip = parser().parse_interactive()
    state = ip.parser_state
    feed = state.feed_token
    prev = getattr(_tls, "sink", None)
    _tls.sink = sink
    tokens = scan(text, file, comments, cmdline)
    try:
        while True:
            try:
                tok = next(tokens)
            except StopIteration:
                break
            except ConfigError:
                _flush(state)
                raise
            feed(tok)
        last = 1 + text.count("\n")
        result: list[Directive] = feed(Tok("$END", [], [], last, last), True)
        return result
    except UnexpectedToken as e:
        tok = e.token
        where = file
        if cmdline:
            tok.line = None
        if tok.type == "BLOCK_END":
            raise ConfigError('unexpected "}"', where, tok.line) from None
        if tok.type == "$END":
            raise ConfigError('unexpected end of file, expecting "}"', where, tok.line) from None
        raise ConfigError(f"unexpected {tok.type}", where, tok.line) from None
    finally:
        _tls.sink = prev
