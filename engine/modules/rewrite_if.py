"""The ``if`` of the rewrite module: its condition, read as
ngx_http_rewrite_if_condition reads it (``$var``, ``=``/``!=``, the regex tests, the
file tests), and how a script regex leaves the request's captures."""

from __future__ import annotations

import errno
import os
import stat
from typing import TYPE_CHECKING, Callable

from ..conf.ast import Directive
from ..conf.errors import ConfigError
from ..http.regex import Regex
from ..http.variables import ComplexValue, VarRef, compile_value

if TYPE_CHECKING:
    from ..http.engine import HttpEngine
    from ..http.request import Request

#: A compiled condition: called with the request and whether to log regex tests.
Condition = Callable[["Request", bool], bool]


def compile_condition(engine: HttpEngine, d: Directive) -> Condition:
    """The test of an ``if``, read as ngx_http_rewrite_if_condition reads it; called with
    the request and whether to log regex tests. A condition starting with "$" names one
    variable (the whole word: "$a=b" is the variable "a=b")."""
    args = list(d.args)
    if not args[0].startswith("("):
        raise ConfigError(f'invalid condition "{args[0]}"', d.file, d.line)
    args[0] = args[0][1:]
    if not args[0]:
        args.pop(0)
    if not args or not args[-1].endswith(")"):
        raise ConfigError(f'invalid condition "{args[-1] if args else "("}"', d.file, d.line)
    if args[-1] != ")":
        args[-1] = args[-1][:-1]
    elif len(args) > 1:  # a lone ")" left after "(" is what nginx reports
        args.pop()
    first = args[0]
    if len(first) > 1 and first.startswith("$"):
        if len(args) not in (1, 3):
            raise ConfigError(f'invalid condition "{first}"', d.file, d.line)
        lv = _variable(engine, first)
        if len(args) == 1:
            return lambda r, log: lv.evaluate(r) not in ("", "0")
        return _compare(engine, d, lv, args[1], args[2])
    if len(first) == 2 and first[0] == "-" or len(first) == 3 and first[:2] == "!-":
        if len(args) != 2:
            raise ConfigError(f'invalid condition "{first}"', d.file, d.line)
        kind = _FILE_TESTS.get(first[-2:])
        if kind is None:
            raise ConfigError(f'invalid condition "{first}"', d.file, d.line)
        cv = compile_value(args[1], engine.variables, d.file, d.line)
        negate = first[0] == "!"
        return lambda r, log: _file_test(r, cv.evaluate(r), kind) != negate
    raise ConfigError(f'invalid condition "{first}"', d.file, d.line)


def _variable(engine: HttpEngine, word: str) -> ComplexValue:
    """ngx_http_rewrite_variable: the word after "$" is a variable's name as it is."""
    name = word[1:].lower()
    if not engine.variables.known(name):
        raise ConfigError(f'unknown "{name}" variable')
    return ComplexValue(word, [VarRef(name)])


def _compare(engine: HttpEngine, d: Directive, lv: ComplexValue, op: str,
             right: str) -> Condition:
    """``$var = value``, ``!=``, and the regex tests ``~``, ``~*``, ``!~``, ``!~*``."""
    if op in ("=", "!="):
        rv = compile_value(right, engine.variables, d.file, d.line)
        eq = op == "="
        return lambda r, log: (lv.evaluate(r) == rv.evaluate(r)) == eq
    if op not in ("~", "~*", "!~", "!~*"):
        raise ConfigError(f'unexpected "{op}" in condition', d.file, d.line)
    regex = Regex.for_directive(right, op.endswith("*"), d.file, d.line)
    for name in regex.names:
        engine.variables.declare(name)
    negate = op.startswith("!")

    def match(r: Request, log: bool) -> bool:
        subject = lv.evaluate(r)
        caps = regex.exec(subject)
        if log:
            log_match(r, regex, subject, caps is not None)
        keep_captures(r, regex, caps)
        return (caps is not None) != negate
    return match


#: The file tests and the stat() mode test each makes (``-e``: anything that exists).
_FILE_TESTS = {"-f": stat.S_ISREG, "-d": stat.S_ISDIR, "-e": lambda mode: True,
               # ngx_is_exec: the owner's execute bit, of a directory too; whether this
               # process may run it does not matter
               "-x": lambda mode: bool(mode & stat.S_IXUSR)}
#: stat() errors that only mean "no such file"; others are logged at crit.
_QUIET_ERRORS = (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG)


def _file_test(r: Request, path: str, kind: Callable[[int], bool]) -> bool:
    """ngx_http_script_file_code: stat() the path (symlinks followed); a failure makes
    the test false (its negation true) and is logged unless the path is just missing."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno not in _QUIET_ERRORS:
            r.log("crit", f'stat() "{path}" failed ({exc.errno}: {os.strerror(exc.errno)})')
        return False
    except ValueError:  # a NUL in the path: nginx's C string ends there
        return _file_test(r, path.split("\0", 1)[0], kind)
    return kind(mode)


def log_match(r: Request, regex: Regex, subject: str, matched: bool) -> None:
    """``rewrite_log on``: each script regex test is a notice line."""
    verdict = "matches" if matched else "does not match"
    r.log("notice", f'"{regex.pattern}" {verdict} "{subject}"')


def keep_captures(r: Request, regex: Regex, caps: list[str | None] | None) -> None:
    """A script regex (``rewrite``, ``if``) sets the captures when it matches, even for
    a negated test (``!~``), and clears them when it does not (nginx zeroes
    r->ncaptures); named captures are only ever set."""
    r.captures = caps
    if caps is not None:
        for name, value in regex.named(caps).items():
            r.variables[name] = value
