"""fastcgi_pass (and the connect paths of uwsgi/scgi/grpc/memcached_pass) against real nginx.

Both sides talk to the same FastCGI responder written here: a threaded server (TCP and a
unix socket) that parses the records nginx sends and answers by the script's base name
(``DOCUMENT_URI`` or ``SCRIPT_NAME``): ``echo`` (the default) writes every param it
received in order, the KEEP_CONN flag and the body; the others send ``Status:``
headers, stderr, a slow answer, an early close, a split header... ``REMOTE_PORT`` is
blanked (the two clients differ). Replies are compared whole (status line, headers,
body with the prefix directory spelled {prefix}) and so are the error-log lines each
request writes.
"""

from __future__ import annotations

import os
import re
import socket
import struct
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tests.differential import Pair, Req, engine_load_error
from tests.oracle import free_port, nginx_test, requires_nginx, write_prefix

STDOUT, STDERR, END = 6, 7, 3


def record(kind: int, content: bytes, padding: int = 0) -> bytes:
    return struct.pack(">BBHHBB", 1, kind, 1, len(content), padding, 0) + content + \
        b"\0" * padding


def stdout(data: bytes) -> bytes:
    if not data:
        return record(STDOUT, b"")
    return b"".join(record(STDOUT, data[i:i + 32768]) for i in range(0, len(data), 32768))


def end() -> bytes:
    return record(END, b"\0" * 8)


def _pairs(data: bytes) -> list[tuple[str, str]]:
    out = []
    i = 0
    while i < len(data):
        lens = []
        for _ in range(2):
            b = data[i]
            if b & 0x80:
                lens.append(struct.unpack(">I", data[i:i + 4])[0] & 0x7FFFFFFF)
                i += 4
            else:
                lens.append(b)
                i += 1
        name = data[i:i + lens[0]].decode("utf-8", "surrogateescape")
        i += lens[0]
        value = data[i:i + lens[1]].decode("utf-8", "surrogateescape")
        i += lens[1]
        out.append((name, value))
    return out


class Responder:
    """A threaded FastCGI server on 127.0.0.1 (or ``unix`` path)."""

    def __init__(self, unix: str | None = None) -> None:
        if unix:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.bind(unix)
            os.chmod(unix, 0o777)
            self.address = f"unix:{unix}"
        else:
            self.sock = socket.socket()
            self.sock.bind(("127.0.0.1", 0))
            self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.sock.listen(64)
        self.seen: list[dict[str, object]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.sock.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _read_request(self, conn: socket.socket) -> tuple[int, bytes, bytes, list[int]]:
        buf = b""
        params = b""
        body = b""
        flags = -1
        kinds: list[int] = []
        while True:
            while len(buf) < 8:
                chunk = conn.recv(65536)
                if not chunk:
                    raise EOFError
                buf += chunk
            _, kind, _, length, pad, _ = struct.unpack(">BBHHBB", buf[:8])
            while len(buf) < 8 + length + pad:
                chunk = conn.recv(65536)
                if not chunk:
                    raise EOFError
                buf += chunk
            content, buf = buf[8:8 + length], buf[8 + length + pad:]
            kinds.append(kind)
            if kind == 1:
                flags = content[2]
            elif kind == 4:
                params += content
            elif kind == 5:
                if not length:
                    return flags, params, body, kinds
                body += content

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                flags, raw, body, kinds = self._read_request(conn)
            except (EOFError, OSError):
                return
            params = _pairs(raw)
            env = dict(params)
            self.seen.append({"flags": flags, "params": params, "body": body})
            script = env.get("DOCUMENT_URI") or env.get("SCRIPT_NAME") or "/echo"
            mode = script.rsplit("/", 1)[-1].split(".")[0]
            try:
                for i, part in enumerate(self.answer(mode, params, body, flags).split(b"SLEEP")):
                    if i:
                        time.sleep(1.0)
                    conn.sendall(part)
            except OSError:
                pass

    def answer(self, mode: str, params: list[tuple[str, str]], body: bytes,
               flags: int) -> bytes:
        if mode == "close":
            return b""
        if mode == "slow":
            time.sleep(1.0)
            return stdout(b"Content-Type: text/plain\r\n\r\nlate") + end()
        if mode == "slowbody":
            conn_sleep = stdout(b"Content-Type: text/plain\r\n\r\nfirst,")
            return conn_sleep + b"SLEEP" + stdout(b"second") + end()
        if mode == "status":
            return stdout(b"Status: 404 Not Found\r\nContent-Type: text/html\r\n"
                          b"X-App: yes\r\n\r\n<p>missing</p>") + end()
        if mode == "bare":
            return stdout(b"Status: 403\r\n\r\nforbidden") + end()
        if mode == "e500":
            return stdout(b"Status: 500 Internal Server Error\r\n\r\nboom") + end()
        if mode == "redirect":
            return stdout(b"Location: /elsewhere?x=1\r\n\r\n") + end()
        if mode == "absredirect":
            return stdout(b"Location: http://example.com/x\r\n\r\n") + end()
        if mode == "stderr":
            return record(STDERR, b"PHP Warning:  oops in x.php on line 3\n") + \
                stdout(b"Content-Type: text/plain\r\n\r\nbody after stderr") + end()
        if mode == "stderronly":
            return record(STDERR, b"Primary script unknown\n") + end()
        if mode == "nobody":
            return stdout(b"Status: 204 No Content\r\nX-A: 1\r\n\r\n") + end()
        if mode == "headers":
            return stdout(b"Content-Type: text/plain; charset=utf-8\r\n"
                          b"X-Powered-By: PHP/8.2\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
                          b"X-Accel-Expires: 10\r\nX-Hidden: h\r\nX-Pad: pad\r\n"
                          b"Content-Length: 5\r\n\r\nhello") + end()
        if mode == "split":
            return stdout(b"Content-Ty") + stdout(b"pe: text/plain\r\nX-B:") + \
                stdout(b" 2\r\n\r") + stdout(b"\npart one,") + record(STDOUT, b" part two", 7) + \
                end()
        if mode == "big":
            data = b"0123456789abcdef" * 8192
            out = stdout(b"Content-Type: text/plain\r\n\r\n")
            for i in range(0, len(data), 30000):
                out += stdout(data[i:i + 30000])
            return out + end()
        if mode == "noend":
            return stdout(b"Content-Type: text/plain\r\n")
        if mode == "invalid":
            return stdout(b"Status: abc\r\n\r\nx") + end()
        if mode == "srvdate":
            return stdout(b"Server: php\r\nDate: yesterday\r\nX-Accel-Buffering: no\r\n"
                          b"Content-Type: text/plain\r\n\r\nsd") + end()
        if mode == "bodystderr":
            return stdout(b"Content-Type: text/plain\r\n\r\none,") + \
                record(STDERR, b"late warning.. \r\n") + stdout(b"two") + end()
        if mode == "emptyout":
            return stdout(b"") + end()
        if mode == "trunc":
            return stdout(b"Content-Type: text/plain\r\n\r\npartial")
        if mode == "lfonly":
            return stdout(b"Status: 201 Created\nX-Lf: 1\n\ncreated") + end()
        if mode == "xaccel":
            return stdout(b"X-Accel-Redirect: /echo.php\r\n\r\n") + end()
        lines = [f"{k}={'' if k == 'REMOTE_PORT' else v}" for k, v in params]
        text = "\n".join(lines).encode("utf-8", "surrogateescape")
        return stdout(b"Content-Type: text/plain\r\n\r\n" + text + b"\nSTDIN=" + body +
                      f"\nKEEP={flags}".encode()) + end()


# --- the configuration ------------------------------------------------------------------

CONF = r"""
error_log logs/error.log info;
events {}
http {
    access_log off;
    upstream grp { server 127.0.0.1:CLOSED; server FCGI; }
    upstream grp404 { server FCGI; server FCGI; }
    upstream lc { least_conn; server FCGI; }
    upstream dead { server 127.0.0.1:CLOSED; }
    upstream dead2 { server 127.0.0.1:CLOSED; server 127.0.0.1:CLOSED; }
    upstream grp2 { server 127.0.0.1:CLOSED; server FCGI; }
    server {
        listen 127.0.0.1:{port};
        server_name localhost;
        root html;
        client_body_buffer_size 1m;
        add_header X-UA $upstream_addr always;
        add_header X-US $upstream_status always;
        location ~ \.php$ {
            include fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_index index.php;
            fastcgi_pass FCGI;
            fastcgi_read_timeout 300ms;
        }
        location /conf/ { include fastcgi.conf; fastcgi_pass FCGI; }
        location /dir/ { include fastcgi_params; fastcgi_index main.php; fastcgi_pass FCGI; }
        location /unix/ { fastcgi_param DOCUMENT_URI $uri; fastcgi_pass UNIX; }
        location /down/ { fastcgi_pass 127.0.0.1:CLOSED; }
        location /nosock/ { fastcgi_pass unix:MISSING; }
        location /refused/ { fastcgi_pass unix:REFUSED; }
        location /grp/ { fastcgi_param DOCUMENT_URI $uri; fastcgi_pass grp; }
        location /dead/ { fastcgi_pass dead; }
        location /dead2/ { fastcgi_pass dead2; }
        location /nuoff/ { fastcgi_next_upstream off; fastcgi_pass grp2; }
        location /n500/ {
            fastcgi_param DOCUMENT_URI /e500.php;
            fastcgi_next_upstream http_500;
            fastcgi_pass grp404;
        }
        location /lc/ { fastcgi_param DOCUMENT_URI $uri; fastcgi_pass lc; }
        location /n404/ {
            fastcgi_param DOCUMENT_URI /status.php;
            fastcgi_next_upstream http_404;
            fastcgi_pass grp404;
        }
        location /var/ { set $b FCGI; fastcgi_param DOCUMENT_URI $uri; fastcgi_pass $b; }
        location /vargrp/ { set $g grp; fastcgi_param DOCUMENT_URI $uri; fastcgi_pass $g; }
        location /varbad/ { fastcgi_pass $arg_to; }
        location /ie/ {
            fastcgi_param DOCUMENT_URI $uri;
            fastcgi_intercept_errors on;
            error_page 404 /err.html;
            fastcgi_pass FCGI;
        }
        location /sp/ {
            fastcgi_split_path_info ^(.+\.cgi)(/.*)$;
            fastcgi_param SCRIPT_NAME $fastcgi_script_name;
            fastcgi_param PATH_INFO $fastcgi_path_info;
            fastcgi_param EMPTY $arg_e if_not_empty;
            fastcgi_param EMPTY2 $arg_e;
            fastcgi_pass FCGI;
        }
        location /hide/ {
            fastcgi_param DOCUMENT_URI /headers.php;
            fastcgi_hide_header X-Powered-By;
            fastcgi_pass_header X-Accel-Expires;
            fastcgi_pass FCGI;
        }
        location /nohdr/ {
            fastcgi_param DOCUMENT_URI $uri;
            fastcgi_param HTTP_X_TEST overridden;
            fastcgi_pass_request_headers off;
            fastcgi_pass_request_body off;
            fastcgi_pass FCGI;
        }
        location /ovr/ {
            fastcgi_param DOCUMENT_URI $uri;
            fastcgi_param HTTP_X_TEST overridden;
            fastcgi_param HTTP_USER_AGENT $http_user_agent;
            fastcgi_pass FCGI;
        }
        location /ka/ { fastcgi_param DOCUMENT_URI $uri; fastcgi_keep_conn on; fastcgi_pass FCGI; }
        location /katrunc/ {
            fastcgi_param DOCUMENT_URI /trunc.php;
            fastcgi_keep_conn on;
            fastcgi_pass FCGI;
        }
        location /nb/ { fastcgi_param DOCUMENT_URI /split.php; fastcgi_buffering off; fastcgi_pass FCGI; }
        location /if/ {
            fastcgi_param DOCUMENT_URI $uri;
            fastcgi_pass FCGI;
            if ($arg_x) { add_header X-If yes; }
        }
        location = /err.html { return 200 "custom error\n"; }
        location /uwsgi/ { uwsgi_pass 127.0.0.1:CLOSED; }
        location /uwsgi2/ { uwsgi_pass uwsgi://127.0.0.1:CLOSED; }
        location /scgi/ { scgi_pass 127.0.0.1:CLOSED; }
        location /grpc/ { grpc_pass 127.0.0.1:CLOSED; }
        location /grpcs/ { grpc_pass grpcs://127.0.0.1:CLOSED; }
        location /grpcsock/ { grpc_pass unix:MISSING; }
        location /mc/ { set $memcached_key $uri; memcached_pass 127.0.0.1:CLOSED; }
        location /mcnokey/ { memcached_pass 127.0.0.1:CLOSED; }
        location /scgigrp/ { scgi_pass dead; }
    }
}
"""


def _system_file(name: str) -> str:
    path = Path("/etc/nginx") / name
    return path.read_text() if path.exists() else ""


@pytest.fixture(scope="module")
def setup():
    if not _system_file("fastcgi_params"):
        pytest.skip("Debian's /etc/nginx/fastcgi_params is not installed")
    tmp = tempfile.TemporaryDirectory(prefix="ngx-fcgi-")
    tcp = Responder()
    unix = Responder(os.path.join(tmp.name, "php.sock"))
    refused = socket.socket(socket.AF_UNIX)
    refused.bind(os.path.join(tmp.name, "refused.sock"))  # bound, not listening
    os.chmod(os.path.join(tmp.name, "refused.sock"), 0o777)
    os.chmod(tmp.name, 0o755)
    conf = (CONF.replace("FCGI", tcp.address).replace("UNIX", unix.address)
            .replace("CLOSED", str(free_port()))
            .replace("MISSING", os.path.join(tmp.name, "missing.sock"))
            .replace("REFUSED", os.path.join(tmp.name, "refused.sock")))
    files = {"conf/fastcgi_params": _system_file("fastcgi_params"),
             "conf/fastcgi.conf": _system_file("fastcgi.conf")}
    with Pair(conf, files) as pair:
        yield pair, tcp
    tcp.close()
    unix.close()
    refused.close()
    tmp.cleanup()


H = [("Host", "localhost"), ("User-Agent", "t/1"), ("X-Test", "a"), ("X-Test", "b")]
POST = H + [("Content-Type", "application/x-www-form-urlencoded")]

CASES = [
    # a PHP site: fastcgi_params, SCRIPT_FILENAME, the request headers as HTTP_*
    ("echo", Req("GET", "/echo.php?a=1&b=2", H)),
    ("echo, POST body", Req("POST", "/echo.php", POST, b"name=value&x=y")),
    ("echo, big body", Req("POST", "/echo.php", POST, b"z" * 70000)),
    ("echo, HTTP/1.0", Req("GET", "/echo.php", H, version="HTTP/1.0")),
    ("echo, HEAD", Req("HEAD", "/echo.php", H)),
    ("echo, escaped uri", Req("GET", "/a%20b/echo.php?q=%41", H)),
    ("fastcgi.conf", Req("GET", "/conf/x/echo.php", H)),
    ("fastcgi_index", Req("GET", "/dir/", H)),
    ("unix socket", Req("GET", "/unix/echo.php", H)),
    ("status 404", Req("GET", "/status.php", H)),
    ("status without reason", Req("GET", "/bare.php", H)),
    ("status 500", Req("GET", "/e500.php", H)),
    ("Location gives 302", Req("GET", "/redirect.php", H)),
    ("absolute Location", Req("GET", "/absredirect.php", H)),
    ("stderr then body", Req("GET", "/stderr.php", H)),
    ("stderr only", Req("GET", "/stderronly.php", H)),
    ("stderr in the body", Req("GET", "/bodystderr.php", H)),
    ("204 without body", Req("GET", "/nobody.php", H)),
    ("204, HEAD", Req("HEAD", "/nobody.php", H)),
    ("headers passed and hidden", Req("GET", "/headers.php", H)),
    ("upstream Server and Date", Req("GET", "/srvdate.php", H)),
    ("header split across records", Req("GET", "/split.php", H)),
    ("big response", Req("GET", "/big.php", H)),
    ("header never ends", Req("GET", "/noend.php", H)),
    ("invalid status", Req("GET", "/invalid.php", H)),
    ("empty stdout", Req("GET", "/emptyout.php", H)),
    ("closed before answering", Req("GET", "/close.php", H)),
    ("closed in the body", Req("GET", "/trunc.php", H)),
    ("read timeout", Req("GET", "/slow.php", H)),
    ("read timeout in the body", Req("GET", "/slowbody.php", H)),
    ("long header value, UTF-8 value", Req("GET", "/echo.php", H + [
        ("Cookie", "c=" + "x" * 300), ("X-Utf", "é")])),
    ("X-Accel-Redirect", Req("GET", "/xaccel.php", H)),
    ("LF-only header", Req("GET", "/lfonly.php", H)),
    # peers and failures
    ("connection refused", Req("GET", "/down/x", H)),
    ("missing unix socket", Req("GET", "/nosock/x", H)),
    ("refused unix socket", Req("GET", "/refused/x", H)),
    ("group: next upstream", Req("GET", "/grp/echo.php", H)),
    ("group: failed peer skipped", Req("GET", "/grp/echo.php", H)),
    ("group of one dead peer", Req("GET", "/dead/x", H)),
    ("group of one dead peer, again", Req("GET", "/dead/x", H)),
    ("two dead peers", Req("GET", "/dead2/x", H)),
    ("two dead peers: no live upstreams", Req("GET", "/dead2/x", H)),
    ("next_upstream off", Req("GET", "/nuoff/x", H)),
    ("next_upstream http_500", Req("GET", "/n500/x", H)),
    ("next_upstream http_500, POST not retried", Req("POST", "/n500/x", POST, b"a=1")),
    ("least_conn", Req("GET", "/lc/echo.php", H)),
    ("next_upstream http_404", Req("GET", "/n404/x", H)),
    ("address in a variable", Req("GET", "/var/echo.php", H)),
    ("group name in a variable", Req("GET", "/vargrp/echo.php", H)),
    ("variable: bad port", Req("GET", "/varbad/?to=127.0.0.1:99999", H)),
    ("variable: name without resolver", Req("GET", "/varbad/?to=localhost:9000", H)),
    # directives
    ("intercept_errors with error_page", Req("GET", "/ie/status.php", H)),
    ("intercept_errors without error_page", Req("GET", "/ie/e500.php", H)),
    ("split_path_info", Req("GET", "/sp/a.cgi/b/c?e=", H)),
    ("split_path_info, if_not_empty", Req("GET", "/sp/a.cgi/b/c?e=1", H)),
    ("split_path_info, no match", Req("GET", "/sp/plain", H)),
    ("hide_header, pass_header", Req("GET", "/hide/", H)),
    ("pass_request_headers/body off", Req("POST", "/nohdr/echo.php", POST, b"body")),
    ("HTTP_ param overrides a header", Req("GET", "/ovr/echo.php", H)),
    ("keep_conn", Req("GET", "/ka/echo.php", H)),
    ("keep_conn, closed in the body", Req("GET", "/katrunc/", H)),
    ("buffering off", Req("GET", "/nb/", H)),
    ("inside if", Req("GET", "/if/echo.php?x=1", H)),
    ("auto redirect", Req("GET", "/dir", H)),
    # the other protocols: the backend is down
    ("uwsgi_pass refused", Req("GET", "/uwsgi/x", H)),
    ("uwsgi_pass uwsgi:// refused", Req("GET", "/uwsgi2/x", H)),
    ("scgi_pass refused", Req("GET", "/scgi/x", H)),
    ("grpc_pass refused", Req("GET", "/grpc/x", H)),
    ("grpc_pass grpcs:// refused", Req("GET", "/grpcs/x", H)),
    ("grpc_pass missing socket", Req("GET", "/grpcsock/x", H)),
    ("memcached_pass refused", Req("GET", "/mc/x", H)),
    ("memcached_pass without key", Req("GET", "/mcnokey/x", H)),
    ("scgi_pass, dead group", Req("GET", "/scgigrp/x", H)),
]

_LOG = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#\d+: (?:\*\d+ )?(.*)$")


def _norm(data: bytes, prefix: Path, port: int) -> bytes:
    return data.replace(str(prefix).encode(), b"{prefix}").replace(
        str(port).encode(), b"{port}")


def _new_log(path: Path, seen: dict, prefix: Path) -> list[str]:  # type: ignore[type-arg]
    text = path.read_text() if path.exists() else ""
    fresh = text[seen.get(path, 0):]
    seen[path] = len(text)
    out = []
    for line in fresh.replace(str(prefix), "{prefix}").splitlines():
        m = _LOG.match(line)
        if m and "client closed connection while waiting" not in line:
            out.append(f"{m.group(1)} {m.group(2)}")
    return out


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(setup, name, req):
    pair, _ = setup
    seen = pair.__dict__.setdefault("_seen", {})
    real_log = pair.real.prefix / "logs" / "error.log"
    our_log = pair.prefix / "logs" / "error.log"
    _new_log(real_log, seen, pair.real.prefix), _new_log(our_log, seen, pair.prefix)
    real, ours = pair.both(req)
    time.sleep(0.05)  # nginx writes some lines after the response
    real.body = _norm(real.body, pair.real.prefix, pair.port)
    ours.body = _norm(ours.body, pair.prefix, pair.port)
    assert ours.comparable() == real.comparable()
    assert _new_log(our_log, seen, pair.prefix) == _new_log(real_log, seen, pair.real.prefix)


def test_enough_cases():
    assert len(CASES) + len(CONF_ERRORS) >= 40


# --- configuration errors ------------------------------------------------------------------

_H = "events {}\nhttp {\nupstream grp { server 127.0.0.1:9; }\nserver {\nlisten 127.0.0.1:8080;\n"

CONF_ERRORS = [
    ("bad port", "location / { fastcgi_pass 127.0.0.1:99999; }"),
    ("URL prefix", "location / { fastcgi_pass http://127.0.0.1:9000; }"),
    ("duplicate", "location / { fastcgi_pass 127.0.0.1:9000; fastcgi_pass 127.0.0.1:9001; }"),
    ("param flag", "location / { fastcgi_param A b c; }"),
    ("split regex", 'location / { fastcgi_split_path_info "("; }'),
    ("next_upstream", "location / { fastcgi_next_upstream http_502; }"),
    ("read_timeout", "location / { fastcgi_read_timeout abc; }"),
    ("unknown host", "location / { fastcgi_pass nosuchhost.invalid:9000; }"),
    ("no unix path", "location / { fastcgi_pass unix:; }"),
    ("uri part", "location / { fastcgi_pass 127.0.0.1:9000/x; }"),
    ("group with port", "location / { fastcgi_pass grp:9000; }"),
    ("no port", "location / { fastcgi_pass localhost; }"),
    ("uwsgi bad port", "location / { uwsgi_pass 127.0.0.1:99999; }"),
    ("grpc http://", "location / { grpc_pass http://127.0.0.1:9; }"),
    ("memcached bad port", "location / { memcached_pass 127.0.0.1:99999; }"),
    ("scgi no port", "location / { scgi_pass localhost; }"),
    ("next_upstream_tries", "location / { fastcgi_next_upstream_tries x; }"),
    ("valid: group, grpcs, unix", "location /a { fastcgi_pass grp; }\n"
     "location /b { grpc_pass grpcs://127.0.0.1:9; }\n"
     "location /c { scgi_pass unix:/tmp/x.sock; }"),
]


@requires_nginx
@pytest.mark.parametrize("body", [c[1] for c in CONF_ERRORS], ids=[c[0] for c in CONF_ERRORS])
def test_same_load_error_as_nginx(tmp_path: Path, body: str) -> None:
    write_prefix(tmp_path, _H + body + "\n}\n}\n")
    real = None
    for line in nginx_test(tmp_path).output.splitlines():
        m = _LOG.match(line)
        if m and m.group(1) == "[emerg]":
            real = f"{m.group(1)} {m.group(2)}"
            break
    assert engine_load_error(tmp_path) == real
