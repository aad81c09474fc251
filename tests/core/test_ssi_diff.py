"""ngx_http_ssi_filter_module against real nginx: bodies byte for byte, headers and
error-log lines.

Commands (echo with its encodings that stick, set with variables and escapes,
config, if/elif/else/endif with text and regex comparisons and captures, block and
stub, include virtual/file with relative paths, arguments, %XX, set, wait, to text,
Lua, 404, 500 and 302 locations, to locations with and without ssi, and to a Lua
location that captures another), every parse error and command error nginx logs, with
errmsg and ssi_silent_errors, ssi_value_length; which responses are processed
(types, ``*``, empty, HEAD, HTTP/1.0, 304, Range) and their header (Content-Length,
Last-Modified, ETag weak with ssi_last_modified); commands split across Lua output
parts, including nginx's lost ``<`` when a part ends in one; ``$date_gmt`` with a
timefmt. Then the configuration errors through ``nginx -t``.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from tests.differential import Reply, Req, engine_load_error
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix

CONF = r"""
error_log logs/error.log info;
events {}
http {
    include mime.types;
    default_type text/html;
    access_log off;
    server {
        listen 127.0.0.1:{port};
        root html;
        ssi on;
        location /ret { set_by_lua_block $s { return ngx.unescape_uri(ngx.var.arg_s) }
                        return 200 $s; }
        location /lua { content_by_lua_block { ngx.print(ngx.unescape_uri(ngx.var.arg_s)) } }
        location /split {
            content_by_lua_block {
                local s, n = ngx.unescape_uri(ngx.var.arg_s), tonumber(ngx.var.arg_n)
                for i = 1, #s, n do ngx.print(s:sub(i, i + n - 1)) ngx.flush(true) end
            }
        }
        location /silent { ssi_silent_errors on; return 200 "a<!--# foo -->b"; }
        location /short { ssi_value_length 5;
                          return 200 "<!--# echo var=\"abcde\" --><!--# echo var=\"abcdef\" -->"; }
        location /plain { default_type text/plain; return 200 "<!--# echo var=\"uri\" -->"; }
        location /empty { return 200 ""; }
        location /etag { add_header ETag '"x"'; return 200 "<!--# echo var=\"uri\" -->"; }
        location /rel { return 200 "rel $args"; }
        location /t/one { default_type text/plain; return 200 "one"; }
        location /t/lua { content_by_lua_block { ngx.say("l1") ngx.flush(true) ngx.print("l2") } }
        location /t/nested { return 200 "N(<!--# echo var=\"uri\" -->)"; }
        location /t/x { return 200 "<!--# echo var=\"x\" default=\"unset\" -->"; }
        location /t/off { ssi off; return 200 "O(<!--# echo var=\"uri\" -->)"; }
        location /t/cap { content_by_lua_block {
            local r = ngx.location.capture("/t/nested") ngx.print("C[", r.body, "]") } }
        location /t/err { return 500; }
        location /t/redir { return 302 /x; }
        location /t/loop { return 200 "<!--# include virtual=\"/t/loop\" -->"; }
        location /lm/ { ssi_last_modified on; }
        location /types/ { ssi_types text/plain; }
        location /star/ { ssi_types *; }
        location /quiet/ { ssi_min_file_chunk 10; ssi_ignore_recycled_buffers on; }
    }
}
"""

FILES = {
    "html/a.html": '<b><!--# echo var="uri" --></b>\n',
    "html/lm/a.html": '<!--# echo var="uri" -->',
    "html/types/a.txt": '<!--# echo var="uri" -->',
    "html/star/a.txt": '<!--# echo var="uri" -->',
    "html/quiet/a.html": '<!--# echo var="uri" -->',
    "html/a.txt": '<!--# echo var="uri" -->',
    "html/empty.html": "",
    "html/err.html": "x<!--# x -->y",
    "html/if.html": '<!--# if expr="$arg_a" -->A<!--# elif expr="$arg_b = /^(x+)(y*)/" -->'
                    'B<!--# echo var="1" -->,<!--# echo var="2" --><!--# else -->E'
                    '<!--# endif -->.\n',
    "html/dir/page.html": '[<!--# include virtual="../t/one" -->]'
                          '[<!--# include file="../a.txt" -->]',
    # includes run after SSI has parsed the rest of the part (nginx posts them), unless
    # waited (wait="yes", set=): what they see of the SSI variables, the log's order
    "html/posted/vars.html": '<!--# set var="x" value="1" --><!--# include virtual="/t/x" -->'
                             '<!--# set var="x" value="2" -->|<!--# echo var="x" -->\n',
    "html/posted/waited.html": '<!--# set var="x" value="1" -->'
                               '<!--# include virtual="/t/x" wait="yes" -->'
                               '<!--# set var="x" value="2" -->|<!--# echo var="x" -->\n',
    "html/posted/set.html": '<!--# include virtual="/t/one" set="v" -->'
                            '[<!--# echo var="v" default="none" -->]\n',
    "html/posted/order.html": 'a<!--# include virtual="/t/none" -->b<!--# bad -->c'
                              '<!--# include virtual="/t/one" -->d'
                              '<!--# include virtual="/t/none2" wait="yes" -->e<!--# bad2 -->f\n',
}

URL_CHARS = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "\"\\$-") + " \x01\xe9"

#: SSI texts served by ``return`` (the error cases log one or more lines each).
TEXTS = [
    ("unknown command", 'a<!--# foo -->b'),
    ("unknown command, no spaces", '<!--#foo-->'),
    ("empty command", '<!--#-->x'),
    ("mandatory parameter absent", '<!--# echo -->'),
    ("duplicate parameter", '<!--# echo var="a" var="b" -->'),
    ("invalid parameter name", '<!--# echo var="uri" bad="x" -->'),
    ("unquoted value", '<!--# echo var=uri -->'),
    ("no equal sign", '<!--# echo var "uri" -->'),
    ("symbol after value", '<!--# echo var="uri"x -->'),
    ("unterminated command swallows the rest", '1<!--# echo var="uri" -> 2'),
    ("bad end", '<!--# echo var="uri" --x -->3'),
    ("dash in parameter name", '<!--# echo var-="uri" -->'),
    ("command too long", '<!--# abcdefghijabcdefghijabcdefghijabc -->'),
    ("parameter too long", '<!--# echo abcdefghijabcdefghijabcdefghijabc="1" -->'),
    ("too many parameters", '<!--# echo ' + " ".join(f'p{i}="{i}"' for i in range(17)) + ' -->'),
    ("single quotes", "<!--# echo var='uri' -->"),
    ("escaped quote in value", '<!--# echo var="u\\"ri" -->'),
    ("echo and default", '[<!--# echo var="arg_x" -->][<!--# echo var="nope" -->]'
                         '[<!--# echo var="nope" default="dd" -->'
                         '][<!--# echo var="nope" default="" -->]'),
    ("echo name is lowercased", '<!--# echo var="URI" -->'),
    ("encodings stick", '<!--# set var="a" value="a b<c>&d\'e" -->'
                        '[<!--# echo var="a" encoding="url" -->]'
                        '[<!--# echo var="a" -->][<!--# echo var="a" encoding="none" -->]'
                        '[<!--# echo var="a" -->][<!--# echo var="a" encoding="bad" -->]'),
    ("url and entity encoding of every byte",
     f'<!--# set var="a" value="{URL_CHARS}" --><!--# echo var="a" encoding="url" -->|'
     '<!--# echo var="a" encoding="entity" -->'),
    ("url encoding of quote, backslash and dash",
     '<!--# set var="a" value="\\"\\\\-" --><!--# echo var="a" encoding="url" -->'),
    ("set with escapes", '<!--# set var="x" value="a\\b\\$c\\\\d" --><!--# echo var="x" -->'),
    ("set with variables", '<!--# set var="x" value="$uri-${arg_q}-$nope" -->'
                           '<!--# echo var="x" -->'),
    ("set, missing bracket", '<!--# set var="x" value="${uri" -->'),
    ("set, lone dollar", '<!--# set var="x" value="$" -->'),
    ("set, bad variable name", '<!--# set var="x" value="a$-b" -->'),
    ("set variable shadows nginx's", '<!--# set var="uri" value="mine" -->'
                                     '<!--# echo var="uri" -->'),
    ("comments and broken tags", '<!-- plain --><!-x<<!--#'),
    ("else out of context", '<!--# else -->'),
    ("endif out of context", '<!--# endif -->'),
    ("if inside if", '<!--# if expr="1" --><!--# if expr="1" -->'),
    ("empty right side", '<!--# if expr="$x = " -->Y<!--# endif -->'),
    ("elif after else", '<!--# if expr="a" -->A<!--# else -->B<!--# elif expr="1" -->'
                        'C<!--# endif -->'),
    ("false branch skips commands", '<!--# if expr="" -->A<!--# include virtual="/t/one" -->'
                                    '<!--# if expr="1" --><!--# bogus --><!--# else -->'
                                    'B<!--# endif -->C'),
    ("negation is not a form", '<!--# if expr="!$uri" -->A<!--# endif -->'),
    ("not equal", '<!--# if expr="$uri != ret" -->A<!--# else -->B<!--# endif -->'),
    ("slash text needs a backslash", '<!--# if expr="$uri = \\/ret" -->A<!--# else -->'
                                     'B<!--# endif -->'),
    ("slash without closing slash", '<!--# if expr="$uri =/ret " -->A<!--# endif -->'),
    ("regex with captures", '<!--# if expr="$uri = /(?<pre>r)(e)/" -->A<!--# echo var="pre" -->/'
                            '<!--# echo var="2" -->/<!--# echo var="0" -->/<!--# echo var="3" -->'
                            '<!--# endif -->'),
    ("captures kept under !=", '<!--# if expr="$uri != /r(e)/" -->A<!--# else -->'
                               '<!--# echo var="1" --><!--# endif -->'),
    ("missing bracket after a name", '<!--# set var="x" value="${uri-x" -->'),
    ("bad regex", '<!--# if expr="$uri = /(x/" -->A<!--# endif -->'),
    ("upper case variable in if", '<!--# if expr="$URI" -->A<!--# endif -->'),
    ("elif chosen once", '<!--# if expr="" -->1<!--# elif expr="a" -->2<!--# elif expr="b" -->3'
                         '<!--# else -->4<!--# endif -->'),
    ("errmsg", '<!--# config errmsg="OOPS" --><!--# bad -->'),
    ("timefmt", '<!--# config timefmt="%Y" --><!--# echo var="date_gmt" -->'),
    ("include without parameter", '<!--# include -->'),
    ("include virtual and file", '<!--# include virtual="/t/one" file="/t/one" -->'),
    ("include bad wait", '<!--# include virtual="/t/one" wait="maybe" -->'),
    ("include file with wait", '<!--# include file="/t/one" wait="yes" -->'),
    ("include set and stub", '<!--# include virtual="/t/one" set="a" stub="b" -->'),
    ("include unknown stub", '<!--# include virtual="/t/one" stub="zz" -->'),
    ("include unsafe", '<!--# include virtual="/../x" -->'),
    ("include unsafe after decoding", '<!--# include virtual="/t/%2E%2E/x" -->'),
    ("include text, 404, relative with args", 'A<!--# include virtual="/t/one" -->B'
                                               '<!--# include virtual="/t/none" -->C'
                                               '<!--# include virtual="rel?x=1" -->D'),
    ("include file, escaped path, wait", '<!--# include file="t/one" -->|'
                                         '<!--# include virtual="/t/%6Fne" wait="YES" -->|'
                                         '<!--# include virtual="/t/one" wait="no" -->'),
    ("include set", '<!--# include virtual="/t/one" set="v" -->[<!--# echo var="v" -->]'),
    ("include set, 404", '<!--# include virtual="/t/none" set="v" -->[<!--# echo var="v" -->]'),
    ("include set, Lua", '<!--# include virtual="/t/lua" set="v" -->[<!--# echo var="v" -->]'),
    ("include Lua", '<!--# include virtual="/t/lua" -->|'),
    ("include with ssi", '<!--# include virtual="/t/nested?a=1" -->'),
    ("include without ssi", '<!--# include virtual="/t/off" -->'),
    ("include Lua capturing", '<!--# include virtual="/t/cap" -->'),
    ("include 500 and 302", '<!--# include virtual="/t/err" -->'
                            '|<!--# include virtual="/t/redir" -->'),
    ("SSI variables shared with includes", '<!--# set var="v" value="1" -->'
                                           '<!--# include virtual="/t/nested" -->'
                                           '<!--# echo var="v" -->'),
    ("encoding is per response", '<!--# echo var="uri" encoding="url" -->'
                                 '<!--# include virtual="/t/nested" -->'),
    ("stubs", '<!--# block name="s" -->STUB<!--# echo var="uri" --><!--# endblock -->'
              '[<!--# include virtual="/t/none" stub="s" -->'
              '][<!--# include virtual="/empty" stub="s" -->]'
              '[<!--# include virtual="/t/one" stub="s" -->'
              '][<!--# include virtual="/t/err" stub="s" -->]'),
    ("block keeps commands as text", "<!--# block name='b' -->"
                                     "x<!--# echo var='uri' encoding='url' -->y"
                                     '<!--# if expr="1" -->z<!--# endblock -->'
                                     '[<!--# include virtual="/t/none" stub="b" -->]'),
    ("errors inside a block", '<!--# block name="b" --><!--# foo --><!--# echo bad -->'
                              '<!--# endblock -->[<!--# include virtual="/t/none" stub="b" -->]'),
    ("include cycle", '<!--# include virtual="/t/loop" -->'),
]

SPLIT = 'x<!--# echo var="uri" -->y<<!--#x-->z<!-- --><!--# if expr="$uri" -->T<!--# endif -->'


def get(target: str, *headers: tuple[str, str], method: str = "GET",
        version: str = "HTTP/1.1") -> Req:
    return Req(method, target, [("Host", "localhost"), *headers], version=version)


CASES = [(name, get("/ret?s=" + quote(s, safe=""))) for name, s in TEXTS] + [
    ("Lua output", get("/lua?s=" + quote('<!--# foo --><!--# include virtual="/t/none" -->'))),
    *[(f"Lua output in parts of {n}", get(f"/split?n={n}&s={quote(SPLIT)}"))
      for n in (1, 2, 3, 4, 5, 7, 100)],
    ("silent errors", get("/silent")),
    ("value length", get("/short")),
    ("text/plain not processed", get("/plain")),
    ("empty body", get("/empty")),
    ("ETag removed", get("/etag")),
    ("static file", get("/a.html")),
    ("static file, errors while sending", get("/err.html")),
    ("static file, HEAD", get("/a.html", method="HEAD")),
    ("static file, HTTP/1.0", get("/a.html", version="HTTP/1.0")),
    ("static file, Range ignored", get("/a.html", ("Range", "bytes=0-2"))),
    ("static empty file", get("/empty.html")),
    ("static text file", get("/a.txt")),
    ("relative includes from a file", get("/dir/page.html")),
    ("ssi_last_modified: weak ETag", get("/lm/a.html")),
    ("ssi_last_modified: 304", get("/lm/a.html", ("If-None-Match", "*"))),
    ("ssi_types", get("/types/a.txt")),
    ("ssi_types *", get("/star/a.txt")),
    ("accepted directives", get("/quiet/a.html")),
    *[(f"posted include: {n}", get(f"/posted/{n}.html"))
      for n in ("vars", "waited", "set", "order")],
    *[(f"if: {q or 'nothing'}", get(f"/if.html?{q}"))
      for q in ("a=1", "b=xxy", "b=xxz", "b=z", "")],
]

_PREFIX = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (?:\*\d+ )?")


def comparable(reply: Reply) -> dict:
    """Everything but Date (ETag and Last-Modified agree: same files, same mtimes)."""
    return {"status": reply.status, "reason": reply.reason, "body": reply.body,
            "headers": [(k.lower(), v) for k, v in reply.headers if k.lower() != "date"]}


def _new(path, seen: dict, prefix) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Error-log entries written since the last look, the prefix spelled {prefix}."""
    text = path.read_text() if path.exists() else ""
    fresh = text[seen.get(path, 0):].replace(str(prefix).rstrip("/"), "{prefix}")
    seen[path] = len(text)
    out = []
    for line in fresh.splitlines():
        m = _PREFIX.match(line)
        if m and m.group(1) != "notice" and "waiting for request" not in line:
            out.append((m.group(1), line[m.end():]))
    return out


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):  # type: ignore[no-untyped-def]
    seen = pair.__dict__.setdefault("_seen", {})
    real_log = pair.real.prefix / "logs" / "error.log"
    our_log = pair.prefix / "logs" / "error.log"
    _new(real_log, seen, pair.real.prefix), _new(our_log, seen, pair.prefix)
    real, ours = pair.both(req)
    assert comparable(ours) == comparable(real)
    assert _new(our_log, seen, pair.prefix) == _new(real_log, seen, pair.real.prefix)


BAD_CONFIGS = [
    ("ssi not a flag", "ssi maybe;"),
    ("ssi_value_length not a size", "ssi_value_length big;"),
    ("ssi_min_file_chunk not a size", "ssi_min_file_chunk -1;"),
    ("ssi_last_modified not a flag", "ssi_last_modified 1;"),
    ("ssi_types without types", "ssi_types;"),
    ("ssi_silent_errors twice", "ssi_silent_errors on; ssi_silent_errors off;"),
    ("ssi in if", "location / { if ($arg_a) { ssi on; } }"),
    ("ssi_types in if", "location / { if ($arg_a) { ssi_types text/plain; } }"),
]


@requires_nginx
@pytest.mark.parametrize("name,directives", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_config_errors_as_nginx(tmp_path, name, directives):  # type: ignore[no-untyped-def]
    conf = ("events {}\nhttp {\n    server {\n        listen 127.0.0.1:1;\n"
            f"        {directives}\n    }}\n}}\n")
    prefix = write_prefix(tmp_path, conf)
    assert engine_load_error(prefix) == first_emerg(nginx_test(prefix).output)
