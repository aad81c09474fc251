"""ngx_http_auth_basic_module: ``auth_basic`` and ``auth_basic_user_file``.

An access-phase handler that runs after allow/deny (nginx walks a phase's handlers in
reverse module order, so ngx_http_access_module comes first) and before auth_request. It
reads the password file on every request, as nginx does, with nginx's own line scanner
(whose quirks decide which line a user name matches), and checks the password the way
``ngx_crypt`` does: ``{PLAIN}``, ``{SHA}``, ``{SSHA}``, ``$apr1$`` here, anything else
through the system's crypt(3). The realm is evaluated per request: a value of ``off``
(even from a variable) disables the check.

``$remote_user`` is the user name from the Authorization header whether or not this
module checks it (nginx's ``ngx_http_auth_basic_user``); the variable is registered here,
next to the parser it shares with the handler.
"""

from __future__ import annotations

import binascii
import errno
import hashlib
import os
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..http.phases import DECLINED, OK, HttpModule, Phase
from ..http.variables import ComplexValue, compile_value

with warnings.catch_warnings():  # deprecated since 3.11; nginx calls the same libc crypt()
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

if TYPE_CHECKING:
    from ..conf.ast import Directive
    from ..http.block import Block
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_ITOA64 = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: r.main.ctx key set when the Authorization header gave no user (nginx's empty
#: ``headers_in.user`` with a non-NULL data pointer).
_NO_USER = "keep:auth_basic_no_user"


@dataclass(slots=True)
class AuthConf:
    """The realm and password file in force in a block, with the directives that set them."""

    realm: ComplexValue
    user_file: ComplexValue
    realm_d: Directive
    #: ``cycle->conf_prefix``: where a relative password file is looked for.
    conf_prefix: str


def ngx_base64_decode(src: bytes) -> bytes | None:
    """``ngx_decode_base64``: stops at the first ``=``, any other stray byte is an error,
    missing padding is fine (so is anything after the ``=``)."""
    end = src.find(b"=")
    body = src if end < 0 else src[:end]
    if not _B64.issuperset(body) or len(body) % 4 == 1:
        return None
    return binascii.a2b_base64(body + b"=" * (-len(body) % 4))


def basic_user(r: Request) -> tuple[bytes, bytes] | None:
    """``ngx_http_auth_basic_user``: (user, password) from ``Authorization: Basic``, or None
    when the header is absent, of another scheme, not base64, without a colon, or names
    no user. Like nginx, the request remembers a failure (internal redirects and
    subrequests included) and parses again after a success."""
    main = r.main
    if _NO_USER in main.ctx:
        return None
    value = r.headers_in.get("authorization")
    if value is not None and len(value) >= 6 and value[:6].lower() == "basic ":
        decoded = ngx_base64_decode(value[6:].lstrip(" ").encode("utf-8", "surrogateescape"))
        if decoded:
            user, colon, passwd = decoded.partition(b":")
            if user and colon:
                return user, passwd
    main.ctx[_NO_USER] = True
    return None


def find_password(data: bytes, user: bytes) -> bytes | None:
    """The password field of ``user`` in a password file, as nginx's scanner finds it.

    Lines starting with ``#`` or CR are skipped, and so is an empty line; a line must
    start with ``user:``. The scanner compares byte by byte and, at the first mismatch,
    skips to the end of the line *after* that byte: a line that is a bare prefix of
    ``user:`` thus swallows the next line too. The password ends at LF, CR, ``:`` or the
    end of the file.
    """
    target = user + b":"
    pos, end = 0, len(data)
    while pos < end:
        c = data[pos]
        if c == 0x0A:  # an empty line
            pos += 1
            continue
        k = 0
        if c not in (0x23, 0x0D):  # '#', CR
            while k < len(target) and pos + k < end and data[pos + k] == target[k]:
                k += 1
            if k == len(target):
                start = pos + k
                stop = end
                for sep in (b"\n", b"\r", b":"):
                    i = data.find(sep, start, stop)
                    if i >= 0:
                        stop = i
                return data[start:stop]
            if pos + k >= end:
                return None
        nl = data.find(b"\n", pos + k + 1)
        if nl < 0:
            return None
        pos = nl + 1
    return None


def apr1(key: bytes, setting: bytes) -> bytes:
    """Apache's MD5 crypt (``$apr1$salt$hash``), as ``ngx_crypt_apr1`` computes it."""
    salt = setting[6:].split(b"$", 1)[0][:8]
    final = hashlib.md5(key + salt + key).digest()
    ctx = hashlib.md5(key + b"$apr1$" + salt)
    for n in range(len(key), 0, -16):
        ctx.update(final[:min(n, 16)])
    i = len(key)
    while i:
        ctx.update(b"\0" if i & 1 else key[:1])
        i >>= 1
    final = ctx.digest()
    for i in range(1000):
        step = hashlib.md5(key if i & 1 else final)
        if i % 3:
            step.update(salt)
        if i % 7:
            step.update(key)
        step.update(final if i & 1 else key)
        final = step.digest()
    out = bytearray()
    for a, b, c in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)):
        v = final[a] << 16 | final[b] << 8 | final[c]
        for _ in range(4):
            out.append(_ITOA64[v & 0x3F])
            v >>= 6
    v = final[11]
    for _ in range(2):
        out.append(_ITOA64[v & 0x3F])
        v >>= 6
    return b"$apr1$" + salt + b"$" + bytes(out)


def ngx_crypt(key: bytes, setting: bytes) -> bytes:
    """``ngx_crypt``: the encrypted form of ``key`` under the scheme and salt of the
    stored ``setting``; the password matches when it equals ``setting``. Raises OSError
    when the system crypt() fails (libxcrypt returns a ``*0`` token instead)."""
    if setting.startswith(b"$apr1$"):
        return apr1(key, setting)
    if setting.startswith(b"{PLAIN}"):
        return b"{PLAIN}" + key
    if setting.startswith(b"{SSHA}"):
        decoded = ngx_base64_decode(setting[6:])
        salt = decoded[20:] if decoded is not None else b""
        return b"{SSHA}" + binascii.b2a_base64(
            hashlib.sha1(key + salt).digest() + salt, newline=False)
    if setting.startswith(b"{SHA}"):
        return b"{SHA}" + binascii.b2a_base64(hashlib.sha1(key).digest(), newline=False)
    try:
        text_key, text_setting = key.decode(), setting.decode()
    except UnicodeDecodeError:
        # the crypt module takes UTF-8 text only: answer as with a bad setting, with
        # libxcrypt's failure token, which never equals the setting (a known gap)
        return b"*1" if setting.startswith(b"*0") else b"*0"
    return crypt.crypt(text_key, text_setting).encode()


class AuthBasicModule(HttpModule):
    name = "ngx_http_auth_basic_module"
    #: The directives whose behaviour this module models (the rest are only checked).
    directives = frozenset({
        "auth_basic", "auth_basic_user_file",
    })

    def init(self, engine: HttpEngine) -> None:
        # after allow/deny (order 0), before auth_request and access_by_lua
        engine.phases.add(Phase.ACCESS, "auth_basic", self.handler, order=10,
                          active=self._active)
        engine.variables.add("remote_user", _remote_user)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        conf_prefix = os.path.dirname(os.path.abspath(cfg.conf_path)) + "/"
        compiled: dict[int, ComplexValue] = {}

        def value(d: Directive) -> ComplexValue:
            cv = compiled.get(id(d))
            if cv is None:
                cv = compiled[id(d)] = compile_value(d.args[0], engine.variables,
                                                     d.file, d.line)
            return cv

        for block in cfg.blocks:
            realm_d = block.first("auth_basic")
            file_d = block.first("auth_basic_user_file")
            # compiled where written, even when the other directive is missing
            realm = value(realm_d) if realm_d is not None else None
            user_file = value(file_d) if file_d is not None else None
            if realm is not None and user_file is not None and realm.source != "off":
                block.mod[self.name] = AuthConf(realm, user_file, realm_d, conf_prefix)

    def _active(self, block: Block) -> bool:
        return self.name in block.mod

    async def handler(self, r: Request) -> int:
        conf: AuthConf | None = r.loc.mod.get(self.name)
        if conf is None:
            return DECLINED
        realm = conf.realm.evaluate(r)
        if realm == "off":
            self._trace(r, conf, realm, "off", "the realm evaluated to off")
            return DECLINED
        creds = basic_user(r)
        if creds is None:
            r.log("info", "no user/password was provided for basic authentication")
            return self._refuse(r, conf, realm, "no user/password provided")
        user, passwd = creds
        # the error log writes text as UTF-8: this gives back the very bytes nginx logs
        shown = user.decode("utf-8", "surrogateescape")
        path = conf.user_file.evaluate(r).split("\0", 1)[0]
        if not path.startswith("/"):
            path = conf.conf_prefix + path
        try:
            data = _read_file(path)
        except _FileError as e:
            r.log(e.level, e.message)
            self._trace(r, conf, realm, "error", e.message, shown)
            return e.status
        stored = find_password(data, user)
        if stored is None:
            r.log("error", f'user "{shown}" was not found in "{path}"')
            return self._refuse(r, conf, realm, f"user not found in {path}", shown)
        stored = stored.split(b"\0", 1)[0]  # both are C strings to nginx
        try:
            encrypted = ngx_crypt(passwd.split(b"\0", 1)[0], stored)
        except OSError as e:
            code = e.errno or errno.EINVAL
            r.log("crit", f"crypt() failed ({code}: {os.strerror(code)})")
            self._trace(r, conf, realm, "error", "crypt() failed", shown)
            return 500
        if encrypted == stored:
            self._trace(r, conf, realm, "allow", "password matches", shown)
            return OK
        r.log("error", f'user "{shown}": password mismatch')
        return self._refuse(r, conf, realm, "password mismatch", shown)

    def _refuse(self, r: Request, conf: AuthConf, realm: str, reason: str,
                user: str | None = None) -> int:
        """``ngx_http_auth_basic_set_realm``: a 401 with the challenge (the realm as is,
        quotes unescaped); each refusal adds one more header, as nginx's list push does."""
        r.out.headers.add("WWW-Authenticate", f'Basic realm="{realm}"')
        self._trace(r, conf, realm, "deny", reason, user)
        return 401

    @staticmethod
    def _trace(r: Request, conf: AuthConf, realm: str, verdict: str, reason: str,
               user: str | None = None) -> None:
        if r.trace.enabled:
            d = conf.realm_d
            extra = {"user": user} if user is not None else {}
            r.trace.add("access", rule=f'auth_basic "{realm}"', verdict=verdict,
                        reason=reason, file=d.file, line=d.line, **extra)


class _FileError(Exception):
    """The password file could not be opened or read: what nginx logs and answers."""

    def __init__(self, level: str, message: str, status: int) -> None:
        super().__init__(message)
        self.level, self.message, self.status = level, message, status


def _read_file(path: str) -> bytes:
    """The whole password file, or _FileError: a missing file is a 403 logged at error
    level, any other failure (permissions, a directory) a 500 at crit."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        code = e.errno or errno.EIO
        level, status = ("error", 403) if code == errno.ENOENT else ("crit", 500)
        raise _FileError(level, f'open() "{path}" failed ({code}: {os.strerror(code)})',
                         status) from None
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as e:
        code = e.errno or errno.EIO
        raise _FileError("crit", f'pread() "{path}" failed ({code}: {os.strerror(code)})',
                         500) from None
    finally:
        os.close(fd)


def _remote_user(r: Request) -> str | None:
    """``$remote_user``: the user name sent, checked or not (not found without one)."""
    creds = basic_user(r)
    return creds[0].decode("utf-8", "surrogateescape") if creds is not None else None
