"""The variables of nginx modules the engine does not model.

Debian's nginx is built with the ssl, http2, fastcgi, ssi, userid, browser and slice
modules; their variables exist even where the modules do nothing, so a configuration or
a log format that names them must load. Each reads what nginx gives on a plain HTTP/1.x
request in a location where the module is not configured: mostly "not found" (an empty
string in a complex value, nil in ``ngx.var``), and a few found values (``$http2`` is
empty, ``$ancient_browser`` is "1" without ``modern_browser`` rules; ``$date_local``
and ``$date_gmt`` are the ssi module's). (``$fastcgi_script_name`` and
``$fastcgi_path_info`` are the fastcgi module's, engine/modules/fastcgi.py.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..conf.catalog.value_checks import unknown_variable
from ..conf.errors import ConfigError
from ..http.phases import HttpModule
from ..http.user_agent import browser

if TYPE_CHECKING:
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

_NOT_FOUND = (
    "ssl_ciphers", "ssl_curves", "ssl_session_id", "ssl_early_data",
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

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        """nginx finds an unknown variable once everything is read, whichever module
        compiled it: this does it for the directives no module here models."""
        modelled = frozenset().union(*(m.directives for m in engine.modules))
        for block in cfg.blocks:
            msg = unknown_variable(block.items, engine.variables.known, modelled)
            if msg:
                raise ConfigError(msg)


def _not_found(r: Request) -> None:
    return None

