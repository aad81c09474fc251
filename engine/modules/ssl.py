"""ngx_http_ssl_module's variables: what the TLS handshake of the request's connection
agreed on. The handshake itself is the listener's (engine/server/tls.py), which hands its
facts to the engine with the request (``HttpRequest.tls``); on a plain connection every
one of them is "not found", as in nginx."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..http.phases import HttpModule

if TYPE_CHECKING:
    from ..http.engine import HttpEngine
    from ..http.request import Request

#: The variables a handshake sets (the client-certificate ones stay unmodelled).
FACTS = ("ssl_protocol", "ssl_cipher", "ssl_server_name", "ssl_session_reused",
         "ssl_alpn_protocol")


class SslModule(HttpModule):
    name = "ngx_http_ssl_module"
    #: what the listener's TLS uses (engine/server/tls.py)
    directives = frozenset({"ssl", "ssl_certificate", "ssl_certificate_key", "ssl_protocols",
                            "ssl_ciphers"})

    def init(self, engine: HttpEngine) -> None:
        for name in FACTS:
            engine.variables.add(name, _fact(name))


def _fact(name: str) -> Callable[[Request], str | None]:
    def get(r: Request) -> str | None:
        tls = r.conn.tls
        return tls.get(name) if tls is not None else None
    return get
