"""nginx's generic value slots: which directives read a size, an offset, a time, a number,
an enum or a bitmask, and the exact checks ``ngx_conf_set_*_slot`` make.

nginx checks these values while it reads the file (in the directive's handler), so an
invalid ``client_max_body_size 10x`` is reported before anything later in the file. The
lists were taken from the real binary (Debian's nginx 1.22.1 + ngx_lua 0.10.23): each
directive was fed ``1q``, ``1k``, ``1g``, ``1s`` and ``500ms`` (and every known keyword for
enums and bitmasks) and classified by what ``nginx -t`` accepted.
"""

from __future__ import annotations

from ..ast import Directive

__all__ = ["slot_error", "slot_warnings", "nginx_size", "nginx_time", "nginx_int"]

_MAX = (1 << 63) - 1

SIZE = """
connection_pool_size request_pool_size client_header_buffer_size client_body_buffer_size
sendfile_max_chunk subrequest_output_buffer_size read_ahead send_lowat postpone_output
limit_rate limit_rate_after gzip_window gzip_hash postpone_gzipping gzip_min_length
ssl_buffer_size http2_recv_buffer_size http2_pool_size http2_body_preread_size
http2_chunk_size ssi_min_file_chunk ssi_value_length slice mp4_buffer_size
mp4_max_buffer_size proxy_buffer_size proxy_busy_buffers_size proxy_limit_rate
proxy_max_temp_file_size proxy_temp_file_write_size proxy_send_lowat fastcgi_buffer_size
fastcgi_busy_buffers_size fastcgi_limit_rate fastcgi_max_temp_file_size
fastcgi_temp_file_write_size fastcgi_send_lowat uwsgi_buffer_size
uwsgi_busy_buffers_size uwsgi_limit_rate uwsgi_max_temp_file_size
uwsgi_temp_file_write_size scgi_buffer_size scgi_busy_buffers_size scgi_limit_rate
scgi_max_temp_file_size scgi_temp_file_write_size grpc_buffer_size memcached_buffer_size
lua_socket_send_lowat lua_socket_buffer_size
"""
OFFSET = """
worker_rlimit_core client_max_body_size directio directio_alignment
proxy_cache_max_range_offset fastcgi_cache_max_range_offset uwsgi_cache_max_range_offset
scgi_cache_max_range_offset
"""
MSEC = """
timer_resolution worker_shutdown_timeout accept_mutex_delay client_header_timeout
client_body_timeout send_timeout keepalive_time auth_delay lingering_time
lingering_timeout resolver_timeout proxy_connect_timeout proxy_send_timeout
proxy_read_timeout proxy_cache_lock_timeout proxy_cache_lock_age
proxy_next_upstream_timeout fastcgi_connect_timeout fastcgi_send_timeout
fastcgi_read_timeout fastcgi_cache_lock_timeout fastcgi_cache_lock_age
fastcgi_next_upstream_timeout uwsgi_connect_timeout uwsgi_send_timeout
uwsgi_read_timeout uwsgi_cache_lock_timeout uwsgi_cache_lock_age
uwsgi_next_upstream_timeout scgi_connect_timeout scgi_send_timeout scgi_read_timeout
scgi_cache_lock_timeout scgi_cache_lock_age scgi_next_upstream_timeout
grpc_connect_timeout grpc_send_timeout grpc_read_timeout grpc_next_upstream_timeout
memcached_connect_timeout memcached_send_timeout memcached_read_timeout
memcached_next_upstream_timeout lua_socket_keepalive_timeout lua_socket_connect_timeout
lua_socket_send_timeout lua_socket_read_timeout
"""
SEC = """
open_file_cache_valid ssl_session_timeout
"""
NUM = """
worker_rlimit_nofile epoll_events worker_aio_requests variables_hash_max_size
variables_hash_bucket_size server_names_hash_max_size server_names_hash_bucket_size
types_hash_max_size types_hash_bucket_size keepalive_requests open_file_cache_min_uses
max_ranges gzip_comp_level ssl_verify_depth http2_max_concurrent_streams
http2_max_concurrent_pushes http2_streams_index_size limit_req_status limit_conn_status
map_hash_max_size map_hash_bucket_size referer_hash_max_size referer_hash_bucket_size
userid_service min_delete_depth proxy_cache_min_uses proxy_next_upstream_tries
proxy_ssl_verify_depth proxy_headers_hash_max_size proxy_headers_hash_bucket_size
fastcgi_cache_min_uses fastcgi_next_upstream_tries uwsgi_cache_min_uses
uwsgi_next_upstream_tries uwsgi_ssl_verify_depth uwsgi_modifier1 uwsgi_modifier2
scgi_cache_min_uses scgi_next_upstream_tries grpc_ssl_verify_depth
grpc_next_upstream_tries memcached_next_upstream_tries memcached_gzip_flag
lua_thread_cache_max_entries lua_max_running_timers lua_max_pending_timers
lua_regex_cache_max_entries lua_regex_match_limit lua_worker_thread_vm_pool_size
lua_socket_pool_size lua_ssl_verify_depth
"""
#: ngx_conf_set_bufs_slot: "NUMBER SIZE", both non-zero.
BUFS = """
large_client_header_buffers output_buffers gunzip_buffers gzip_buffers proxy_buffers
fastcgi_buffers uwsgi_buffers scgi_buffers grpc_buffers
"""

#: (directives, "enum"|"bitmask", accepted keywords, compared case-insensitively)
_KEYWORDS = [
    ("debug_points", "enum", "stop abort"),
    ("client_body_in_file_only", "enum", "on off clean"),
    ("satisfy", "enum", "all any"),
    ("lingering_close gzip_static", "enum", "on off always"),
    ("server_tokens", "enum", "on off build"),
    ("if_modified_since", "enum", "off exact before"),
    ("autoindex_format", "enum", "html xml json jsonp"),
    ("ssl_verify_client", "enum", "on off optional optional_no_ca"),
    ("ssl_ocsp", "enum", "on off leaf"),
    ("userid", "enum", "on off v1 log"),
    ("proxy_http_version gzip_http_version", "enum", "1.0 1.1"),
    ("limit_req_log_level limit_conn_log_level", "enum", "error info notice warn"),
    ("ssl_protocols proxy_ssl_protocols uwsgi_ssl_protocols grpc_ssl_protocols "
     "lua_ssl_protocols", "bitmask", "SSLv2 SSLv3 TLSv1 TLSv1.1 TLSv1.2 TLSv1.3"),
    ("userid_flags", "bitmask",
     "off secure httponly samesite=strict samesite=lax samesite=none"),
    ("dav_methods", "bitmask", "off PUT DELETE MKCOL COPY MOVE"),
    ("proxy_next_upstream proxy_cache_use_stale", "bitmask",
     "off error timeout invalid_header updating non_idempotent http_500 http_502 http_503 "
     "http_504 http_403 http_404 http_429"),
    ("fastcgi_cache_use_stale fastcgi_next_upstream uwsgi_cache_use_stale "
     "uwsgi_next_upstream scgi_cache_use_stale scgi_next_upstream", "bitmask",
     "off error timeout invalid_header updating non_idempotent http_500 http_503 http_403 "
     "http_404 http_429"),
    ("grpc_next_upstream", "bitmask",
     "off error timeout invalid_header non_idempotent http_500 http_502 http_503 http_504 "
     "http_403 http_404 http_429"),
    ("memcached_next_upstream", "bitmask", "off error timeout invalid_response not_found"),
    ("fastcgi_cache_methods uwsgi_cache_methods scgi_cache_methods proxy_cache_methods",
     "bitmask", "GET HEAD POST"),
    ("fastcgi_ignore_headers uwsgi_ignore_headers scgi_ignore_headers grpc_ignore_headers "
     "proxy_ignore_headers", "bitmask",
     "X-Accel-Redirect X-Accel-Expires X-Accel-Limit-Rate X-Accel-Buffering "
     "X-Accel-Charset Expires Cache-Control Set-Cookie Vary"),
    ("gzip_proxied", "bitmask",
     "off any expired no-cache no-store private no_last_modified no_etag auth"),
    ("keepalive_disable", "bitmask", "none msie6 safari"),
]


def _table() -> dict[str, tuple[str, frozenset[str]]]:
    out: dict[str, tuple[str, frozenset[str]]] = {}
    for kind, names in (("size", SIZE), ("offset", OFFSET), ("msec", MSEC), ("sec", SEC),
                        ("num", NUM), ("bufs", BUFS)):
        for name in names.split():
            out[name] = (kind, frozenset())
    for names, kind, words in _KEYWORDS:
        for name in names.split():
            out[name] = (kind, frozenset(w.lower() for w in words.split()))
    return out


_SLOTS = _table()


def nginx_int(text: str) -> int | None:
    """``ngx_atoi``: ASCII digits only, no sign, up to NGX_MAX_INT_T_VALUE."""
    if not text or not all("0" <= c <= "9" for c in text):
        return None
    value = int(text)
    return value if value <= _MAX else None


def nginx_size(text: str, offset: bool = False) -> int | None:
    """``ngx_parse_size`` (k/m suffixes) or, with ``offset``, ``ngx_parse_offset`` (g too)."""
    units = {"k": 1 << 10, "m": 1 << 20}
    if offset:
        units["g"] = 1 << 30
    scale = units.get(text[-1:].lower(), 1)
    digits = text[:-1] if scale > 1 else text
    value = nginx_int(digits)
    if value is None or value > _MAX // scale:
        return None
    return value * scale


_STEPS = {"y": (1, 31536000), "M": (2, 2592000), "w": (3, 604800), "d": (4, 86400),
          "h": (5, 3600), "m": (6, 60), "s": (7, 1)}
_MSEC, _LAST = 8, 9


def nginx_time(text: str, is_sec: bool) -> int | None:
    """``ngx_parse_time``: units in decreasing order, each once; ``ms`` only for msec
    values (which also refuse ``y`` and ``M``); a space ends the units, a bare trailing
    number is seconds. The result is in seconds (``is_sec``) or milliseconds."""
    step = 0 if is_sec else 2
    value = total = 0
    valid = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        i += 1
        if "0" <= ch <= "9":
            value = value * 10 + ord(ch) - 48
            if value > _MAX:
                return None
            valid = True
            continue
        if ch == "m" and i < n and text[i] == "s":
            if is_sec or step >= _MSEC:
                return None
            i += 1
            step, scale = _MSEC, 1
        elif ch in _STEPS:
            order, scale = _STEPS[ch]
            if (ch == "y" and step > 0) or (ch != "y" and step >= order):
                return None
            step = order
        elif ch == " ":
            if step >= _STEPS["s"][0]:
                return None
            step, scale = _LAST, 1
        else:
            return None
        if step != _MSEC and not is_sec:
            scale *= 1000
        value *= scale
        if value > _MAX or total > _MAX - value:
            return None
        total += value
        value = 0
        while i < n and text[i] == " ":
            i += 1
    if not valid:
        return None
    if not is_sec:
        value *= 1000
    return total + value if total + value <= _MAX else None


#: ngx_conf_check_num_bounds: the number slots with a range.
_BOUNDS = {"uwsgi_modifier1": (0, 255), "uwsgi_modifier2": (0, 255),
           "gzip_comp_level": (1, 9), "limit_req_status": (400, 599),
           "limit_conn_status": (400, 599)}

#: The gzip sizes zlib takes (powers of two from 512), as their post handlers list them.
_ZLIB_SIZES = {"gzip_window": "512 1k 2k 4k 8k 16k 32k".split(),
               "gzip_hash": "512 1k 2k 4k 8k 16k 32k 64k 128k".split()}

#: The size slots that take variables (checked at run time) since nginx 1.17.0.
_COMPLEX_SIZE = frozenset({"limit_rate", "limit_rate_after"})


def slot_error(d: Directive) -> str | None:
    """The message nginx gives for a value its generic slot rejects, else None."""
    name, args = d.name, d.args
    if name == "keepalive_timeout":  # msec, then an optional header value in seconds
        bad = nginx_time(args[0], False) is None or (
            len(args) > 1 and nginx_time(args[1], True) is None)
        return f'"{name}" directive invalid value' if bad else None
    if name == "worker_processes":
        ok = args[0] == "auto" or nginx_int(args[0]) is not None
        return None if ok else f'"{name}" directive invalid value'
    if name == "worker_connections":
        return None if nginx_int(args[0]) is not None else f'invalid number "{args[0]}"'
    if name == "http2_streams_index_size" and nginx_int(args[0]) is not None:
        number = int(args[0])  # its post handler
        return None if number and not number & (number - 1) else \
            f'"{name}" directive must be a power of two'
    slot = _SLOTS.get(name)
    if slot is None:
        return None
    kind, words = slot
    if kind in ("enum", "bitmask"):
        bad = next((a for a in args if a.lower() not in words), None)
        return f'invalid value "{bad}"' if bad is not None else None
    if kind == "bufs":
        if len(args) != 2:
            return None
        ok = nginx_int(args[0]) and nginx_size(args[1])
        return None if ok else f'"{name}" directive invalid value'
    if len(args) != 1:
        return None
    value = args[0]
    if kind == "num":
        number = nginx_int(value)
        if number is None:
            return f'"{name}" directive invalid number'
        low, high = _BOUNDS.get(name, (0, _MAX))
        return None if low <= number <= high else f"value must be between {low} and {high}"
    if name in _COMPLEX_SIZE and "$" in value:
        # ngx_http_set_complex_value_size_slot: a size only without variables
        from .upstream_checks import complex_value_error
        return complex_value_error(value)
    if name in _ZLIB_SIZES and nginx_size(value) is not None:
        allowed = _ZLIB_SIZES[name]
        if nginx_size(value) not in [512 << i for i in range(len(allowed))]:
            return f'"{name}" directive must be {", ".join(allowed[:-1])}, or {allowed[-1]}'
        return None
    if name == "http2_chunk_size" and nginx_size(value) == 0:
        return "the http2 chunk size cannot be zero"
    if name in ("connection_pool_size", "request_pool_size", "http2_pool_size"):
        size = nginx_size(value)
        if size is None:
            return f'"{name}" directive invalid value'
        if size < 112:  # ngx_http_core_pool_size: NGX_MIN_POOL_SIZE on x86_64
            return "the pool size must be no less than 112"
        return None if size % 16 == 0 else "the pool size must be a multiple of 16"
    if name == "http2_recv_buffer_size":  # its post handler: more than 2 state buffers
        size = nginx_size(value)
        if size is None:
            return f'"{name}" directive invalid value'
        return None if size > 2 * 16 else f'"{name}" directive value is too small'
    if kind in ("size", "offset"):
        ok = nginx_size(value, kind == "offset") is not None
    else:
        ok = nginx_time(value, kind == "sec") is not None
    if name == "directio" and value == "off":
        ok = True
    return None if ok else f'"{name}" directive invalid value'


#: The lowat directives and the name their post handler warns with.
_LOWAT = {"send_lowat": "send_lowat", "proxy_send_lowat": "proxy_send_lowat",
          "fastcgi_send_lowat": "fastcgi_send_lowat", "lua_socket_send_lowat": "lua_send_lowat"}


def slot_warnings(d: Directive) -> list[str]:
    """``ngx_conf_set_bitmask_slot``'s ``[warn]`` for a keyword given twice, and
    the lowat post handlers (Linux has no SO_SNDLOWAT: any value is ignored)."""
    if d.name in _LOWAT:
        return [f'"{_LOWAT[d.name]}" is not supported, ignored']
    slot = _SLOTS.get(d.name)
    if slot is None or slot[0] != "bitmask":
        return []
    seen: set[str] = set()
    out = []
    for a in d.args:
        if a.lower() in seen:
            out.append(f'duplicate value "{a}"')
        seen.add(a.lower())
    return out
