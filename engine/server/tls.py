"""TLS on a ``listen ... ssl`` address: ngx_http_ssl_module's part of a connection.

The HTTP connection (:mod:`.http1`) is the same on both kinds of port: on an ssl one it
sits behind a :class:`TlsGate`, which turns TLS records into request bytes and response
bytes into records through an :class:`ssl.SSLObject` on memory BIOs (sans-IO, as h11
keeps HTTP). Like nginx's ngx_http_ssl_handshake, the first byte decides: a TLS record
(0x16) or an SSLv2 hello (high bit set) starts the handshake; anything else is plain
HTTP sent to an HTTPS port, which nginx still parses so that it can answer 497 (shown
as 400 "The plain HTTP request was sent to HTTPS port", or an ``error_page 497``).

Certificates are the ``ssl_certificate``/``ssl_certificate_key`` of each server of the
address; the client's SNI name picks the server as the Host header would (nginx's
ngx_http_ssl_servername), the default server's certificate otherwise.
"""

from __future__ import annotations

import _ssl
import asyncio
import os
import ssl
from typing import TYPE_CHECKING, Any

from ..http.servers import AddressServers, ServerConf, find_server, valid_host

if TYPE_CHECKING:
    from ..instance import Engine
    from .http1 import HttpConnection

#: ssl_protocols' names → the versions Python's ssl knows. TLSv1 and TLSv1.1 are left
#: out: OpenSSL 3's default security level refuses them to nginx too.
_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
#: nginx 1.22's default ssl_protocols (TLSv1.3 joined them in 1.23.4).
_DEFAULT_PROTOCOLS = ["TLSv1", "TLSv1.1", "TLSv1.2"]
_READ_SIZE = 65536


class TlsError(Exception):
    """A server's certificate or key cannot be loaded (nginx's [emerg] at start)."""


def server_context(srv: ServerConf, conf_prefix: str) -> ssl.SSLContext | None:
    """The TLS context of one server: its certificate, key, protocols and ciphers
    (inherited from ``http{}`` as nginx merges them); None without a certificate."""
    cert, key = srv.first("ssl_certificate"), srv.first("ssl_certificate_key")
    if cert is None:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    names = srv.first("ssl_protocols")
    versions = sorted(_VERSIONS[a] for a in (names.args if names else _DEFAULT_PROTOCOLS)
                      if a in _VERSIONS)
    if versions:
        try:
            ctx.minimum_version, ctx.maximum_version = versions[0], versions[-1]
        except ValueError:  # a version this OpenSSL build refuses: keep its defaults
            pass
    ciphers = srv.value("ssl_ciphers", "HIGH:!aNULL:!MD5") or "HIGH:!aNULL:!MD5"
    try:
        ctx.set_ciphers(ciphers)
    except ssl.SSLError:
        pass  # TLSv1.3 suites only, or names this OpenSSL lacks: its defaults stay
    cert_path = _full_name(cert.args[0], conf_prefix)
    key_path = _full_name(key.args[0], conf_prefix) if key is not None else cert_path
    for what, path in (("certificate", cert_path), ("certificate key", key_path)):
        if not os.path.exists(path):
            raise TlsError(f'cannot load {what} "{path}": BIO_new_file() failed (SSL: '
                           "error:80000002:system library::No such file or directory:"
                           f"calling fopen({path}, r) error:10000080:BIO routines::no such "
                           "file)")
    try:
        ctx.load_cert_chain(cert_path, key_path)
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(f'cannot load certificate "{cert_path}": {exc}') from None
    ctx.set_alpn_protocols(["http/1.1"])  # HTTP/2 is not modelled: clients fall back
    return ctx


def address_context(entry: AddressServers, conf_prefix: str) -> ssl.SSLContext | None:
    """The context a handshake on this address starts with (the default server's),
    switching to the server the SNI name selects."""
    contexts: dict[int, ssl.SSLContext] = {}
    for srv in entry.servers:
        ctx = server_context(srv, conf_prefix)
        if ctx is not None:
            contexts[id(srv)] = ctx
    default = contexts.get(id(entry.default)) if entry.default is not None else None
    if default is None:
        default = next(iter(contexts.values()), None)
    if default is None:
        return None

    def servername(obj: Any, name: str | None, _ctx: ssl.SSLContext) -> None:
        obj.sni_name = name or ""  # $ssl_server_name
        host = valid_host(name) if name else None
        if host:
            srv = find_server(entry, host, explain=False)[0]
            chosen = contexts.get(id(srv))
            if chosen is not None and chosen is not obj.context:
                obj.context = chosen

    default.sni_callback = servername
    return default


def conf_dir(engine: Engine) -> str:
    """Where relative certificate paths start: the configuration file's directory."""
    return os.path.dirname(os.path.abspath(engine.http.cfg.conf_path))


def load_certificates(engine: Engine) -> None:
    """Load the certificates of every ssl address, as ``nginx -t`` does; TlsError, worded
    as nginx's [emerg], for the first that does not load."""
    for entry in engine.http.cfg.addresses.values():
        if entry.ssl:
            address_context(entry, conf_dir(engine))


def _full_name(path: str, conf_prefix: str) -> str:
    """ngx_conf_full_name: a relative file is under the configuration's directory."""
    return path if os.path.isabs(path) else os.path.join(conf_prefix, path)


class TlsTransport(asyncio.Transport):
    """What the HTTP connection writes to on a TLS connection: application bytes in,
    records out to the socket's transport."""

    def __init__(self, raw: asyncio.Transport, obj: ssl.SSLObject,
                 outgoing: ssl.MemoryBIO) -> None:
        super().__init__()
        self.raw, self.obj, self.outgoing = raw, obj, outgoing
        self.closing = False

    def flush(self) -> None:
        data = self.outgoing.read()
        if data and not self.raw.is_closing():
            self.raw.write(data)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.closing:
            return
        try:
            self.obj.write(data)
        except ssl.SSLError:
            self.abort()
            return
        self.flush()

    def writelines(self, parts: Any) -> None:
        self.write(b"".join(parts))

    def can_write_eof(self) -> bool:
        return False  # TLS has no half-close: the connection closes at once

    def close(self) -> None:
        if self.closing:
            return
        self.closing = True
        try:
            self.obj.unwrap()  # close_notify, as ngx_ssl_shutdown sends
        except (ssl.SSLError, ValueError):
            pass
        self.flush()
        self.raw.close()

    def abort(self) -> None:
        self.closing = True
        self.raw.abort()

    def is_closing(self) -> bool:
        return self.closing or self.raw.is_closing()

    def pause_reading(self) -> None:
        self.raw.pause_reading()

    def resume_reading(self) -> None:
        self.raw.resume_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "ssl_object":
            return self.obj
        return self.raw.get_extra_info(name, default)

    def get_write_buffer_size(self) -> int:
        return self.raw.get_write_buffer_size()


class TlsGate(asyncio.Protocol):
    """The protocol of a connection to an ssl address, in front of its HTTP connection."""

    def __init__(self, app: HttpConnection, context: ssl.SSLContext) -> None:
        self.app = app
        self.context = context
        self.raw: asyncio.Transport | None = None
        self.tls: TlsTransport | None = None
        self.incoming = ssl.MemoryBIO()
        self.decided = False
        self.handshaken = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.raw = transport  # type: ignore[assignment]
        self.app.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self.decided:
            self.decided = True
            if not (data[0] & 0x80 or data[0] == 0x16):
                self.app.plain_on_https = True  # answered 497 once its head is read
        if self.app.plain_on_https:
            self.app.data_received(data)
            return
        if self.tls is None:
            outgoing = ssl.MemoryBIO()
            obj = self.context.wrap_bio(self.incoming, outgoing, server_side=True)
            self.tls = TlsTransport(self.raw, obj, outgoing)  # type: ignore[arg-type]
            self.app.transport = self.tls
        self.incoming.write(data)
        tls = self.tls
        if not self.handshaken:
            try:
                tls.obj.do_handshake()
            except ssl.SSLWantReadError:
                tls.flush()
                return
            except (ssl.SSLError, OSError) as exc:
                tls.flush()
                self.app.close_with("info", f"SSL_do_handshake() failed (SSL: {_reason(exc)})"
                                            " while SSL handshaking")
                return
            self.handshaken = True
            tls.flush()
            self.app.tls = tls_facts(tls.obj)
        chunks = []
        while True:
            try:
                chunk = tls.obj.read(_READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:  # the client's close_notify
                break
            except (ssl.SSLError, OSError) as exc:
                self.app.close_with("info", f"SSL_read() failed (SSL: {_reason(exc)})"
                                            " while reading client request")
                return
            if not chunk:
                break
            chunks.append(chunk)
        tls.flush()
        if chunks:
            self.app.data_received(b"".join(chunks))

    def eof_received(self) -> bool | None:
        return self.app.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.app.connection_lost(exc)

    def pause_writing(self) -> None:
        self.app.pause_writing()

    def resume_writing(self) -> None:
        self.app.resume_writing()


def tls_facts(obj: ssl.SSLObject) -> dict[str, str]:
    """The ``$ssl_*`` variables of a handshaken connection."""
    cipher = obj.cipher()
    return {"ssl_protocol": obj.version() or "", "ssl_cipher": cipher[0] if cipher else "",
            "ssl_server_name": getattr(obj, "sni_name", ""),
            "ssl_session_reused": "r" if obj.session_reused else ".",
            "ssl_alpn_protocol": obj.selected_alpn_protocol() or ""}


def _reason(exc: BaseException) -> str:
    """The OpenSSL error as nginx prints it (ERR_error_string_n of OpenSSL 3):
    ``error:0A00010B:SSL routines::wrong version number``."""
    reason = getattr(exc, "reason", None)
    codes = _ssl.err_names_to_codes.get(reason) if reason else None
    if codes is None:
        return str(exc)
    lib, code = codes
    text = str(exc).split("] ", 1)[-1].rsplit(" (_ssl.c", 1)[0]
    return f"error:{(lib & 0xFF) << 23 | code:08X}:SSL routines::{text}"
