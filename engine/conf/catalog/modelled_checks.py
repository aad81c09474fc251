"""Parse-time checks of directives whose modules the engine models, with nginx's wording.

The modules (rewrite, access, realip, headers, the random balancer, ngx_lua's
``set_by_lua*``) check these values again in configure(), which runs once the whole
file is read; nginx's handlers refuse them at their line, so a bad value here wins over
a bad line further down only if it is caught while the file is read, as here.
"""

from __future__ import annotations

from ..ast import Directive
from ..errors import ConfigError
from .addresses import cidr, resolves
from .slots import nginx_int
from .upstream_checks import complex_value_error, regex_error

__all__ = ["modelled_error", "try_files_code"]

_REWRITE_FLAGS = frozenset({"last", "break", "redirect", "permanent"})
_STORE = frozenset({"proxy_store", "fastcgi_store", "uwsgi_store", "scgi_store"})


def modelled_error(d: Directive) -> str | None:
    """The error the handler of ``d`` gives at its line, or None."""
    name, args = d.name, d.args
    if name == "rewrite":
        if not args[1]:
            return "empty replacement"
        err = regex_error(args[0])
        if err is None and len(args) == 3 and args[2] not in _REWRITE_FLAGS:
            err = f'invalid parameter "{args[2]}"'
        return err or complex_value_error(args[1])
    if name == "return":
        return _return(args)
    if name == "try_files":
        return next(filter(None, map(complex_value_error, args)), None) or \
            _try_files_code(args[-1])
    if name in _STORE:
        return None if args[0] in ("on", "off") else complex_value_error(args[0])
    if name in ("allow", "deny"):
        ok = args[0] in ("all", "unix:") or cidr(args[0]) is not None
        return None if ok else f'invalid parameter "{args[0]}"'
    if name == "set_real_ip_from":
        ok = args[0] == "unix:" or cidr(args[0]) is not None or resolves(args[0])
        return None if ok else f'host not found in set_real_ip_from "{args[0]}"'
    if name == "random":  # ngx_http_upstream_random: [two [least_conn]]
        bad = next((a for a, want in zip(args, ("two", "least_conn")) if a != want), None)
        return None if bad is None else f'invalid parameter "{bad}"'
    if name == "add_header":
        err = complex_value_error(args[1]) if args[1] else None
        if err is None and len(args) == 3 and args[2] != "always":
            err = f'invalid parameter "{args[2]}"'
        return err
    if name == "fastcgi_split_path_info":
        from ...http.regex import Regex, RegexError
        try:
            groups = Regex(args[0], False).groups
        except RegexError as exc:
            return str(exc)
        return None if groups == 2 else f'pattern "{args[0]}" must have 2 captures'
    if name == "keepalive":  # the upstream keepalive module's cache size
        number = nginx_int(args[0])
        return None if number else f'invalid value "{args[0]}" in "keepalive" directive'
    if name == "hash":  # ngx_http_upstream_hash: a key, then "consistent"
        err = complex_value_error(args[0])
        if err is None and len(args) == 2 and args[1] != "consistent":
            err = f'invalid parameter "{args[1]}"'
        return err
    if name == "auth_request_set":
        if len(args[0]) < 2 or args[0][0] != "$":
            return f'invalid variable name "{args[0]}"'
        return complex_value_error(args[1])
    if name == "limit_req":
        return _limit_req(args)
    if name.startswith("set_by_lua"):
        if args[0][:1] != "$":
            return f'invalid variable name "{args[0]}"'
        return complex_value_error(args[1]) if name == "set_by_lua_file" else None
    return None


def _limit_req(args: list[str]) -> str | None:
    """``ngx_http_limit_req``: zone=, burst=N, delay=N (N > 0) or nodelay."""
    zone = False
    for arg in args:
        key, eq, value = arg.partition("=")
        if key == "zone" and eq:
            zone = True
        elif key in ("burst", "delay") and eq:
            if not nginx_int(value):
                return f'invalid {key} value "{arg}"'
        elif arg != "nodelay":
            return f'invalid parameter "{arg}"'
    return None if zone else '"limit_req" must have "zone" parameter'


def try_files_code(last: str, file: str | None, line: int | None) -> int:
    """try_files: the status of a last argument ``=code`` (0: not one, or ``=0``, which
    nginx then takes as a URI). nginx reads one character less of a value with
    variables, and names it so too."""
    if not last.startswith("="):
        return 0
    shown, digits = (last[:-1], last[1:-1]) if "$" in last else (last, last[1:])
    if not (digits.isascii() and digits.isdigit()) or int(digits) > 999:
        raise ConfigError(f'invalid code "{shown}"', file, line)
    return int(digits)


def _try_files_code(last: str) -> str | None:
    """:func:`try_files_code`'s error, if any."""
    try:
        try_files_code(last, None, None)
    except ConfigError as exc:
        return exc.message
    return None


def _return(args: list[str]) -> str | None:
    """``ngx_http_rewrite_return``: a code up to 999, or a lone URL (a redirect)."""
    code = nginx_int(args[0])
    if code is None:
        lone_url = len(args) == 1 and args[0].startswith(("http://", "https://", "$scheme"))
        if not lone_url:
            return f'invalid return code "{args[0]}"'
    elif code > 999:
        return f'invalid return code "{args[0]}"'
    return complex_value_error(args[-1]) if len(args) == 2 or code is None else None
