"""Seeded randomized differential test of the rewrite module (rewrite, set, if, return,
break, rewrite_log) against real nginx.

One real nginx serves ``SERVERS`` generated servers (told apart by ``server_name gN.rw``),
each with locations ``/gN/p0``... holding random chains of rewrite-module directives that
rewrite into each other (with ``last`` that may loop up to nginx's 10-cycle limit). Every
chain ends in a ``return 200`` that echoes the location, ``$uri``, ``$args`` and the set
variables, so the reply says where a request ended and what was rewritten. Responses
(status, headers such as Location, body) and the ``rewrite_log`` notice lines must be the
same. A divergence prints the seed and the server block, so it can be replayed; the seed
is fixed (``SEED``) so the same cases run every time. Broken rewrite-module directives go
through ``nginx -t`` and through our loader.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.differential import Req
from tests.fuzzing import (assert_case_count, assert_group_as_nginx, config_verdicts,
                           generated, http_conf, pair_fixture)
from tests.oracle import requires_nginx

#: Fixed, so every run checks the same cases; set REWRITE_FUZZ_SEED to explore others.
SEED = int(os.environ.get("REWRITE_FUZZ_SEED", "20261127"))
SERVERS = 10
LOCATIONS = 5

#: Regexes for ``rewrite`` and ``if (... ~ ...)``; ``{g}`` is the server's prefix.
REGEXES = [
    r"^{g}/p\d/(.*)$", r"^{g}/p(\d)/(?<word>[a-z]+)", r"(?i)^{g}/P\d/A", r"^{g}/p\d/(a|b)?(c)?$",
    r"\.(html|txt)$", r"^{g}/p\d/([^/]+)/([^/]+)", r"^(.*)$", r"^{g}/p\d/\d+$", r"é",
    r"^{g}/p\d/[ %]", r"^{g}/p\d/(?:x|y)+(?<tail>.*)", r"b$", r"^{g}/p[0-2]",
    r"^{g}/p\d/(\w)(\w)?(\w)?(\w)?(\w)?(\w)?(\w)?(\w)?(\w)?$",
]
#: Replacements; ``{t}`` is a target location's path.
REPLACEMENTS = [
    "{t}/$1", "{t}/x?y=$1", "{t}/$word?", "http://ex.test/$1", "https://ex.test/p?a=$args",
    "{t}$uri", "{t}/$arg_x", "{t}/lit", "{t}/$9$8$2", "{t}/$tail?k=1", "http://$host/{t}",
    "{t}?", "{t}/$1?$args&z=2", "{t}/a%20b/$1", "{t}/$host", "/elsewhere/$1",
    "{t}$request_uri", "{t}/$1$is_args$args", "{t}/%41?q=%zz", "{t}/$1$1?u=$uri",
    "rel/$1", "{t}/$1?w=$word&", "$scheme://$host{t}/$1", "{t}/$rest",
]
FLAGS = ["", "", "last", "last", "break", "redirect", "permanent"]
CONDITIONS = [
    "$uri = {g}/p1/x", "$arg_x", "$arg_x != \"\"", "$uri ~ ^{g}/p\\d/(\\w+)", "$uri ~* A",
    "$uri !~ b", "$args !~* X", "-f $request_filename", "!-f $request_filename",
    "-d $request_filename", "!-d $request_filename", "-e $request_filename", "$v = 1",
    "$host ~ ^(g\\d)", "$arg_x = a", "!-e $request_filename", "$request_uri ~ %",
    "$uri ~ ^{g}/p\\d/(?<word>[a-z]+)$", "$args", "-d $document_root{g}/p0/d",
    "$arg_x ~* ^A$", '$uri = "{g}/p0/ x"', "$uri ~ \"^{g}/(p)(\\d)/(.)\"",
]
RETURNS = [
    'return 200 "ret $uri $1\\n"', "return 404", "return 302 {t}/r", "return 301 http://ex.test/$1",
    'return 307 "/$arg_x"', "return https://ex.test/y", "return 599", "return 204",
    "return 308 $uri?moved", 'return 403 "no $host\\n"', "return 303 //x", "return 444",
    'return 500 "oops"', "return 200", 'return 301 "rel"', "return 302 $scheme://$host$request_uri",
    "return 200 $request_uri", 'return 404 "gone $1\\n"', "return 302 {t}/$1?a=$arg_x",
]
SETS = ["set $v $1", "set $v 1", "set $w \"$uri-$args\"", "set $v $arg_x$word", "set $w $host",
        "set $u $2", "set $u \"[$v]\""]


def _rewrite(rng: random.Random, g: str, targets: list[str]) -> str:
    """A ``rewrite`` of a random regex to a random replacement, with a random flag."""
    regex = rng.choice(REGEXES).format(g=g)
    repl = rng.choice(REPLACEMENTS).format(t=rng.choice(targets))
    flag = rng.choice(FLAGS)
    return f'rewrite "{regex}" "{repl}"' + (f" {flag}" if flag else "")


def _directive(rng: random.Random, g: str, targets: list[str], depth: int = 0) -> str:
    """One rewrite-module directive, an ``if`` block wrapping one or two others."""
    kind = rng.choice(["rewrite", "rewrite", "rewrite", "set", "if", "if", "return", "break"])
    if kind == "rewrite":
        return _rewrite(rng, g, targets) + ";"
    if kind == "set":
        return rng.choice(SETS) + ";"
    if kind == "return":
        if rng.random() < 0.25:  # any code nginx takes, some with a text
            code = rng.randint(200, 599)
            return f"return {code}" + rng.choice(["", ' "c$uri"', " $arg_x"]) + ";"
        return rng.choice(RETURNS).format(t=rng.choice(targets)) + ";"
    if kind == "break" or depth:
        return "break;"
    cond = rng.choice(CONDITIONS).format(g=g)
    inner = " ".join(_directive(rng, g, targets, 1) for _ in range(rng.randint(1, 2)))
    return f"if ({cond}) {{ {inner} }}"


def gen_server(rng: random.Random, n: int) -> tuple[str, list[Req]]:
    """A server ``gN.rw`` with locations /gN/p0.. rewriting into each other, and requests."""
    g = f"/g{n}"
    paths = [f"{g}/p{i}" for i in range(LOCATIONS)]
    lines = [f"server {{\n    listen 127.0.0.1:{{port}};\n    server_name g{n}.rw;",
             "    set $v init; set $w init;"]
    lines.append(rng.choice(["", "    absolute_redirect off;", "    port_in_redirect off;",
                             "    server_name_in_redirect on;"]))
    if rng.random() < 0.4:  # server-level rewrites run before the location is found
        lines.append("    " + _rewrite(rng, g, paths) + ";")
    if rng.random() < 0.3:
        lines.append("    " + _directive(rng, g, paths))
    # a regex location, its captures seen by the directives in it
    body = [_directive(rng, g, paths) for _ in range(rng.randint(1, 3))]
    lines.append(f"    location ~ ^{g}/r(\\d)/(?<rest>.*)$ {{\n        " + "\n        ".join(body)
                 + '\n        return 200 "r uri=$uri args=$args 1=$1 rest=$rest";\n    }')
    for i, path in enumerate(paths):
        body = [_directive(rng, g, paths) for _ in range(rng.randint(1, 4))]
        if i == LOCATIONS - 1 and rng.random() < 0.5:  # a sure loop through two locations
            body = [f"rewrite ^ {paths[0]}/loop last;"]
            lines.append(f"    location {paths[0]}/loop {{ rewrite ^ {path}/again last; }}")
        body.append(f'return 200 "p{i} uri=$uri args=$args v=$v w=$w 1=$1\\n";')
        lines.append(f"    location {path} {{\n        " + "\n        ".join(body) + "\n    }")
    lines.append('    location / { return 200 "root uri=$uri args=$args v=$v u=$u\\n"; }')
    lines.append("}\n")
    host = [("Host", f"g{n}.rw")]
    reqs = []
    for path in paths:
        for tail in rng.sample(["", "/", "/abc", "/a.html?x=1", "/%20x?x=a%20b", "/a%2Fb",
                                "/é", "/%C3%A9", "/A", "/123?x=&y=2", "/xy/z?X=b",
                                "/b/c?x=a", "/c", "/d/", "/abcdefghij", "/a/b", "/%7Eu",
                                "/a+b?x=%2F", "/a%25b", "/..%2F", "/a?x=%E9", "/%20x?x=A",
                                "/a?x=a+b&x=%26"], 6):
            target = path + tail
            if rng.random() < 0.15:
                target = target.upper()
            method = "HEAD" if rng.random() < 0.1 else "GET"
            reqs.append(Req(method, target, rng.choice([host, host, [("Host", f"G{n}.RW:99")]])))
    reqs.append(Req("GET", f"{g}/zz?x=1", host))
    for tail in rng.sample(["1/a", "2/a%20b?x=1", "3/é/b", "0/", "9/abc?x=a"], 3):
        reqs.append(Req("GET", f"{g}/r{tail}", host))
    return "\n".join(lines), reqs


#: Divergences the generator found once, kept whatever the seed: PCRE without UTF
#: (``\w`` and ``.`` see bytes), and a ``last`` to a URI no location matches, after which
#: nginx does not run the server's directives again as the location's.
FIXED = r"""server {
    listen 127.0.0.1:{port};
    server_name fixed.rw;
    rewrite "^/s" "/s2";
    location /w { rewrite "^/w/(\w)$" /w/one; rewrite "^/w/(.)(.)$" /w/two$2; return 200 "$uri"; }
    location /c { rewrite "^/c/(.*)" "rel/$1" last; return 200 "c $uri\n"; }
}
"""
FIXED_TARGETS = ["/w/é", "/w/%C3%A9", "/w/ab", "/c/x", "/c/"]


def build() -> tuple[str, list[tuple[str, str, list[Req]]]]:
    """The config and the groups of cases: (label, server block text, requests)."""
    groups = generated(SEED, SERVERS, gen_server)
    groups.append(("fixed", FIXED, [Req("GET", t, [("Host", "fixed.rw")]) for t in FIXED_TARGETS]))
    return http_conf(groups, "    access_log off;\n    rewrite_log on;\n"), groups


CONF, GROUPS = build()
#: Files and directories the -f/-d/-e conditions find under the default root "html".
FILES = {f"html/g{n}/p{i}/{name}": "file\n" for n in range(SERVERS) for i in range(LOCATIONS)
         for name in ("a.html", "abc", "d/.keep")}


fuzz_pair = pair_fixture(CONF, FILES)


def test_enough_cases() -> None:
    assert_case_count(GROUPS, 200, 600)


@requires_nginx
@pytest.mark.parametrize("label,block,reqs", GROUPS, ids=[g[0] for g in GROUPS])
def test_same_as_nginx(fuzz_pair, label, block, reqs) -> None:  # type: ignore[no-untyped-def]
    assert_group_as_nginx(fuzz_pair, SEED, label, block, reqs)


# --- bad configurations --------------------------------------------------------------------

BAD = [
    'rewrite "(" /x;', "rewrite ^ /x foo;", "rewrite ^ /x last extra;", "return 999;",
    "return abc;", "return 0;", 'if ($a = ) { }', "if (-x /a) { }", "set v 1;",
    "set $uri 1;", 'if ($uri ~ "(") { }', "break x;", "if ($uri { }", "if $uri { }",
    "return 301 /a b c;", "rewrite ^;", "if ($uri ~ x y) { }", "set $ 1;",
    'rewrite ^ "$nosuch";', "if ($uri = a b) { }", "rewrite_log maybe;", "if ($uri ~*) { }",
    "if () { }", "if (-f) { }", "set $v;", 'return "text";', "return 200 a b;",
    "rewrite ^(?<1a>x) /;", 'if ($uri ~ "(?<x>") { }', "rewrite_log on off;",
    "if ($uri !~ ) { }", "return 301 $1 x;", "if ($uri = x) return 200;", "return -1;",
    "return 1000;", "if (!-q $uri) { }", 'rewrite "(?i" /x;', "set $uri_x $;",
]


@requires_nginx
@pytest.mark.parametrize("body", BAD, ids=[f"bad-{i}" for i in range(len(BAD))])
def test_same_config_verdict_as_nginx(tmp_path: Path, body: str) -> None:
    conf = "events {}\nhttp {\nserver {\nlocation / {\n" + body + "\n}\n}\n}\n"
    ours, real = config_verdicts(tmp_path, conf)
    assert ours == real, conf
