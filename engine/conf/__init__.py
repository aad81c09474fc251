"""Reading nginx configuration: parse, include, validate (``nginx -t`` semantics).

    from engine.conf import load
    parsed = load("conf/nginx.conf", prefix="/srv/site", global_directives="daemon off;")

Errors are :class:`ConfigError` with nginx's exact wording and ``file:line``.
"""

from .ast import Comment, ConfigFile, Directive, ParsedConfig, iter_directives
from .errors import ConfigError
from .loader import BUNDLED_MIME_TYPES, PostParseError, default_prefix, load, load_text

__all__ = [
    "BUNDLED_MIME_TYPES",
    "Comment",
    "ConfigError",
    "ConfigFile",
    "Directive",
    "ParsedConfig",
    "PostParseError",
    "default_prefix",
    "iter_directives",
    "load",
    "load_text",
]
