"""Unit tests for the scanner, the lark grammar and the loader (no real nginx needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.conf import ConfigError, ParsedConfig, iter_directives, load, load_text
from engine.conf.parser import scan, unescape

E = "events {}\n"


def parse(text: str) -> ParsedConfig:
    return load_text(E + text, "/v/conf/nginx.conf")


def first(text: str):  # the first directive after events
    return parse(text).directives[1]


def err(text: str, conf: str = "/v/conf/nginx.conf") -> str:
    with pytest.raises(ConfigError) as e:
        load_text(text, conf)
    return str(e.value)


# -- tokens -------------------------------------------------------------------------

@pytest.mark.parametrize("raw,value", [
    (r'a\"b', 'a"b'),            # escaped double quote
    (r"a\'b", "a'b"),            # escaped single quote
    (r"a\\b", "a\\b"),           # escaped backslash
    (r"a\tb\rc\nd", "a\tb\rc\nd"),  # control escapes
    (r"a\qb", r"a\qb"),          # any other escape is kept as written
    (r"\\n", "\\n"),             # pairs are consumed left to right
])
def test_unescape(raw: str, value: str) -> None:
    assert unescape(raw) == value


def test_scan_quotes_and_words() -> None:
    toks = list(scan("""a "b c" 'd;e' f${x}g\\ h;""", "f"))
    assert toks[0].args == ["a", "b c", "d;e", "f${x}g\\ h"]
    assert toks[0].quoted == [False, True, True, False]


def test_if_condition_tokens_keep_parentheses() -> None:
    # nginx's tokenizer keeps "(" and ")" glued; the rewrite module strips them later
    d = first('http { server { if ($a ~ "x{2};") { return 200; } } }').block[0].block[0]
    assert d.args == ["($a", "~", "x{2};", ")"]
    assert d.quoted == [False, False, True, False]
    d = first("http { server { if ($a = x) { } } }").block[0].block[0]
    assert d.args == ["($a", "=", "x)"]


def test_braces_in_words_and_variables() -> None:
    # "{" right after "$" continues a word (${var}); after "$a" it opens a block
    assert "not terminated" in err(E + "http { server { return 200 $a{b; } }")
    d = first("http { server { return 200 ${host}x; } }").block[0].block[0]
    assert d.args == ["200", "${host}x"]


def test_close_brace_does_not_end_a_word() -> None:
    d = first("http { server { server_name a}b; } }").block[0].block[0]
    assert d.args == ["a}b"]


# -- structure, positions, comments -------------------------------------------------

def test_lines_and_end_lines() -> None:
    p = parse("http {\n  server {\n    listen\n      80;\n  }\n}\n")
    http = p.directives[1]
    server = http.block[0]
    listen = server.block[0]
    assert (http.line, http.end_line) == (2, 7)
    assert (server.line, server.end_line) == (3, 6)
    assert (listen.line, listen.head_line, listen.end_line) == (4, 5, 5)
    assert listen.where == "/v/conf/nginx.conf:4"


def test_comments_are_kept_with_positions() -> None:
    p = parse("# top\nhttp { # inline\n  server_tokens off; #x\n}\n")
    assert [(c.line, c.text) for c in p.comments] == [(2, "# top"), (3, "# inline"), (4, "#x")]


def test_hash_inside_word_is_not_a_comment() -> None:
    d = first("http { server { server_name a#b; } }").block[0].block[0]
    assert d.args == ["a#b"]


def test_quoted_directive_name() -> None:
    assert first('"http" { }').name == "http"


# -- Lua blocks ---------------------------------------------------------------------

LUA_BODIES = [
    ' ngx.say("}") ',                                   # brace in a double-quoted string
    " ngx.say('{') ",                                   # brace in a single-quoted string
    " local s = [[ } ]] ",                              # long string
    " local s = [==[ ]] } ]==] ",                       # long string with level
    " -- } line comment\n ",                            # line comment
    " --[[ } long comment ]] ",                         # long comment
    " --[=[ ]] } ]=] ",                                 # long comment with level
    " local t = { a = { b = 1 } } ",                    # nested braces balance
    " local s = 'a\\' }' ",                             # escaped quote inside a string
    ' local s = "a\\\n}" ',                             # backslash-newline continues a string
    "",                                                 # empty body
]


@pytest.mark.parametrize("body", LUA_BODIES)
def test_lua_block_body_verbatim(body: str) -> None:
    d = first("http { server { location / { content_by_lua_block {" + body + "} } } }")
    lua = d.block[0].block[0].block[0]
    assert lua.name == "content_by_lua_block"
    assert lua.lua_source == body
    assert lua.args == [] and lua.block is None


def test_set_by_lua_block_keeps_variable_arg() -> None:
    d = first("http { server { location / { set_by_lua_block $v { return 1 } } } }")
    lua = d.block[0].block[0].block[0]
    assert lua.args == ["$v"] and lua.lua_source == " return 1 "


def test_lua_block_positions() -> None:
    p = parse("http {\n init_by_lua_block {\n  x = 1\n }\n}\n")
    lua = p.directives[1].block[0]
    assert (lua.line, lua.end_line) == (3, 5)


def test_lua_missing_brace_reports_open_line() -> None:
    assert err(E + "http {\n init_by_lua_block\n {\n x = 1\n") == (
        "[emerg] unexpected end of file, expecting terminating characters for lua code "
        "block in /v/conf/nginx.conf:4")


def test_lua_unterminated_short_string_is_not_a_string() -> None:
    # like ngx_lua, an unterminated string is just a character: the } ends the block
    p = parse('http { init_by_lua_block { local s = " }\n}\n')
    assert p.directives[1].block[0].lua_source == ' local s = " '


# -- errors -------------------------------------------------------------------------

@pytest.mark.parametrize("text,message", [
    ("http { foo; }", 'unknown directive "foo"'),
    ("}", 'unexpected "}"'),
    ("http {", 'unexpected end of file, expecting "}"'),
    ("http { root", 'unexpected end of file, expecting ";" or "}"'),
    ("http { root a { } }", 'directive "root" is not terminated by ";"'),
    ("http { server; }", 'directive "server" has no opening "{"'),
    ("http { root; }", 'invalid number of arguments in "root" directive'),
    ("root /x;", '"root" directive is not allowed here'),
    ('http { root "a"b; }', 'unexpected "b"'),
    ("http { ; }", 'unexpected ";"'),
])
def test_error_messages(text: str, message: str) -> None:
    assert message in err(E + text)


def test_first_error_in_file_order_wins() -> None:
    # an unknown directive on line 2 beats the missing "}" at the end of the file
    assert err(E + "foo;\nhttp {\n") == '[emerg] unknown directive "foo" in /v/conf/nginx.conf:2'
    # a closed http block is checked (duplicate location) before a later lexical error
    text = E + "http { server { location / {} location / {} } }\n\"unclosed"
    assert "duplicate location" in err(text)


def test_no_events() -> None:
    with pytest.raises(ConfigError) as e:
        load_text("http {}")
    assert str(e.value) == '[emerg] no "events" section in configuration'


# -- include --------------------------------------------------------------------------

def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root / "conf" / "nginx.conf"


def test_include_glob_sorted_and_recursive(tmp_path: Path) -> None:
    conf = write(tmp_path, {
        "conf/nginx.conf": E + "http { include sites/*.conf; }\n",
        "conf/sites/b.conf": "server { include snippets/x.conf; }\n",
        "conf/sites/a.conf": "server { }\n",
        "conf/sites/.hidden.conf": "garbage\n",
        "conf/snippets/x.conf": "listen 8080;\n",
    })
    p = load(str(conf))
    inc = p.directives[1].block[0]
    assert inc.name == "include"
    assert inc.included == [str(tmp_path / "conf/sites/a.conf"), str(tmp_path / "conf/sites/b.conf")]
    servers = list(iter_directives(p.directives[1].block))
    assert [s.file for s in servers] == inc.included
    listen = list(servers[1].children())[0]
    assert (listen.name, listen.file, listen.line) == ("listen", str(tmp_path / "conf/snippets/x.conf"), 1)
    assert list(p.files) == [str(conf), *inc.included, listen.file]
    assert p.prefix == str(tmp_path)


def test_include_relative_to_main_conf_dir_not_including_file(tmp_path: Path) -> None:
    conf = write(tmp_path, {
        "conf/nginx.conf": E + "http { include sub/a.conf; }\n",
        "conf/sub/a.conf": "include b.conf;\n",
        "conf/b.conf": "server_tokens off;\n",
    })
    p = load(str(conf))
    assert str(tmp_path / "conf/b.conf") in p.files


def test_include_cycle(tmp_path: Path) -> None:
    conf = write(tmp_path, {
        "conf/nginx.conf": E + "http { include a.conf; }\n",
        "conf/a.conf": "\ninclude b.conf;\n",
        "conf/b.conf": "include a.conf;\n",
    })
    with pytest.raises(ConfigError) as e:
        load(str(conf))
    assert e.value.file == str(tmp_path / "conf/b.conf") and e.value.line == 1
    assert "include cycle" in e.value.message


def test_include_missing(tmp_path: Path) -> None:
    conf = write(tmp_path, {"conf/nginx.conf": E + "http {\n include x.conf; }\n"})
    with pytest.raises(ConfigError) as e:
        load(str(conf))
    assert str(e.value) == (f'[emerg] open() "{tmp_path}/conf/x.conf" failed (2: No such file '
                            f"or directory) in {conf}:3")


def test_bundled_mime_types_fallback(tmp_path: Path) -> None:
    conf = write(tmp_path, {"conf/nginx.conf": E + "http { include mime.types; }\n"})
    p = load(str(conf))
    inc = p.directives[1].block[0]
    assert inc.included and inc.included[0].endswith(os.path.join("engine", "conf", "mime.types"))
    types = inc.block[0]
    assert types.name == "types" and types.block[0].name == "text/html"
    assert types.block[0].args == ["html", "htm", "shtml"]


# -- prefix and -g --------------------------------------------------------------------

def test_prefix_rules(tmp_path: Path) -> None:
    conf = write(tmp_path, {"conf/nginx.conf": E, "other/site.conf": E})
    assert load(str(conf)).prefix == str(tmp_path)
    assert load(str(tmp_path / "other/site.conf")).prefix == str(tmp_path / "other")
    assert load("conf/nginx.conf", prefix=str(tmp_path)).conf_path == str(conf)


def test_global_directives(tmp_path: Path) -> None:
    conf = write(tmp_path, {"conf/nginx.conf": E + "pid x.pid;\n"})
    p = load(str(conf), global_directives="worker_processes 2; daemon off;")
    assert [d.file for d in p.directives[:2]] == ["command line"] * 2
    with pytest.raises(ConfigError) as e:
        load(str(conf), global_directives="pid y.pid;")
    assert str(e.value) == f'[emerg] "pid" directive is duplicate in {conf}:2'
    for g, msg in [("foo;", 'unknown directive "foo"'),
                   ("worker_processes 1", 'unexpected end of parameter, expecting ";"'),
                   ("events {}", "block directives are not supported in -g option"),
                   ("root x;", '"root" directive is not allowed here')]:
        with pytest.raises(ConfigError) as e:
            load(str(conf), global_directives=g)
        assert str(e.value) == f"[emerg] {msg} in command line"
