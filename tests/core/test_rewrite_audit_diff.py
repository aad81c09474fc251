"""An audit of the rewrite module and ``map`` against real nginx: ``if`` conditions
(strings, regexes and their captures, file tests on files, directories, symlinks and
missing paths, empty and "0" values), what an ``if`` block inherits ("if is evil"),
``set`` with escapes, every ``return`` form and the redirects' Location, ``rewrite``
flags, args and captures, rewrite cycles, ``break``, ``rewrite_log`` and
``uninitialized_variable_warn``; ``map`` with hostnames, regexes, ``include``,
``volatile``, maps of maps; and bad directive values at ``nginx -t``."""

from __future__ import annotations

import io
import os
import tempfile
import time
from pathlib import Path

import pytest

from explorer.commands.check import run_test
from tests.conf.test_warnings_diff import _warnings
from tests.core.conftest import with_mime_types
from tests.core.test_error_log_diff import _new
from tests.differential import Pair, Req, engine_load_error
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix

CONF = r"""
error_log logs/error.log info;
events {}
http {
    access_log off;
    map $arg_h $hmap {
        hostnames;
        default            none;
        example.com        exact;
        .example.org       dot-org;
        *.example.com      head;
        *.a.example.com    longer-head;
        www.example.*      tail;
        ~^b\.               regex-b;
    }
    map $arg_m $mre {
        ~^(?<first>\w)(\w*)-(?<num>\d+)$   "re $first/$2/$num";
        ~*^UP(.*)$                          "up $1";
        include                             map.inc;
        default                             "def $arg_m";
    }
    map $mre $mofm { "re a/bc/1" hit; default miss; }
    map $uri $clob { default mapped; }
    map $s $mvol { volatile; default $s; }
    map $s $mkeep { default $s; }
    map $arg_c $mcase { Abc mixed; ~abc regex-lower; default none; }
    map $arg_e $mvar { one $arg_x; two "$arg_x-$arg_y"; default ""; }
    map $arg_r $mempty { ~^$ empty-regex; ~^(.)$ "one $1"; default "def [$1]"; }
    map $arg_b $mesc { \~x tilde; \default escaped; default real; }
    server {
        listen 127.0.0.1:{port};
        server_name audit.test alias.test;
        root html;

        location = /maps {
            return 200 "h=$hmap m=$mre mm=$mofm c=$mcase v=$mvar f=$first n=$num\n";
        }
        location = /maps2 { return 200 "r=$mempty b=$mesc\n"; }
        location /mapcap/ {
            if ($uri ~ ^/mapcap/(\w+)) { }
            return 200 "$mempty [$1]\n";
        }
        location = /volatile {
            set $s 1;
            set $a "$mvol$mkeep";
            set $s 2;
            return 200 "$a $mvol$mkeep\n";
        }

        location /eq {
            if ($arg_a = x) { return 200 "eq x\n"; }
            if ($arg_a != "x y") { return 200 "ne x-y [$arg_a]\n"; }
            return 200 "fell through\n";
        }
        location /eqvar {
            if ($arg_a = $arg_b) { return 200 "same\n"; }
            if ($arg_a = "${arg_b}z") { return 200 "b+z\n"; }
            return 200 "differ\n";
        }
        location /empty {
            if ($arg_a) { return 200 "true [$arg_a]\n"; }
            return 200 "false [$arg_a]\n";
        }
        location /re/ {
            if ($uri ~ ^/re/(\w+)/(\d+)) { set $v $2; }
            if ($arg_q ~* ^ABC(.*)$) { return 200 "ci [$1] v=$v\n"; }
            if ($arg_n !~ ^\d+$) { return 200 "not digits [$1] v=$v\n"; }
            if ($arg_n !~* ^X) { return 200 "not x [$1]\n"; }
            return 200 "end [$1] [$2] v=$v\n";
        }
        location /keepcap/ {
            if ($uri ~ ^/keepcap/(\w+)) { }
            if ($arg_a ~ ^z) { return 200 "z [$1]\n"; }
            if ($arg_a ~ ^(y)) { return 200 "y [$1]\n"; }
            return 200 "[$1]\n";
        }
        location /negcap/ {
            if ($uri !~ ^/negcap/(\w+)) { return 200 "no\n"; }
            return 200 "[$1]\n";
        }
        location /named/ {
            if ($uri ~ ^/named/(?<part>\w+)) { }
            return 200 "[$part]\n";
        }
        location /files/ {
            if (-f {fs}/$arg_p) { return 200 "-f\n"; }
            return 200 "not -f\n";
        }
        location /notfiles/ {
            if (!-f {fs}/$arg_p) { return 200 "!-f\n"; }
            return 200 "-f\n";
        }
        location /dirs/ {
            if (-d {fs}/$arg_p) { return 200 "-d\n"; }
            if (!-d {fs}/$arg_p) { return 200 "!-d\n"; }
        }
        location /exists/ {
            if (-e {fs}/$arg_p) { return 200 "-e\n"; }
            if (!-e {fs}/$arg_p) { return 200 "!-e\n"; }
        }
        location /exec/ {
            if (-x {fs}/$arg_p) { return 200 "-x\n"; }
            if (!-x {fs}/$arg_p) { return 200 "!-x\n"; }
        }

        location /evil/headers {
            add_header X-Loc loc;
            if ($arg_a) { add_header X-If if; }
            if ($arg_b) { add_header X-If2 if2; }
            return 200 "headers\n";
        }
        location /evil/try {
            try_files /none.html /index.html;
            if ($arg_a) { }
        }
        location /evil/ret {
            if ($arg_a) { return 200 "in if\n"; }
            return 200 "after if\n";
        }
        location /evil/break {
            if ($arg_a) { rewrite ^ /index.html break; }
            return 200 "after if [$uri]\n";
        }
        location /evil/proxy {
            proxy_pass http://127.0.0.1:{port1}/backend;
            if ($arg_a) { add_header X-If if; }
        }

        location /set {
            set $a "a\tb\\c\"d";
            set $b '${arg_x}y';
            set $c $a$b;
            set $d "";
            return 200 "[$a] [$b] [$c] [$d]\n";
        }

        location = /ret/code { return 204; }
        location = /ret/403 { return 403; }
        location = /ret/text { return 404 "gone $uri\n"; }
        location = /ret/url { return http://example.com/$arg_a; }
        location = /ret/rel { return 301 /elsewhere; }
        location = /ret/302 { return 302 "/x y"; }
        location = /ret/303 { return 303 next; }
        location = /ret/307 { return 307 /seven; }
        location = /ret/308 { return 308 https://ex.test/eight; }
        location = /ret/abs_off { absolute_redirect off; return 301 /off; }
        location = /ret/name { server_name_in_redirect on; return 302 /named; }
        location = /ret/noport { port_in_redirect off; return 302 /noport; }
        location = /ret/200empty { return 200; }
        location = /ret/499 { return 499; }
        location = /ret/999 { return 999 "odd\n"; }
        location = /ret/302text { return 302 "$arg_to"; }

        location /rw/ {
            rewrite ^/rw/last/(.*)$ /show/$1 last;
            rewrite ^/rw/break/(.*)$ /show/$1 break;
            rewrite ^/rw/redirect/(.*)$ /show/$1 redirect;
            rewrite ^/rw/perm/(.*)$ /show/$1 permanent;
            rewrite ^/rw/http/(.*)$ http://example.com/$1;
            rewrite ^/rw/https/(.*)$ https://example.com/$1?x=1 last;
            rewrite ^/rw/noargs/(.*)$ /show/$1? last;
            rewrite ^/rw/addargs/(.*)$ /show/$1?new=1 last;
            rewrite ^/rw/redirnoargs/(.*)$ /show/$1? redirect;
            rewrite ^/rw/chain/(.*)$ /rw/last/$1;
            rewrite ^/rw/argcap/(.*)$ /show/?x=$1 last;
            rewrite ^/rw/caps/(.)(.)(.)(.)(.)(.)(.)(.)(.)(.*)$ /show/$9$8$1-$10;
            return 200 "rw fell through [$uri]\n";
        }
        location /show/ { return 200 "show [$uri] [$args] [$request_uri]\n"; }
        location /loop { rewrite ^ /loop last; }
        location /loop2 { rewrite ^/loop2(.*)$ /loop2x$1 last; }
        location /rwclear/ {
            if ($uri ~ ^/rwclear/(\w+)) { }
            rewrite ^/nomatch /x;
            return 200 "[$1]\n";
        }
        location /rwrel/ {
            rewrite ^/rwrel/(.*)$ rel/$1 redirect;
        }
        location /rwq/ {
            rewrite ^/rwq/([^/]*)/(.*)$ /show/$1?b=$2 redirect;
        }
        location /close { return 444; }
        location /setarg { set $y $arg_x; set $arg_x changed; return 200 "[$y] [$arg_x]\n"; }
        location /readarg { return 200 "[$arg_x] [$http_foo] [$cookie_c] [$sent_trailer_t]\n"; }
        location /sethttp {
            if ($arg_a) { set $http_foo a; set $cookie_c c; set $sent_trailer_t t; }
            return 200 "[$http_foo] [$cookie_c]\n";
        }
        location /clobber { return 200 "[$clob] [$late]\n"; }
        location ~ ^/zclob/(?<clob>\w+)/(?<late>\w+) { return 200 "[$clob] [$late]\n"; }
        location /setargs { set $args "x=1&y=2"; return 200 "[$args] [$arg_x] [$request_uri]\n"; }
        location /setargs_last { set $args "q=1"; rewrite ^ /show/ last; }
        location /esc { return 200 "a\tb \"q\" \\ \$x ${uri}z\n"; }
        location /iftwice {
            if ($arg_a) { set $x 1; }
            if ($arg_b) { set $x "${x}2"; }
            return 200 "[$x]\n";
        }
        location ~ ^/lc/(\w+) {
            set $first $1;
            if ($arg_a ~ (\d)) { }
            return 200 "[$first] [$1]\n";
        }
        location /scheme/ { rewrite ^/scheme/(?<nm>\w+) $scheme://other.test/$nm; }
        location /named_rw/ { rewrite ^/named_rw/(?<nm>\w+) /show/$nm last; }
        location = /ret/302bare { return 302; }
        location /ifbreak {
            if ($arg_a) { break; }
            return 200 "no break\n";
        }
        location /evil/root {
            root /nonexistent;
            if ($arg_a) { root html; }
        }
        location /evil/uninit {
            uninitialized_variable_warn off;
            if ($arg_a) { uninitialized_variable_warn on; }
            return 200 "[$nowhere]\n";
        }
        location /brk {
            rewrite_log on;
            break;
            rewrite ^ /show/never last;
            return 200 "after break [$uri]\n";
        }
        location /brk_set {
            set $s before;
            break;
            set $s after;
            return 200 "[$s]\n";
        }
        location /log {
            rewrite_log on;
            if ($arg_a ~ ^(\d+)$) { rewrite ^ /show/n$1 last; }
            rewrite ^/log/(.*)$ /show/$1?q=$arg_a;
            rewrite ^/show/(.*)$ https://example.com/$1 permanent;
        }
        location /never_set { set $nowhere x; }
        location /capset { if ($arg_a) { set $later 1; } return 200 "[$later]\n"; }
        location ~ ^/zz(?<later>x) { return 200 "zz\n"; }
        location /uninit {
            if ($arg_a) { set $u set; }
            return 200 "[$u] [$u]\n";
        }
    }
    server {
        listen 127.0.0.1:{port};
        server_name srv.test;
        rewrite_log on;
        if ($arg_r ~ ^(\w+)$) { rewrite ^ /loc/$1 last; }
        rewrite ^/srv/(.*)$ /loc/$1 last;
        rewrite ^/srvbreak/(.*)$ /loc/$1 break;
        if ($arg_s) { return 200 "server if\n"; }
        location /loc/ { return 200 "loc [$uri] [$args]\n"; }
        location / { return 200 "root [$uri]\n"; }
    }
    server {
        listen 127.0.0.1:{port};
        server_name brk.test;
        rewrite ^/a$ /b;
        break;
        rewrite ^ /never;
        location / { rewrite ^/b$ /c; return 200 "[$uri]\n"; }
    }
    server {
        listen 127.0.0.1:{port1};
        location / { return 200 "backend [$uri] [$args]\n"; }
    }
    map $uri $late { default late-map; }
}
"""

FILES = {
    "html/index.html": "index\n",
    "conf/map.inc": "~^inc(\\d)$ \"included $1\";\nplain \"plain key\";\n",
}


@pytest.fixture(scope="module")
def pair():  # type: ignore[no-untyped-def]
    """One real nginx and one engine; ``{fs}`` is a directory outside both prefixes with
    a file, a directory, an executable, symlinks to each and a dangling symlink."""
    with tempfile.TemporaryDirectory(prefix="ngx-rw-audit-") as fs:
        root = Path(fs)
        (root / "file").write_text("x")
        (root / "dir").mkdir()
        (root / "exe").write_text("#!/bin/sh\n")
        (root / "exe").chmod(0o755)
        (root / "group_x").write_text("x")
        (root / "group_x").chmod(0o654)
        (root / "link_file").symlink_to(root / "file")
        (root / "link_dir").symlink_to(root / "dir")
        (root / "dangling").symlink_to(root / "missing")
        (root / "loop").symlink_to(root / "loop")
        os.chmod(fs, 0o755)
        conf = CONF.replace("{fs}", fs)
        with Pair(conf, with_mime_types(FILES), extra_ports=1) as p:
            yield p


H = [("Host", "audit.test")]
S = [("Host", "srv.test")]


def get(target: str, headers: list[tuple[str, str]] | None = None) -> Req:
    return Req("GET", target, headers or H)


FILE_TESTS = [f"/{kind}/?p={p}" for kind in ("files", "notfiles", "dirs", "exists", "exec")
              for p in ("file", "dir", "exe", "group_x", "link_file", "link_dir",
                        "dangling", "loop", "missing", "file/sub", "")]

CASES = [
    ("maps: exact host", get("/maps?h=example.com")),
    ("maps: exact host with a trailing dot", get("/maps?h=EXAMPLE.com.")),
    ("maps: dot form, the domain itself", get("/maps?h=example.org")),
    ("maps: dot form, a subdomain", get("/maps?h=x.example.org")),
    ("maps: longest head wildcard", get("/maps?h=b.a.example.com")),
    ("maps: head wildcard", get("/maps?h=b.example.com")),
    ("maps: tail wildcard", get("/maps?h=www.example.net")),
    ("maps: the regex", get("/maps?h=b.other.test")),
    ("maps: regex with named and numbered captures", get("/maps?m=abc-1")),
    ("maps: case-insensitive regex", get("/maps?m=upper")),
    ("maps: included regex", get("/maps?m=inc7")),
    ("maps: included key", get("/maps?m=PLAIN")),
    ("maps: default with a variable", get("/maps?m=zz")),
    ("maps: exact key is caseless, regex is not", get("/maps?c=ABC")),
    ("maps: lower-case key", get("/maps?c=abc")),
    ("maps: value is a variable", get("/maps?e=one&x=X")),
    ("maps: value with two variables", get("/maps?e=two&x=X&y=Y")),
    ("maps: empty value", get("/maps?e=three")),
    ("maps: volatile", get("/volatile")),
    ("maps: an empty source is tried on no regex", get("/maps2?r=")),
    ("maps: regex captures", get("/maps2?r=z")),
    ("maps: default with captures", get("/maps2?r=zz")),
    ("maps: escaped keys", get("/maps2?b=~x")),
    ("maps: escaped default key", get("/maps2?b=default")),
    ("maps: captures of a map regex replace the request's", get("/mapcap/word?r=q")),
    ("maps: a map without a match keeps them", get("/mapcap/word?r=qq")),
    ("if =: literal", get("/eq?a=x")),
    ("if !=: quoted literal", get("/eq?a=y")),
    ("if !=: equal", get("/eq?a=x%20y")),
    ("if = between variables", get("/eqvar?a=q&b=q")),
    ("if = with a variable and text", get("/eqvar?a=qz&b=q")),
    ("if = both empty", get("/eqvar")),
    ("if = differ", get("/eqvar?a=1&b=2")),
    ("if $x: empty", get("/empty?a=")),
    ("if $x: 0", get("/empty?a=0")),
    ("if $x: 00", get("/empty?a=00")),
    ("if $x: missing", get("/empty")),
    ("if $x: value", get("/empty?a=1")),
    ("if ~: captures used after the block", get("/re/abc/42")),
    ("if ~*: captures in the block", get("/re/abc/42?q=abcdef")),
    ("if !~: captures of the earlier match", get("/re/abc/42?n=x1")),
    ("if !~*", get("/re/abc/42?n=12")),
    ("if !~*: matched, false", get("/re/abc/42?n=12&q=zz")),
    ("regex without groups keeps the captures", get("/keepcap/word?a=zz")),
    ("regex with a group replaces them", get("/keepcap/word?a=yes")),
    ("no regex matched", get("/keepcap/word")),
    ("!~ matched: captures still set", get("/negcap/word")),
    ("named capture in an if", get("/named/word")),
    ("named capture not matched", get("/named/")),
    ("if is evil: add_header in the if", get("/evil/headers?a=1")),
    ("if is evil: second if wins", get("/evil/headers?a=1&b=1")),
    ("if is evil: no if", get("/evil/headers")),
    ("if is evil: try_files not inherited", get("/evil/try?a=1")),
    ("if is evil: try_files outside the if", get("/evil/try")),
    ("if is evil: return in the if", get("/evil/ret?a=1")),
    ("if is evil: return after the if", get("/evil/ret")),
    ("if is evil: rewrite break in the if", get("/evil/break?a=1")),
    ("if is evil: rewrite break not taken", get("/evil/break")),
    ("if is evil: proxy_pass inherited", get("/evil/proxy/x?a=1")),
    ("if is evil: proxy_pass", get("/evil/proxy/x")),
    ("set: escapes and variables", get("/set?x=X")),
    ("return: code only", get("/ret/code")),
    ("return: error code only", get("/ret/403")),
    ("return: code and text", get("/ret/text")),
    ("return: bare URL", get("/ret/url?a=b")),
    ("return: 301 relative", get("/ret/rel")),
    ("return: 302 with a space", get("/ret/302")),
    ("return: 303 without a slash", get("/ret/303")),
    ("return: 307", get("/ret/307")),
    ("return: 308 absolute", get("/ret/308")),
    ("return: absolute_redirect off", get("/ret/abs_off")),
    ("return: server_name_in_redirect", get("/ret/name", [("Host", "alias.test")])),
    ("return: host with a port", get("/ret/rel", [("Host", "audit.test:81")])),
    ("return: port_in_redirect off", get("/ret/noport")),
    ("return: 200 without text", get("/ret/200empty")),
    ("return: 499", get("/ret/499")),
    ("return: 999 with text", get("/ret/999")),
    ("return: 302 empty text", get("/ret/302text")),
    ("return: 302 text from a variable", get("/ret/302text?to=/a%20b")),
    ("return: HEAD", Req("HEAD", "/ret/text", H)),
    ("rewrite last", get("/rw/last/a?k=v")),
    ("rewrite break", get("/rw/break/a?k=v")),
    ("rewrite redirect", get("/rw/redirect/a?k=v")),
    ("rewrite permanent", get("/rw/perm/a")),
    ("rewrite to http://", get("/rw/http/a?k=v")),
    ("rewrite to https:// with args and last", get("/rw/https/a?k=v")),
    ("rewrite drops args", get("/rw/noargs/a?k=v")),
    ("rewrite adds args", get("/rw/addargs/a?k=v")),
    ("rewrite adds args, none before", get("/rw/addargs/a")),
    ("rewrite redirect drops args", get("/rw/redirnoargs/a?k=v")),
    ("rewrite chain without a flag", get("/rw/chain/a")),
    ("rewrite $10 is $1 then 0", get("/rw/caps/abcdefghijk")),
    ("rewrite capture with special characters", get("/rw/last/a%3Fb%25c%23d%2F?k")),
    ("rewrite capture with a space", get("/rw/redirect/a%20b&c")),
    ("rewrite regex . does not match a newline", get("/rw/redirect/a%0d%0ab")),
    ("redirect capture with controls, UTF-8 and quotes",
     get("/rw/redirect/a%09%7f%c3%a9%22%3C")),
    ("redirect capture with UTF-8 and #, args dropped", get("/rw/redirnoargs/%E2%82%AC%23x")),
    ("absolute redirect capture with % ? &", get("/rw/http/%25%3F%26?x=%20")),
    ("a decoded ? ends the redirect's unescaping", get("/rw/redirect/%3c%3F%3c")),
    ("which characters a capture after ? escapes",
     get("/rw/argcap/%21%22%23%24%25%26%27%28%29%2A%2B%2C%2D%2E%2F%3A%3B%3C%3D%3E%40%5B%5C"
         "%5D%5E%5F%60%7B%7C%7D%7E%7F%20%01%3F")),
    ("rewrite cycle", get("/loop")),
    ("rewrite cycle with growing URI", get("/loop2")),
    ("a rewrite without a match clears the captures", get("/rwclear/word")),
    ("rewrite redirect to a relative path", get("/rwrel/a?k=v")),
    ("rewrite redirect with args of its own", get("/rwq/a/b%20c?k=v")),
    ("return 444 closes", get("/close")),
    ("set $arg_x: read before, then set", get("/setarg?x=1")),
    ("a set prefix variable read elsewhere is still the prefix's",
     get("/readarg?x=1", H + [("Foo", "f"), ("Cookie", "c=k")])),
    ("set of prefix variables", get("/sethttp?a=1")),
    ("a later named capture replaces a map, an earlier one does not", get("/clobber")),
    ("the captures of those names", get("/zclob/a/b")),
    ("set $args", get("/setargs?z=9")),
    ("set $args, then rewrite last", get("/setargs_last?z=9")),
    ("escapes in a return text, an uninitialized $x", get("/esc")),
    ("two ifs set one variable", get("/iftwice?a=1&b=1")),
    ("the second if reads it uninitialized", get("/iftwice?b=1")),
    ("location captures in set, then an if regex", get("/lc/word?a=x5")),
    ("a failed if regex clears the location's captures", get("/lc/word")),
    ("rewrite to $scheme:// redirects", get("/scheme/abc?q=1")),
    ("named capture in a rewrite", get("/named_rw/abc")),
    ("break in a server, the location's script runs", get("/a", [("Host", "brk.test")])),
    ("return 302 without a URL", get("/ret/302bare")),
    ("break in an if", get("/ifbreak?a=1")),
    ("no break in an if", get("/ifbreak")),
    ("server if with a rewrite, logged", get("/x?r=abc", S)),
    ("if is evil: root in the if", get("/evil/root/index.html?a=1")),
    ("if is evil: root outside the if", get("/evil/root/index.html")),
    ("uninitialized_variable_warn on in the if", get("/evil/uninit?a=1")),
    ("uninitialized_variable_warn off", get("/evil/uninit")),
    ("break stops the script", get("/brk")),
    ("break: set after it is skipped", get("/brk_set")),
    ("rewrite_log: if and rewrite", get("/log/p?a=12")),
    ("rewrite_log: rewrite then permanent", get("/log/p?a=x")),
    ("uninitialized variable warns once", get("/uninit")),
    ("a set variable that is also a named capture does not warn", get("/capset")),
    ("initialized variable", get("/uninit?a=1")),
    ("server rewrite last", get("/srv/a?z=1", S)),
    ("server rewrite break", get("/srvbreak/a", S)),
    ("server if", get("/x?s=1", S)),
    ("server without a match", get("/x", S)),
] + [(f"file test {t}", get(t)) for t in FILE_TESTS]


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):  # type: ignore[no-untyped-def]
    seen = pair.__dict__.setdefault("_seen", {})
    real_log = pair.real.prefix / "logs" / "error.log"
    our_log = pair.prefix / "logs" / "error.log"
    _new(real_log, seen, pair.real.prefix), _new(our_log, seen, pair.prefix)
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()
    our_lines = _new(our_log, seen, pair.prefix)
    real_lines = _new(real_log, seen, pair.real.prefix)
    if our_lines != real_lines:  # nginx may write a line after the response: look again
        time.sleep(0.1)
        real_lines += _new(real_log, seen, pair.real.prefix)
    assert our_lines == real_lines



def _server(body: str) -> str:
    return "events {}\nhttp {\nserver {\nlisten 127.0.0.1:8080;\n" + body + "\n}\n}\n"


def _location(body: str) -> str:
    return _server("location / {\n" + body + "\n}")


def _map(body: str, head: str = "map $uri $m") -> str:
    return "events {}\nhttp {\n" + head + " {\n" + body + "\n}\n}\n"


BAD = [
    ("if without parentheses", _location("if $uri { }")),
    ("if without a closing parenthesis", _location("if ($uri { }")),
    ("if with an empty condition", _location("if () { }")),
    ("if with a bare string", _location("if (abc) { }")),
    ("if with an unknown operator", _location("if ($uri == a) { }")),
    ("if with an unknown file test", _location("if (-z $uri) { }")),
    ("if with too many arguments", _location("if ($uri = a b) { }")),
    ("if with a bad regex", _location("if ($uri ~ \"(\") { }")),
    ("if with an unknown variable", _location("if ($nope) { }")),
    ("if with a $0", _location("if ($uri ~ a) { return 200 $0; }")),
    ("if with a dangling $", _location("if ($uri = $) { }")),
    ("if without a block", _location("if ($uri);")),
    ("if with no spaces around =", _location("if ($uri=x) { }")),
    ("if with a variable in braces", _location("if (${uri}) { }")),
    ("if with two variables", _location("if ($uri$args) { }")),
    ("if with a lone $", _location("if ($) { }")),
    ("if with two words", _location("if ($uri x) { }")),
    ("if with a file test and two words", _location("if (-f $uri $args) { }")),
    ("if with a long file test", _location("if (-ff $uri) { }")),
    ("if with a negated unknown file test", _location("if (!-z $uri) { }")),
    ("if with a lone (", _location("if ( ) { }")),
    ("if with ()", _location("if () { }")),
    ("if with ( and a word", _location("if ( $uri) { }")),
    ("if with spaces", _location("if ( $uri ) { }")),
    ("if with = and nothing after", _location("if ($uri = ) { }")),
    ("if with spaces inside the parentheses", _location("if ( $uri = x ) { }")),
    ("if with a test and no operand", _location("if (!-f) { }")),
    ("if with = and no right side", _location("if ($uri =) { }")),
    ("if with a quoted variable", _location("if (\"$uri\") { }")),
    ("if with a regex in quotes", _location("if ($uri ~ \"^/(a|b)\") { }")),
    ("if with a named capture", _location("if ($uri ~ (?<n>x)) { return 200 $n; }")),
    ("if with -f and a literal path", _location("if (-f /etc/passwd) { }")),
    ("if with !~* and a bad regex", _location("if ($uri !~* \"[\") { }")),
    ("if in http", "events {}\nhttp {\nif ($uri) { }\n}\n"),
    ("set in a server", _server("set $x 1;")),
    ("proxy_pass with a URI in an if", _location("if ($uri) { proxy_pass http://127.0.0.1:1/x; }")),
    ("try_files in an if", _location("if ($uri) { try_files $uri =404; }")),
    ("set of a map variable", "events {}\nhttp {\nmap $uri $m { default a; }\n"
     "server { set $m 1; }\n}\n"),
    ("set with three arguments", _location("set $x 1 2;")),
    ("set of a capture name", _location("set $1 x;")),
    ("return 0", _location("return 0;")),
    ("return 999", _location("return 999;")),
    ("return with a code and an empty text", _location("return 200 \"\";")),
    ("return of an https URL alone", _location("return https://x/$uri;")),
    ("return of a variable alone", _location("return $uri;")),
    ("rewrite with an empty replacement", _location("rewrite ^ \"\";")),
    ("rewrite with an empty replacement and a bad regex", _location("rewrite ( \"\";")),
    ("rewrite with a bad flag and an unknown variable", _location("rewrite ^ /$nope lst;")),
    ("if with a variable name in capitals", _location("if ($URI=X) { }")),
    ("rewrite with four arguments", _location("rewrite ^ /x last y;")),
    ("rewrite with a capture past the regex's", _location("rewrite ^(a) /$2;")),
    ("set without $", _location("set x 1;")),
    ("set of a built-in variable", _location("set $uri 1;")),
    ("set of $args", _location("set $args 1;")),
    ("set with an unknown variable", _location("set $x $nope;")),
    ("set with an unclosed brace", _location("set $x ${uri;")),
    ("set with one argument", _location("set $x;")),
    ("return without arguments", _location("return;")),
    ("return with a bad code", _location("return abc;")),
    ("return with a bad code and text", _location("return abc def;")),
    ("return 1000", _location("return 1000;")),
    ("return with a negative code", _location("return -1;")),
    ("return with three arguments", _location("return 200 a b;")),
    ("return a relative URL alone", _location("return /x;")),
    ("return a $scheme URL alone", _location("return $scheme://x;")),
    ("rewrite with a bad flag", _location("rewrite ^ /x lst;")),
    ("rewrite with a bad regex", _location("rewrite ( /x;")),
    ("rewrite with one argument", _location("rewrite ^;")),
    ("rewrite with an unknown variable", _location("rewrite ^ /$nope;")),
    ("break with an argument", _location("break now;")),
    ("rewrite_log with a bad value", _location("rewrite_log yes;")),
    ("uninitialized_variable_warn with a bad value",
     _location("uninitialized_variable_warn maybe;")),
    ("rewrite in http", "events {}\nhttp {\nrewrite ^ /x;\n}\n"),
    ("map with one argument", "events {}\nhttp {\nmap $uri { default a; }\n}\n"),
    ("map without $", _map("default a;", "map $uri m")),
    ("map of an unknown source", _map("default a;", "map $nope $m")),
    ("map with three values", _map("a b c;")),
    ("map with a key alone", _map("a;")),
    ("map with two defaults", _map("default a;\ndefault b;")),
    ("map with a duplicate key", _map("a x;\na y;")),
    ("map with a duplicate key in another case", _map("Ab x;\naB y;")),
    ("map with a bad regex", _map("~( x;")),
    ("map with a value's unknown variable", _map("a $nope;")),
    ("map with hostnames and a bad wildcard", _map("hostnames;\nw*w x;")),
    ("map with hostnames and a duplicate wildcard", _map("hostnames;\n*.a.b x;\n*.a.b y;")),
    ("map with hostnames: dot and star forms", _map("hostnames;\n.a.b x;\n*.a.b y;")),
    ("map with a missing include", _map("include nope.inc;")),
    ("map_hash_max_size with a bad value", "events {}\nhttp {\nmap_hash_max_size x;\n}\n"),
    ("map_hash_bucket_size with a bad value",
     "events {}\nhttp {\nmap_hash_bucket_size 1x;\n}\n"),
    ("map_hash_bucket_size too small",
     "events {}\nhttp {\nmap_hash_bucket_size 1;\nmap $uri $m { abcdefghijkl x; }\n}\n"),
    ("map_hash_max_size too small",
     "events {}\nhttp {\nmap_hash_max_size 1;\nmap $uri $m { a x; b y; c z; }\n}\n"),
    ("map in a server", _server("map $uri $m { }")),
    ("map with an escaped default key", _map("\\default x;\ndefault y;\nDefault z;")),
    ("map with hostnames: double dot", _map("hostnames;\na..b x;")),
    ("map with hostnames: dot form after the name", _map("hostnames;\na.b x;\n.A.b y;")),
    ("map with hostnames: name after the dot form", _map("hostnames;\n.a.b x;\nA.b y;")),
    ("map with hostnames: a lone star", _map("hostnames;\n* x;")),
    ("map with hostnames: two stars", _map("hostnames;\n*.a.* x;")),
    ("map with hostnames: tail conflict in another case", _map("hostnames;\nwww.A.* x;\nwww.a.* y;")),
    ("map_hash_max_size 0", "events {}\nhttp {\nmap_hash_max_size 0;\nmap $uri $m { a b; }\n}\n"),
    ("map_hash_max_size 0, wildcard only",
     "events {}\nhttp {\nmap_hash_max_size 0;\nmap $uri $m { hostnames; *.a.b c; }\n}\n"),
    ("map_hash_max_size 0 without keys",
     "events {}\nhttp {\nmap_hash_max_size 0;\nmap $uri $m { default b; }\n}\n"),
    ("map_hash_bucket_size 0", "events {}\nhttp {\nmap_hash_bucket_size 0;\nmap $uri $m { a b; }\n}\n"),
    ("map_hash_bucket_size too large",
     "events {}\nhttp {\nmap_hash_bucket_size 70000;\nmap $uri $m { a b; }\n}\n"),
    ("map key too long", _map("a" * 47 + " x;")),
    ("map key just fits", _map("a" * 46 + " x;")),
    ("map_hash_bucket_size rounded up",
     "events {}\nhttp {\nmap_hash_bucket_size 65;\nmap $uri $m {\n" + "a" * 111 + " x; }\n}\n"),
    ("map wildcard label too long", _map("hostnames;\n*." + "a" * 47 + ".b x;")),
    ("map wildcard label fits", _map("hostnames;\n" + "a" * 46 + ".b.* x;")),
    ("map_hash_max_size after a map",
     "events {}\nhttp {\nmap $uri $m { default b; }\nmap_hash_max_size 10;\n}\n"),
    ("map_hash_bucket_size after a map",
     "events {}\nhttp {\nmap $uri $m { a b; }\nmap_hash_bucket_size 128;\n}\n"),
    ("volatile with an argument", _map("volatile 1;")),
    ("hostnames with an argument", _map("hostnames 1;")),
]


@requires_nginx
@pytest.mark.parametrize("conf", [c[1] for c in BAD], ids=[c[0] for c in BAD])
def test_config_errors_as_nginx(tmp_path, conf):  # type: ignore[no-untyped-def]
    write_prefix(tmp_path, conf)
    assert engine_load_error(tmp_path) == first_emerg(nginx_test(tmp_path).output)


def _keys(n: int, form: str = "k{}") -> str:
    return "\n".join(f"{form.format(i)} v;" for i in range(n))


HASH_WARNINGS = [
    ("map_hash_max_size too small", "map_hash_max_size 1;", _keys(9)),
    ("map_hash_max_size small but enough", "map_hash_max_size 5;", _keys(9)),
    ("map_hash_max_size just too small", "map_hash_max_size 3;", _keys(40, "key{}")),
    ("map_hash_max_size fits by hashing", "map_hash_max_size 20;", _keys(40, "key{}")),
    ("wildcard levels", "map_hash_max_size 1;",
     "hostnames;\n" + _keys(9, "*.w{}.test") + "\n" + _keys(9, "www.t{}.*")),
    ("two maps, the second one too big", "map_hash_max_size 2;",
     "a x;\n}\nmap $args $n {\n" + _keys(12)),
    ("defaults", "", _keys(300, "name-{}.example.com")),
]


@requires_nginx
@pytest.mark.parametrize("sizes,keys", [c[1:] for c in HASH_WARNINGS],
                         ids=[c[0] for c in HASH_WARNINGS])
def test_hash_warnings_as_nginx(tmp_path, sizes, keys):  # type: ignore[no-untyped-def]
    """nginx only warns when no table up to map_hash_max_size fits the names."""
    write_prefix(tmp_path, f"events {{}}\nhttp {{\n{sizes}\nmap $uri $m {{\n{keys}\n}}\n}}\n")
    real = nginx_test(tmp_path)
    assert real.returncode == 0, real.output
    err = io.StringIO()
    assert run_test(["-t", "-p", str(tmp_path), "-c", "conf/nginx.conf"],
                    out=io.StringIO(), err=err) == 0, err.getvalue()
    assert _warnings(err.getvalue(), tmp_path) == _warnings(real.output, tmp_path)
