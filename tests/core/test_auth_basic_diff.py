"""ngx_http_auth_basic_module against real nginx: the challenge and its realm (empty,
quoted, from variables, ``off``), every password scheme nginx knows ({PLAIN}, {SHA},
{SSHA}, $apr1$ and the system crypt(3)), the password file scanner's rules (comments,
CR LF, extra fields, a line that is a bare user name), malformed Authorization headers,
missing or unreadable files, ``satisfy any|all`` with allow/deny and Lua, ``error_page
401``, ``limit_except``, inheritance, ``$remote_user``; and the error-log lines, line for
line. Config errors go through ``nginx -t``."""

from __future__ import annotations

import base64
import hashlib
import re
import time
import warnings
from pathlib import Path

import pytest

from engine import HttpRequest
from tests.differential import Req, engine_load_error
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix

with warnings.catch_warnings():  # deprecated since 3.11; still the libc crypt(3) nginx uses
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt


def _sha(pw: bytes) -> str:
    return "{SHA}" + base64.b64encode(hashlib.sha1(pw).digest()).decode()


def _ssha(pw: bytes, salt: bytes) -> str:
    return "{SSHA}" + base64.b64encode(hashlib.sha1(pw + salt).digest() + salt).decode()


PASSWD = "\n".join([
    "# a comment line",
    "#alice:{PLAIN}commented",
    "",
    " alice:{PLAIN}spaced",
    "alice:{PLAIN}secret",
    "alicex:{PLAIN}other",
    "bob:{PLAIN}pw:a comment field",
    "cr:{PLAIN}crpw\r",
    "empty:",
    "nocolon",
    f"sha:{_sha(b's1')}",
    f"ssha:{_ssha(b's2', b'NaCl1234')}",
    f"sshalong:{_ssha(b's2', b'a-salt-longer-than-twenty-bytes')}",
    f"c6:{crypt.crypt('s3', '$6$saltsalt$')}",
    f"c6utf8:{crypt.crypt('pässwörd', '$6$saltsalt$')}",
    f"c1:{crypt.crypt('s4', '$1$abcdefgh$')}",
    "été:{PLAIN}é",
    f"des:{crypt.crypt('s5', 'ab')}",
    # Apache MD5, checked against `openssl passwd -apr1` and the oracle
    "apr:$apr1$xyz12345$yrewLosDGP3RO1FpHzeoy.",
    "apr2:$apr1$ab$SRouf4pjQnetr8IU8cidg0",
    "aprlong:$apr1$12345678$H3p2lrtTIDw4AwQOVAxlY/",
    "aprempty:$apr1$zz$j2/RZcZLBHtY4Hv3/anFc1",
    "bad:*0",
    "unknown:{MD5}abc",
    "sshabad:{SSHA}!!!",
    "sshaempty:{SSHA}",
    # a bare prefix of "carol:" makes nginx's scanner skip the next line as well
    "carol",
    "carol:{PLAIN}hidden",
    "dave:{PLAIN}seen",
    "ne",
    "wl:{PLAIN}split",
    "last:{PLAIN}end",
])

CONF = r"""
error_log logs/error.log info;
events {}
http {
    access_log off;
    root html;
    auth_basic_user_file htpasswd;
    server {
        listen 127.0.0.1:{port};
        auth_basic "Zone 1";
        add_header X-User "[$remote_user]" always;
        location / { }
        location /off/ { auth_basic off; }
        location /empty/ { auth_basic ""; }
        location /quote/ { auth_basic 'say "hi"'; }
        location /var/ { auth_basic "r $arg_r"; auth_basic_user_file $arg_f; }
        location /missing/ { auth_basic_user_file nothere; }
        location /dir/ { auth_basic_user_file /tmp; }
        location /blank/ { auth_basic_user_file ""; }
        location /noprefix/ { auth_basic_user_file conf/htpasswd; }
        location /abs/ { auth_basic_user_file {prefix}/conf/htpasswd; }
        location /anydeny/ { satisfy any; deny all; }
        location /anyallow/ { satisfy any; allow all; }
        location /anymissing/ { satisfy any; deny all; auth_basic_user_file nothere; }
        location /anydir/ { satisfy any; deny all; auth_basic_user_file /tmp; }
        location /alldeny/ { deny all; }
        location /allallow/ { allow all; }
        location /luaok/ { satisfy any; access_by_lua_block { ngx.exit(ngx.OK) } }
        location /lua403/ { satisfy any; access_by_lua_block { ngx.exit(403) } }
        location /allluaok/ { access_by_lua_block { ngx.exit(ngx.OK) } }
        location /ep/ { error_page 401 /open/e.html; }
        location /eptwice/ { error_page 401 /ep401.html; }
        location /open/ { auth_basic off; }
        location /le/ { auth_basic off; limit_except GET { auth_basic "le"; } }
        location /noyet/ { auth_basic "lone"; auth_basic_user_file nothere; }
        location /ret/ { return 200 "user=$remote_user\n"; }
    }
}
"""

FILES = {"conf/htpasswd": PASSWD + "\n", "html/index.html": "index\n",
         "html/ep401.html": "custom\n", "html/open/e.html": "open page\n"}
for _d in ("off", "empty", "quote", "var", "missing", "dir", "blank", "noprefix", "abs",
           "anydeny", "anyallow", "anymissing", "anydir", "alldeny", "allallow", "luaok",
           "lua403", "allluaok", "ep", "eptwice", "le", "noyet"):
    FILES[f"html/{_d}/index.html"] = f"{_d}\n"


def auth(target: str, user: bytes | None = None, raw: str | None = None,
         method: str = "GET") -> Req:
    """A request with ``Authorization: Basic base64(user)``, or the raw header value."""
    headers = [("Host", "auth.test")]
    if user is not None:
        raw = "Basic " + base64.b64encode(user).decode()
    if raw is not None:
        headers.append(("Authorization", raw))
    return Req(method, target, headers)


A = b"alice:secret"
CASES = [
    ("no credentials", auth("/")),
    ("plain ok", auth("/", A)),
    ("plain mismatch", auth("/", b"alice:nope")),
    ("user not found", auth("/", b"zoe:x")),
    ("user with a leading space", auth("/", b" alice:spaced")),
    ("commented user", auth("/", b"#alice:commented")),
    ("extra field after the password", auth("/", b"bob:pw")),
    ("password ends at CR", auth("/", b"cr:crpw")),
    ("empty stored password", auth("/", b"empty:")),
    ("line without colon", auth("/", b"nocolon:")),
    ("sha", auth("/", b"sha:s1")),
    ("sha mismatch", auth("/", b"sha:s2")),
    ("ssha", auth("/", b"ssha:s2")),
    ("ssha with a long salt", auth("/", b"sshalong:s2")),
    ("ssha mismatch", auth("/", b"ssha:s1")),
    ("crypt sha-512", auth("/", b"c6:s3")),
    ("crypt sha-512, UTF-8 password", auth("/", "c6utf8:pässwörd".encode())),
    ("crypt sha-512, latin-1 password", auth("/", "c6utf8:pässwörd".encode("latin-1"))),
    ("crypt md5", auth("/", b"c1:s4")),
    ("UTF-8 user and password", auth("/", "été:é".encode())),
    ("UTF-8 user, mismatch", auth("/", "été:e".encode())),
    ("latin-1 user, not found", auth("/", "été:é".encode("latin-1"))),
    ("crypt des", auth("/", b"des:s5")),
    ("crypt des mismatch", auth("/", b"des:s6")),
    ("apr1", auth("/", b"apr:s6")),
    ("apr1 short salt", auth("/", b"apr2:s7")),
    ("apr1 long password", auth("/", b"aprlong:a-rather-long-password-over-16")),
    ("apr1 empty password", auth("/", b"aprempty:")),
    ("apr1 mismatch", auth("/", b"apr:s7")),
    ("crypt failure token", auth("/", b"bad:*0")),
    ("unknown scheme", auth("/", b"unknown:abc")),
    ("ssha bad base64", auth("/", b"sshabad:x")),
    ("ssha empty", auth("/", b"sshaempty:")),
    ("line swallowed by a bare user name", auth("/", b"carol:hidden")),
    ("line after the swallowed one", auth("/", b"dave:seen")),
    ("user name with a newline", auth("/", b"ne\nwl:split")),
    ("last line without newline", auth("/", b"last:end")),
    ("password with a colon", auth("/", b"alice:secret:more")),
    ("password cut at NUL", auth("/", b"alice:secret\0junk")),
    ("empty password", auth("/", b"alice:")),
    ("empty user", auth("/", b":secret")),
    ("no colon", auth("/", b"alicesecret")),
    ("other scheme", auth("/", raw="Bearer abc")),
    ("lower-case scheme", auth("/", raw="basic YWxpY2U6c2VjcmV0")),
    ("spaces before the token", auth("/", raw="BASIC    YWxpY2U6c2VjcmV0")),
    ("no padding", auth("/", raw="Basic YWxpY2U6c2VjcmV0")),
    ("garbage after the padding", auth("/", raw="Basic YWxpY2U6c2VjcmV0==!!x")),
    ("bad base64 length", auth("/", raw="Basic YWxpY2U6c2VjcmV0a")),
    ("bad base64 character", auth("/", raw="Basic YWxp!2U6")),
    ("empty token", auth("/", raw="Basic ")),
    ("scheme only", auth("/", raw="Basic")),
    ("auth_basic off", auth("/off/")),
    ("empty realm", auth("/empty/")),
    ("realm with quotes", auth("/quote/")),
    ("realm and file from variables", auth("/var/?r=x&f=htpasswd", A)),
    ("realm from a variable", auth("/var/?r=y")),
    ("realm variable is off", auth("/var/?r=off&f=x")),
    ("file variable, absolute", auth("/var/?r=z&f={abs}", A)),
    ("file variable, missing", auth("/var/?r=z&f=/nonexistent/file", A)),
    ("file variable, under a file", auth("/var/?r=z&f={abs}/x", A)),
    ("file variable, empty", auth("/var/?r=z", A)),
    ("missing file", auth("/missing/", A)),
    ("missing file, no credentials", auth("/missing/")),
    ("file is a directory", auth("/dir/", A)),
    ("empty file name", auth("/blank/", A)),
    ("relative to the conf directory", auth("/noprefix/", A)),
    ("absolute file", auth("/abs/", A)),
    ("satisfy any, deny, no credentials", auth("/anydeny/")),
    ("satisfy any, deny, good credentials", auth("/anydeny/", A)),
    ("satisfy any, deny, bad password", auth("/anydeny/", b"alice:x")),
    ("satisfy any, allow", auth("/anyallow/")),
    ("satisfy any, deny, missing file", auth("/anymissing/", A)),
    ("satisfy any, deny, unreadable file", auth("/anydir/", A)),
    ("satisfy all, deny", auth("/alldeny/", A)),
    ("satisfy all, allow, no credentials", auth("/allallow/")),
    ("satisfy all, allow, credentials", auth("/allallow/", A)),
    ("satisfy any, lua says OK", auth("/luaok/")),
    ("satisfy any, lua says 403", auth("/lua403/")),
    ("satisfy all, lua after the refusal", auth("/allluaok/")),
    ("error_page 401 to an open page", auth("/ep/")),
    ("error_page 401 to a protected page", auth("/eptwice/")),
    ("limit_except: GET is open", auth("/le/")),
    ("limit_except: HEAD is open", auth("/le/", method="HEAD")),
    ("limit_except: POST is checked", auth("/le/", method="POST")),
    ("limit_except: POST with credentials", auth("/le/", A, method="POST")),
    ("realm without its file elsewhere", auth("/noyet/", A)),
    ("$remote_user without auth_basic", auth("/ret/", b"who:ever")),
    ("$remote_user, malformed", auth("/ret/", raw="Basic !!")),
]

_PREFIX = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (?:\*\d+ )?")


def _new_lines(path: Path, seen: dict, prefix: Path) -> list[tuple[str, str]]:
    """(level, message) of the lines written since the last look, the prefix spelled
    {prefix}."""
    text = path.read_bytes().decode("utf-8", "surrogateescape") if path.exists() else ""
    fresh = text[seen.get(path, 0):]
    seen[path] = len(text)
    out = []
    for line in fresh.replace(str(prefix).rstrip("/"), "{prefix}").splitlines():
        m = _PREFIX.match(line)
        if m:
            out.append((m.group(1), line[m.end():]))
    return out


def _with_prefix(req: Req, prefix: Path) -> Req:
    target = req.target.replace("{abs}", f"{prefix}/conf/htpasswd")
    return Req(req.method, target, req.headers, req.body, req.version)


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):
    """Same response and same error-log lines (the prefix of each side written alike)."""
    seen = pair.__dict__.setdefault("_seen", {})
    real_log = pair.real.prefix / "logs" / "error.log"
    our_log = pair.prefix / "logs" / "error.log"
    _new_lines(real_log, seen, pair.real.prefix)
    _new_lines(our_log, seen, pair.prefix)
    real = pair.ask_real(_with_prefix(req, pair.real.prefix))
    ours = pair.ask_engine(_with_prefix(req, pair.prefix))
    assert ours.comparable() == real.comparable()
    time.sleep(0.03)  # nginx writes its log line after the response
    assert _new_lines(our_log, seen, pair.prefix) == _new_lines(real_log, seen,
                                                                pair.real.prefix)


@requires_nginx
def test_trace_says_why(pair):
    """The UI sees the verdict and its reason as an "access" event."""
    def events(req: Req) -> list[dict]:
        ex = pair.loop.run_until_complete(pair.engine.request(
            HttpRequest(req.method, req.target, req.version, req.headers, b"",
                        "127.0.0.1", 40000, "127.0.0.1", pair.port)))
        return [e.data for e in ex.trace if e.kind == "access"]

    assert [(e["verdict"], e["reason"]) for e in events(auth("/index.html"))] == [
        ("deny", "no user/password provided")]
    [ok] = events(auth("/index.html", A))
    assert (ok["verdict"], ok["user"], ok["rule"]) == ("allow", "alice", 'auth_basic "Zone 1"')
    assert "user" not in events(auth("/index.html"))[0]
    [bad] = events(auth("/index.html", b"alice:x"))
    assert (bad["verdict"], bad["reason"]) == ("deny", "password mismatch")
    [err] = events(auth("/missing/index.html", A))
    assert err["verdict"] == "error" and "No such file" in err["reason"]


H = "events {}\nhttp {\n"
CONF_CASES = [
    ("duplicate realm", H + "server { auth_basic a;\n auth_basic b; }\n}\n"),
    ("duplicate file", H + "server { auth_basic_user_file a;\n auth_basic_user_file b; }\n}\n"),
    ("file at two levels", H + "auth_basic_user_file a;\nserver { auth_basic_user_file b; }\n}\n"),
    ("unknown variable in realm", H + "server { auth_basic $nope; }\n}\n"),
    ("unknown variable in file", H + "server { auth_basic_user_file $nope; }\n}\n"),
    ("unclosed bracket in file", H + "server { auth_basic_user_file ${x; }\n}\n"),
    ("bare dollar in realm", H + "server { auth_basic \"a$\"; }\n}\n"),
    ("in if", H + "server { if ($host) { auth_basic a; } }\n}\n"),
    ("two arguments", H + "server { auth_basic a b; }\n}\n"),
    ("no argument", H + "server { auth_basic_user_file; }\n}\n"),
    ("in limit_except", H + "server { location / { limit_except GET { auth_basic a; "
                            "auth_basic_user_file x; } } }\n}\n"),
    ("captures", H + "server { location ~ (.*) { auth_basic $1; auth_basic_user_file $1; "
                     "} }\n}\n"),
    ("in main", "auth_basic a;\n" + H + "}\n"),
]


@requires_nginx
@pytest.mark.parametrize("conf", [c[1] for c in CONF_CASES], ids=[c[0] for c in CONF_CASES])
def test_config_errors_as_nginx(tmp_path: Path, conf: str) -> None:
    write_prefix(tmp_path, conf)
    ours = engine_load_error(tmp_path)
    assert ours == first_emerg(nginx_test(tmp_path).output)
