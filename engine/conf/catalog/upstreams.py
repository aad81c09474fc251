"""Upstream blocks, balancers and the proxy-like handlers (proxy, fastcgi, uwsgi, scgi,
grpc, memcached) of nginx 1.22.1. Rows: ``name contexts arity [flags]``.

The four cache-capable handlers share most of their directive set, so their rows are
generated from one template with the prefix substituted, as nginx's sources are.
"""

MODULES: dict[str, str] = {}

MODULES["ngx_http_upstream_module"] = """
upstream                h      1     b m N
server                  u      +     m
"""

MODULES["ngx_http_upstream_hash_module"] = """
hash                    u      12    m
"""

MODULES["ngx_http_upstream_ip_hash_module"] = """
ip_hash                 u      0     m
"""

MODULES["ngx_http_upstream_least_conn_module"] = """
least_conn              u      0     m
"""

MODULES["ngx_http_upstream_random_module"] = """
random                  u      012   m
"""

MODULES["ngx_http_upstream_keepalive_module"] = """
keepalive               u      1
keepalive_timeout       u      1
keepalive_requests      u      1
keepalive_time          u      1
"""

MODULES["ngx_http_upstream_zone_module"] = """
zone                    u      12    m
"""

# Shared by proxy/fastcgi/uwsgi/scgi (the upstream "conf" block of each module).
_COMMON = """
{p}_pass                    li    1     N
{p}_store                   hsl   1
{p}_store_access            hsl   123
{p}_buffering               hsl   F
{p}_request_buffering       hsl   F
{p}_ignore_client_abort     hsl   F
{p}_bind                    hsl   12
{p}_socket_keepalive        hsl   F
{p}_connect_timeout         hsl   1
{p}_send_timeout            hsl   1
{p}_buffer_size             hsl   1
{p}_read_timeout            hsl   1
{p}_buffers                 hsl   2
{p}_busy_buffers_size       hsl   1
{p}_force_ranges            hsl   F
{p}_limit_rate              hsl   1
{p}_intercept_errors        hsl   F
{p}_pass_request_headers    hsl   F
{p}_pass_request_body       hsl   F
{p}_cache                   hsl   1
{p}_cache_key               hsl   1
{p}_cache_path              h     2+    m
{p}_cache_bypass            hsl   +     m A
{p}_no_cache                hsl   +     m A
{p}_cache_valid             hsl   +     m A
{p}_cache_min_uses          hsl   1
{p}_cache_max_range_offset  hsl   1
{p}_cache_use_stale         hsl   +     m
{p}_cache_methods           hsl   +     m
{p}_cache_lock              hsl   F
{p}_cache_lock_timeout      hsl   1
{p}_cache_lock_age          hsl   1
{p}_cache_revalidate        hsl   F
{p}_cache_background_update hsl   F
{p}_temp_path               hsl   1234
{p}_max_temp_file_size      hsl   1
{p}_temp_file_write_size    hsl   1
{p}_next_upstream           hsl   +     m
{p}_next_upstream_tries     hsl   1
{p}_next_upstream_timeout   hsl   1
{p}_pass_header             hsl   1     m A
{p}_hide_header             hsl   1     m A
{p}_ignore_headers          hsl   +     m
"""

_SSL = """
{p}_ssl_session_reuse       hsl   F
{p}_ssl_protocols           hsl   +     m
{p}_ssl_ciphers             hsl   1
{p}_ssl_name                hsl   1
{p}_ssl_server_name         hsl   F
{p}_ssl_verify              hsl   F
{p}_ssl_verify_depth        hsl   1
{p}_ssl_trusted_certificate hsl   1
{p}_ssl_crl                 hsl   1
{p}_ssl_certificate         hsl   1
{p}_ssl_certificate_key     hsl   1
{p}_ssl_password_file       hsl   1
{p}_ssl_conf_command        hsl   2     m A
"""

MODULES["ngx_http_proxy_module"] = _COMMON.format(p="proxy").replace(
    "proxy_pass                    li ", "proxy_pass                    lix") + _SSL.format(p="proxy") + """
proxy_redirect              hsl   12    m A
proxy_cookie_domain         hsl   12    m A
proxy_cookie_path           hsl   12    m A
proxy_cookie_flags          hsl   1234  m A
proxy_send_lowat            hsl   1
proxy_set_header            hsl   2     m A
proxy_headers_hash_max_size     hsl   1
proxy_headers_hash_bucket_size  hsl   1
proxy_set_body              hsl   1
proxy_method                hsl   1
proxy_cache_convert_head    hsl   F
proxy_http_version          hsl   1
"""

MODULES["ngx_http_fastcgi_module"] = _COMMON.format(p="fastcgi") + """
fastcgi_index               hsl   1
fastcgi_split_path_info     hsl   1
fastcgi_send_lowat          hsl   1
fastcgi_param               hsl   23    m A
fastcgi_catch_stderr        hsl   1     m A
fastcgi_keep_conn           hsl   F
"""

MODULES["ngx_http_uwsgi_module"] = _COMMON.format(p="uwsgi") + _SSL.format(p="uwsgi") + """
uwsgi_modifier1             hsl   1
uwsgi_modifier2             hsl   1
uwsgi_param                 hsl   23    m A
uwsgi_string                hsl   1
"""

MODULES["ngx_http_scgi_module"] = _COMMON.format(p="scgi") + """
scgi_param                  hsl   23    m A
"""

MODULES["ngx_http_grpc_module"] = _SSL.format(p="grpc") + """
grpc_pass                   li    1     N
grpc_bind                   hsl   12
grpc_socket_keepalive       hsl   F
grpc_connect_timeout        hsl   1
grpc_send_timeout           hsl   1
grpc_intercept_errors       hsl   F
grpc_buffer_size            hsl   1
grpc_read_timeout           hsl   1
grpc_next_upstream          hsl   +     m
grpc_next_upstream_tries    hsl   1
grpc_next_upstream_timeout  hsl   1
grpc_set_header             hsl   2     m A
grpc_pass_header            hsl   1     m A
grpc_hide_header            hsl   1     m A
grpc_ignore_headers         hsl   +     m
"""

MODULES["ngx_http_memcached_module"] = """
memcached_pass                  li    1     N
memcached_bind                  hsl   12
memcached_socket_keepalive      hsl   F
memcached_connect_timeout       hsl   1
memcached_send_timeout          hsl   1
memcached_buffer_size           hsl   1
memcached_read_timeout          hsl   1
memcached_next_upstream         hsl   +     m
memcached_next_upstream_tries   hsl   1
memcached_next_upstream_timeout hsl   1
memcached_gzip_flag             hsl   1
"""
