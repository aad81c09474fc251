"""The variables of nginx modules the engine does not model.

Debian's nginx is built with the ssl, http2, fastcgi, ssi, userid, browser and slice
modules; their variables exist even where the modules do nothing, so a configuration or
a log format that names them must load. Each reads what nginx gives on a plain HTTP/1.x
request in a location where the module is not configured: mostly "not found" (an empty
string in a complex value, nil in ``ngx.var``), and a few found values (``$http2`` is
empty, ``$ancient_browser`` is "1" without ``modern_browser`` rules; ``$date_local``
and ``$date_gmt`` are the ssi module's). ``$fastcgi_script_name`` and
``$fastcgi_path_info`` follow ``fastcgi_index`` and ``fastcgi_split_path_info``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..http.phases import HttpModule
from ..http.regex import Regex
from ..http.user_agent import browser

if TYPE_CHECKING:
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

_NOT_FOUND = (
    "ssl_protocol", "ssl_cipher", "ssl_ciphers", "ssl_curves", "ssl_server_name",
    "ssl_alpn_protocol", "ssl_session_id", "ssl_session_reused", "ssl_early_data",
    "ssl_client_verify", "ssl_client_cert", "ssl_client_raw_cert",
    "ssl_client_escaped_cert", "ssl_client_s_dn", "ssl_client_i_dn",
    "ssl_client_s_dn_legacy", "ssl_client_i_dn_legacy", "ssl_client_serial",
    "ssl_client_fingerprint", "ssl_client_v_start", "ssl_client_v_end",
    "ssl_client_v_remain", "uid_got", "uid_set", "slice_range",
)


class UnmodelledModule(HttpModule):
    name = "ngx_http_unmodelled_variables"

    def init(self, engine: HttpEngine) -> None:
        add = engine.variables.add
        for name in _NOT_FOUND:
            add(name, _not_found)
        add("uid_reset", lambda r: "")
        add("http2", lambda r: "")
        add("msie", lambda r: "1" if browser(r.main.headers_in.get("user-agent")).msie
            else "")
        add("ancient_browser", lambda r: "1")
        add("modern_browser", lambda r: "")
        add("fastcgi_script_name", lambda r: _fastcgi(r)[0])
        add("fastcgi_path_info", lambda r: _fastcgi(r)[1])

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        for block in cfg.blocks:
            d = block.first("fastcgi_split_path_info")
            if d is not None:
                block.mod[self.name] = Regex.for_directive(d.args[0], False, d.file, d.line)


def _not_found(r: Request) -> None:
    return None


def _fastcgi(r: Request) -> tuple[str, str]:
    """(script name, path info): ``fastcgi_split_path_info``'s two captures when its
    regex matches the URI, else the URI and ""; ``fastcgi_index`` appended to a URI
    that ends with a slash."""
    uri, info = r.uri, ""
    split: Regex | None = r.loc.mod.get(UnmodelledModule.name)
    if split is not None:
        caps = split.exec(uri)
        if caps is not None and len(caps) > 2:
            uri, info = caps[1] or "", caps[2] or ""
    if uri.endswith("/"):
        uri += r.loc.value("fastcgi_index", "") or ""
    return uri, info
