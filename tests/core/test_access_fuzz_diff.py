"""Seeded randomized differential test of access control against real nginx.

One real nginx serves ``SERVERS`` generated servers (``server_name aN.ac``), each with
locations ``/aNlK/`` holding a random mix of: ``allow``/``deny`` lists (addresses, CIDRs
with host bits set, ``all``, IPv6, IPv4-mapped, ``unix:``) in the server and the
location (inheritance), ``limit_except`` blocks (GET implies HEAD) holding rules or an
``auth_basic``; ``auth_basic`` (realms literal, empty, quoted, from variables, ``off``)
with a password file in every format nginx reads (or a missing one) and a nested
location turning it ``off``; ``satisfy any|all``; ``internal``; ``valid_referers``
with ``$invalid_referer``; ``secure_link``/``secure_link_md5`` (expiry far in the past
or future) and ``secure_link_secret``; ``limit_req`` with a rate so low that every
request after the first of a URI is refused (``limit_req_status``, ``limit_req_dry_run``)
and ``limit_conn`` (sequential requests always pass). The client address comes from
X-Real-IP (realip trusts 127.0.0.1), so the rules see IPv4, IPv6 and odd addresses.
Random methods, Authorization headers (good, wrong, malformed, unicode) and Referer
headers go to both; status, body, headers (WWW-Authenticate, and an ``X-Info`` header
showing the modules' variables) and the error-log lines (level info) must match. A
divergence prints the seed and the server block; set ACCESS_FUZZ_SEED to explore other
seeds. Bad directive values go through ``nginx -t`` (errors and warnings).
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import re
import warnings
from pathlib import Path

import pytest

from engine import Engine
from engine.modules.auth_basic import apr1
from tests.differential import Req
from tests.fuzzing import assert_case_count, assert_group_as_nginx, config_verdicts, pair_fixture
from tests.oracle import nginx_test, requires_nginx, write_prefix

with warnings.catch_warnings():  # deprecated since 3.11; still the libc crypt(3) nginx uses
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

SEED = int(os.environ.get("ACCESS_FUZZ_SEED", "20261127"))
SERVERS = 10
LOCATIONS = 5
FUTURE, PAST = 4000000000, 1000000000


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


#: user -> (the line's password field, the right password).
USERS = {
    "plain": ("{PLAIN}pw1", "pw1"),
    "sha": ("{SHA}" + _b64(hashlib.sha1(b"pw2").digest()), "pw2"),
    "ssha": ("{SSHA}" + _b64(hashlib.sha1(b"pw3salt9").digest() + b"salt9"), "pw3"),
    "apr": (apr1(b"pw4", b"$apr1$Sa1tSa1t$").decode(), "pw4"),
    "des": (crypt.crypt("pw5", "xy"), "pw5"),
    "md5": (crypt.crypt("pw6", "$1$abcdefgh$"), "pw6"),
    "s256": (crypt.crypt("pw7", "$5$saltsalt$"), "pw7"),
    "s512": (crypt.crypt("pw8", "$6$saltsalt$"), "pw8"),
    "ütf": ("{PLAIN}ä", "ä"),
    "blank": ("", ""),
}
PASSWD = "\n".join(["# comment", "", "#plain:{PLAIN}commented", "broken line without colon"]
                   + [f"{u}:{f}" for u, (f, _) in USERS.items()]
                   + ["crlf:{PLAIN}pw9\r", "extra:{PLAIN}pw10:a comment", "bad:*0",
                      "unknown:{MD5}x", "pre", "hidden:{PLAIN}swallowed", "last:{PLAIN}end"])


def _basic(text: str) -> str:
    return "Basic " + _b64(text.encode())


AUTHS = [None, None] + [_basic(f"{u}:{pw}") for u, (_, pw) in USERS.items()] + [
    _basic("plain:wrong"), _basic("s512:nope"), _basic("nobody:x"), _basic(":pw1"),
    _basic("plain"), _basic("crlf:pw9"), _basic("extra:pw10"), _basic("bad:x"),
    _basic("unknown:x"), _basic("hidden:swallowed"), _basic("pre:x"), _basic("last:end"),
    "Bearer abc", "Basic !!!", "basic " + _b64(b"plain:pw1"), "Basic  " + _b64(b"sha:pw2"),
    "Basic", "Basic " + _b64(b"plain:pw1").rstrip("="), "Basic cGxhaW46cHcx=junk",
    "BASIC " + _b64(b"des:pw5"), "Digest x=1", "Basic " + _b64("ü:x".encode()),
    "Basic " + _b64(b"plain:pw1\0tail"), "Basic " + _b64(b"\xff\xfe:x"),
    "Basic " + _b64(b'q"u:x'), "Basic " + _b64(b"long" * 50 + b":x"), "Basic " + _b64(b"a:b:c"),
]
ADDRS = [None, None, "10.0.0.1", "10.1.2.3", "192.168.1.9", "::1", "2001:db8::5",
         "::ffff:10.0.0.1", "127.0.0.1", "not-an-address", "172.16.0.1", "2001:db9::1",
         "10.0.0.1:8080", "[::1]:80", "::ffff:192.168.1.9", "010.0.0.1", "::"]
REFERERS = [None, None, "", "http://good.test/", "https://sub.example.com/x",
            "http://example.com", "http://www.example.org/", "http://evil.test/",
            "ftp://good.test/", "http://a", "HTTP://GOOD.TEST/path", "http://{host}/page",
            "http://good.test:8080/gal/x", "http://gal.test/gal/x", "http://gal.test/other", "blocked-by-proxy",
            "http://" + "h" * 300 + "/", "https://cdn.test/img.png", "http://www.example.co/",
            "http://GOOD.test:80", "https://good.test", "http://good.test?x", "http://.example.org/",
            "http://example.org/", "http://x.example.com.evil/", "http://www.example.com"]
RULE_ADDRS = ["all", "10.0.0.0/8", "10.1.2.3/16", "10.0.0.1", "192.168.0.0/16",
              "::1", "2001:db8::/32", "::/0", "0.0.0.0/0", "unix:", "127.0.0.1",
              "::ffff:10.0.0.0/104", "010.000.000.001"]
REALMS = ['"Restricted"', '"realm $arg_r"', "off", "$arg_realm", '""', '"q\\"uote"',
          "'two words'"]
USER_FILES = ["htpasswd"] * 5 + ["nosuch.htpasswd", "$arg_f", "/tmp/../$arg_f"]
VALID = ["none", "blocked", "server_names", "*.example.com", "example.*", "~\\.test$",
         "good.test", "gal.test/gal/", ".example.org", "~^cdn\\.", "www.example.*"]
#: Rewrite-phase lines: they run before the access checks (or not at all in a
#: ``limit_except`` block, which has no rewrite code of its own).
IFS = ['if ($arg_i) { set $iv 1; }', 'if ($arg_i) { return 200 "if\\n"; }',
       'if ($arg_i) { rewrite ^ {p}open/f.txt last; }', 'return 200 "ret $remote_user\\n";',
       'if ($arg_i = 2) { rewrite ^ {p}f.txt break; }']
ERROR_PAGES = ["error_page 401 403 /a{n}err/e.html;", "error_page 403 =200 /a{n}err/e.html;",
               "error_page 401 = /a{n}l0/f.txt;", "error_page 403 http://ex.test/denied;",
               "error_page 404 410 /a{n}err/e.html;", "error_page 503 429 =418 /a{n}err/e.html;"]
METHODS = ["GET"] * 6 + ["HEAD", "POST", "PUT", "DELETE", "PROPFIND", "FOO"]
INFO = ('add_header X-Info "u=$remote_user r=$invalid_referer s=$secure_link '
        'e=$secure_link_expires q=$limit_req_status c=$limit_conn_status" always;')


def _rules(rng: random.Random, most: int = 3) -> list[str]:
    rules = [f"{rng.choice(['allow', 'deny'])} {rng.choice(RULE_ADDRS)};"
             for _ in range(rng.randint(1, most))]
    if rng.random() < 0.3:
        rules.append(rng.choice(["deny all;", "allow all;"]))
    return rules


def _auth(rng: random.Random) -> list[str]:
    return [f"auth_basic {rng.choice(REALMS)};", f"auth_basic_user_file {rng.choice(USER_FILES)};"]


def _md5_link(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.md5(text.encode()).digest()).decode().rstrip("=")


def _location(rng: random.Random, path: str) -> tuple[list[str], str]:
    """A location's lines and the kind of secure link it checks ("", "md5", "exp",
    "secret")."""
    body: list[str] = []
    if rng.random() < 0.5:
        body += _rules(rng)
    if rng.random() < 0.5:
        body += _auth(rng)
    if rng.random() < 0.35:
        body.append(f"satisfy {rng.choice(['any', 'all'])};")
    if rng.random() < 0.25:
        methods = " ".join(rng.sample(["GET", "POST", "PUT", "DELETE", "PROPFIND", "get"],
                                      rng.randint(1, 2)))
        inner = rng.choice([["deny all;"], _rules(rng, 2), _auth(rng), ["allow all;"]])
        body.append(f"limit_except {methods} {{ {' '.join(inner)} }}")
    if rng.random() < 0.08:
        body.append("internal;")
    if rng.random() < 0.2:
        body.append(rng.choice(IFS).replace("{p}", path))
    if rng.random() < 0.3:
        valid = rng.sample(VALID, rng.randint(1, 4))
        if all(v in ("none", "blocked") or v[0] == "~" for v in valid):
            valid.append("good.test")  # else nginx refuses "none" or "blocked" alone
        body.append(f"valid_referers {' '.join(valid)};")
        if rng.random() < 0.6:
            body.append('if ($invalid_referer) { return 403 "bad referer\\n"; }')
    link = ""
    roll = rng.random()
    if roll < 0.12:
        link = "exp"
        body += ["secure_link $arg_md5,$arg_expires;",
                 'secure_link_md5 "$secure_link_expires$uri sec";',
                 'if ($secure_link = "") { return 403; }',
                 'if ($secure_link = "0") { return 410; }']
    elif roll < 0.2:
        link = "md5"
        body += ["secure_link $arg_md5;", 'secure_link_md5 "$uri sec";',
                 'if ($secure_link = "") { return 403; }']
    elif roll < 0.28:
        link = "secret"
        body += ["secure_link_secret sekrit;", 'if ($secure_link = "") { return 403; }']
    if rng.random() < 0.1:
        body.append("limit_req zone=lk burst=1 nodelay;")
    if rng.random() < 0.2:
        body.append("limit_req zone=lr;")
        if rng.random() < 0.5:
            body.append(f"limit_req_status {rng.choice([429, 503, 444])};")
        if rng.random() < 0.3:
            body.append("limit_req_dry_run on;")
    if rng.random() < 0.15:
        body.append("limit_conn lc 1;")
        if rng.random() < 0.5:
            body.append("limit_conn_status 429;")
        if rng.random() < 0.3:
            body.append("limit_conn_dry_run on;")
    if rng.random() < 0.3:
        inner = rng.choice([["auth_basic off;"], ["allow all;"], _rules(rng, 2),
                            ["satisfy any;"], ["auth_basic \"inner\";"]])
        body.append(f"location {path}open/ {{ {' '.join(inner)} }}")
    return body, link


def _targets(rng: random.Random, path: str, link: str) -> list[str]:
    """Request targets for a location: its file, its nested location, secure links."""
    out = [path, path + "f.txt", path + "open/f.txt", path + "?k=1", path + "f.txt?k=1",
           path + "?i=1", path + "f.txt?i=2", path + "open/?i=1", path + "f.txt?r=x&realm=off&f=nosuch",
           path + "?realm=Area&r=1&f=htpasswd", path + "nosuch"]
    uri = path + "f.txt"
    if link == "exp":
        out += [f"{uri}?md5={_md5_link(f'{FUTURE}{uri} sec')}&expires={FUTURE}",
                f"{uri}?md5={_md5_link(f'{PAST}{uri} sec')}&expires={PAST}",
                f"{uri}?md5={_md5_link(f'{FUTURE}{uri} sec')}&expires={FUTURE + 1}",
                f"{uri}?md5={_md5_link(f'{uri} sec')}", f"{uri}?md5=x&expires=abc",
                f"{uri}?md5={_md5_link(f'0{uri} sec')}&expires=0"]
    elif link == "md5":
        good = _md5_link(f"{uri} sec")
        out += [f"{uri}?md5={good}", f"{uri}?md5={good}==", f"{uri}?md5={good}x",
                f"{uri}?md5={good[:-1]}", f"{uri}?md5=", f"{uri}?md5={good},{FUTURE}"]
    elif link == "secret":
        good = hashlib.md5(b"f.txt" + b"sekrit").hexdigest()
        out += [f"{path}{good}/f.txt", f"{path}{good.upper()}/f.txt", f"{path}{good}/",
                f"{path}{'0' * 32}/f.txt", f"{path}{good}/f.txt?a=1", f"{path}{good[:-1]}/f.txt"]
    return out


def gen_server(rng: random.Random, n: int, files: dict[str, str]) -> tuple[str, list[Req]]:
    """One server block with its requests; the files it serves go into ``files``."""
    host = f"a{n}.ac"
    lines = ["server {", "    listen 127.0.0.1:{port};", f"    server_name {host} *.w{n}.ac;",
             f"    {INFO}"]
    if rng.random() < 0.4:
        lines += ["    " + r for r in _rules(rng)]
    if rng.random() < 0.3:
        lines += ["    " + a for a in _auth(rng)]
    if rng.random() < 0.2:
        lines.append(f"    satisfy {rng.choice(['any', 'all'])};")
    if rng.random() < 0.2:
        lines.append(f"    valid_referers none {rng.choice(VALID[2:5])};")
    files[f"html/a{n}err/e.html"] = "error page\n"
    lines.append(f"    location /a{n}rw/ {{ rewrite ^ /a{n}err/e.html last; }}")
    lines.append(f"    location /a{n}tf/ {{ try_files $uri /a{n}err/e.html; }}")
    lines.append(f"    location /a{n}err/ {{ {rng.choice(['internal;', ''])} }}")
    if rng.random() < 0.35:
        lines.append("    " + rng.choice(ERROR_PAGES).format(n=n))
    reqs = []
    for k in range(LOCATIONS):
        path = f"/a{n}l{k}/"
        for name in ("index.html", "f.txt", "open/f.txt"):
            files[f"html{path}{name}"] = f"{path}{name}\n"
        body, link = _location(rng, path)
        lines.append(f"    location {path} {{\n        " + "\n        ".join(body) + "\n    }")
        for target in rng.sample(_targets(rng, path, link), 6 if not link else 9):
            heads = [("Host", host)]
            for name, pool in (("X-Real-IP", ADDRS), ("Authorization", AUTHS),
                               ("Referer", REFERERS)):
                value = rng.choice(pool)
                if value is not None:
                    heads.append((name, value.replace("{host}", host)))
            if rng.random() < 0.05:  # nginx refuses a second Authorization header
                heads.append(("Authorization", _basic("plain:pw1")))
            version = "HTTP/1.0" if rng.random() < 0.1 else "HTTP/1.1"
            reqs.append(Req(rng.choice(METHODS), target, heads, version=version))
        reqs.append(Req("GET", f"/a{n}err/e.html", [("Host", host)]))
    reqs += [Req("GET", f"/a{n}{t}/x", [("Host", host)]) for t in ("rw", "tf")]
    lines.append("}\n")
    return "\n".join(lines), reqs


HTTP = """error_log logs/error.log info;
events {}
http {
    access_log off;
    root html;
    set_real_ip_from 127.0.0.1;
    limit_req_zone $uri zone=lr:1m rate=1r/m;
    limit_req_zone $arg_k zone=lk:1m rate=1r/m;
    limit_conn_zone $server_name zone=lc:1m;
"""


def build() -> tuple[str, dict[str, str], list[tuple[str, str, list[Req]]]]:
    """The config, its files and the groups of cases (label, server block, requests)."""
    rng = random.Random(SEED)
    files: dict[str, str] = {"conf/htpasswd": PASSWD}
    groups = []
    for n in range(SERVERS):
        block, reqs = gen_server(rng, n, files)
        groups.append((f"server-{n}", block, reqs))
    conf = HTTP + "".join(g[1] for g in groups) + "}\n"
    return conf, files, groups


CONF, FILES, GROUPS = build()

fuzz_pair = pair_fixture(CONF, FILES)


def test_enough_cases() -> None:
    assert_case_count(GROUPS, 200, 800)


#: ``excess: 0.984``: how much of the bucket drained depends on the milliseconds
#: between two requests, which differ between the two servers.
_EXCESS = re.compile(r"excess: \d+\.\d+")


def _steady(entries: list[tuple]) -> list[tuple]:
    return [tuple(_EXCESS.sub("excess: N", str(part)) for part in e) for e in entries]


@requires_nginx
@pytest.mark.parametrize("label,block,reqs", GROUPS, ids=[g[0] for g in GROUPS])
def test_same_as_nginx(fuzz_pair, label, block, reqs) -> None:  # type: ignore[no-untyped-def]
    assert_group_as_nginx(fuzz_pair, SEED, label, block, reqs, logs=_steady,
                          describe=lambda r: f"{r.method} {r.target} {r.headers[1:]}")


# --- bad configurations --------------------------------------------------------------------

#: (where, body): ``L`` inside a location, ``S`` in the server, ``H`` in http.
BAD = [
    ("L", "allow;"), ("L", "allow a b;"), ("L", "allow 10.0.0.0/33;"), ("L", "allow 1.2.3.4/;"),
    ("L", "deny ::/129;"), ("L", "allow 255.255.255.255;"), ("L", "allow fe80::1%eth0;"),
    ("L", "allow 10.0.0.0/255.0.0.0;"), ("L", "allow localhost;"), ("L", "deny unix;"),
    ("L", "deny UNIX:;"), ("L", "allow ALL;"), ("L", 'allow "";'), ("L", "deny 1.2.3;"),
    ("L", "allow 1.2.3.4.5;"), ("L", "deny 2001:db8::/-1;"), ("L", "allow 1.2.3.4/+8;"),
    ("L", "if ($arg_a) { allow all; }"), ("L", "allow 1::2::3;"), ("L", "deny ::ffff:1.2.3.4/129;"),
    ("L", "satisfy maybe;"), ("L", "satisfy any all;"), ("L", "auth_basic;"),
    ("L", "auth_basic a b;"), ("L", "auth_basic_user_file;"), ("L", "auth_basic_user_file a b;"),
    ("L", 'auth_basic "${x";'), ("L", "auth_basic_user_file $nosuchvar;"),
    ("L", "limit_except { deny all; }"), ("L", "limit_except FOO { deny all; }"),
    ("L", "limit_except GET { deny all; } limit_except POST { deny all; }"),
    ("L", "limit_except GET;"), ("L", "limit_except GET { internal; }"), ("S", "limit_except GET { }"),
    ("L", "limit_except GET { limit_except POST { } }"), ("L", "internal on;"), ("S", "internal;"),
    ("L", 'valid_referers "";'), ("L", "valid_referers ~;"), ("L", "valid_referers a*b;"),
    ("L", "valid_referers *.x.com *.x.com;"), ("L", "valid_referers none;"),
    ("L", "valid_referers ~(;"), ("L", "valid_referers x..y;"), ("L", "valid_referers blocked ~a;"),
    ("L", "secure_link a b;"), ("L", "secure_link_md5;"), ("L", "secure_link_secret a b;"),
    ("L", "secure_link $arg_a; secure_link_secret s;"), ("L", 'secure_link "$x{";'),
    ("L", "limit_req zone=nosuch;"), ("L", "limit_req zone=lr burst=0;"),
    ("L", "limit_req zone=lr burst=x;"), ("L", "limit_req zone=lr delay=0;"), ("L", "limit_req;"),
    ("L", "limit_req burst=1;"), ("L", "limit_req zone=lr zone=lr;"),
    ("L", "limit_req zone=lr; limit_req zone=lr;"), ("L", "limit_req zone=lr nodelay x;"),
    ("L", "limit_req_status 399;"), ("L", "limit_req_status 600;"), ("L", "limit_req_status x;"),
    ("L", "limit_req_dry_run maybe;"), ("L", "limit_req_log_level debug;"),
    ("H", "limit_req_zone $uri zone=z2:1m rate=0r/s;"), ("H", "limit_req_zone $uri zone=z2:1m;"),
    ("H", "limit_req_zone $uri rate=1r/s;"), ("H", "limit_req_zone $uri zone=z2:1k rate=1r/s;"),
    ("H", "limit_req_zone $uri zone=z2:1m rate=1r/h;"), ("H", "limit_req_zone $uri zone=lc:1m rate=1r/s;"),
    ("H", "limit_req_zone $host zone=lr:1m rate=1r/s;"), ("H", "limit_req_zone zone=z2:1m rate=1r/s;"),
    ("L", "limit_conn lc 0;"), ("L", "limit_conn lc x;"), ("L", "limit_conn nosuch 1;"),
    ("L", "limit_conn lc;"), ("L", "limit_conn lc 1; limit_conn lc 2;"), ("L", "limit_conn_status 700;"),
    ("L", "limit_conn_dry_run 1;"), ("L", "limit_conn_log_level crit;"),
    ("H", "limit_conn_zone $uri zone=lc:2m;"), ("H", "limit_conn_zone $uri zone=z3;"),
    ("H", "limit_conn_zone $uri zone=z3:0;"), ("H", "limit_conn_zone $uri zone=lr:1m;"),
    # accepted by nginx (the engine once refused the first two)
    ("L", "allow unix:; deny all;"), ("L", "allow 010.000.000.001; deny 0:0::0:1/128;"),
    ("L", "limit_except get post { deny all; }"), ("L", "satisfy ANY;"),
]
#: Accepted, with nginx's warnings (compared line for line).
WARNED = ["allow 10.1.2.3/8;", "deny ::1/64;", "allow 10.0.0.1/0; deny 2001:db8::1/32;",
          "allow 127.0.0.1/31; allow 010.1.1.1/8;", "deny ::ffff:10.1.2.3/100;"]


def _conf(where: str, body: str) -> str:
    loc, srv, http = (body, "", "") if where == "L" else (("", body, "") if where == "S"
                                                          else ("", "", body))
    return (HTTP.replace("error_log logs/error.log info;\n", "") + f"    {http}\n"
            f"    server {{\n        listen 127.0.0.1:8080;\n        {srv}\n"
            f"        location / {{\n            {loc}\n        }}\n    }}\n}}\n")


@requires_nginx
@pytest.mark.parametrize("where,body", BAD, ids=[f"bad-{i}" for i in range(len(BAD))])
def test_same_config_verdict_as_nginx(tmp_path: Path, where: str, body: str) -> None:
    conf = _conf(where, body)
    ours, real = config_verdicts(tmp_path, conf, {"conf/htpasswd": PASSWD})
    assert ours == real, conf


@requires_nginx
@pytest.mark.parametrize("body", WARNED, ids=[f"warn-{i}" for i in range(len(WARNED))])
def test_same_config_warnings_as_nginx(tmp_path: Path, body: str) -> None:
    write_prefix(tmp_path, _conf("L", body))
    output = nginx_test(tmp_path).output.replace(str(tmp_path), "{prefix}")
    theirs = re.findall(r"\[warn\] \d+#\d+: (.*)", output)
    engine = Engine.load(str(tmp_path / "conf/nginx.conf"), prefix=str(tmp_path) + "/")
    ours = [f"{msg} in {file}:{line}".replace(str(tmp_path), "{prefix}")
            for msg, file, line in engine.http.services.get("config_warnings", [])]
    assert theirs and ours == theirs
