"""ngx-explore's engine: nginx + ngx_lua modelled in Python, one traced request at a time.

    engine = Engine.load("conf/nginx.conf")
    exchange = await engine.request(HttpRequest("GET", "/", headers=[("Host", "x")]))
    exchange.response.status, exchange.trace, exchange.logs
"""

from .conf.errors import ConfigError
from .http.api import CollectingSink, Exchange, HttpRequest, Response, ResponseSink
from .http.log import LogRecord
from .http.trace import Event
from .instance import Engine

__all__ = [
    "CollectingSink",
    "ConfigError",
    "Engine",
    "Event",
    "Exchange",
    "HttpRequest",
    "LogRecord",
    "Response",
    "ResponseSink",
]
