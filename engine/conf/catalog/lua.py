"""ngx_devel_kit and ngx_lua 0.10.23 (Debian's libnginx-mod-http-ndk / -lua).

Rows: ``name contexts arity [flags]``. ``*_by_lua_block`` rows are NGX_CONF_BLOCK with
NOARGS (``set_by_lua_block`` takes the variable: TAKE1); the parser stores their bodies
in ``Directive.lua_source``. The handler slots shared by ``x_by_lua``, ``x_by_lua_block``
and ``x_by_lua_file`` are listed in ``catalog.DUP_GROUPS``.
"""

MODULES: dict[str, str] = {}

# NDK as packaged by Debian registers no directives of its own (it is a library for
# other modules); the entry exists so module_specs("ndk_http_module") answers [].
MODULES["ndk_http_module"] = ""

MODULES["ngx_http_lua_module"] = """
lua_load_resty_core                 h      1    m
lua_thread_cache_max_entries        h      1
lua_max_running_timers              h      1
lua_max_pending_timers              h      1
lua_shared_dict                     h      2     m
lua_capture_error_log               h      1
lua_sa_restart                      h      F
lua_regex_cache_max_entries         h      1
lua_regex_match_limit               h      1
lua_package_cpath                   h      1
lua_package_path                    h      1
lua_code_cache                      hsli   F
lua_need_request_body               hsli   F
lua_transform_underscores_in_response_headers   hsli   F
lua_socket_log_errors               hsli   F
lua_malloc_trim                     h      1
lua_worker_thread_vm_pool_size      h      1
init_by_lua                         h      1     N
init_by_lua_block                   h      0     b N
init_by_lua_file                    h      1     N
init_worker_by_lua                  h      1     N
init_worker_by_lua_block            h      0     b N
init_worker_by_lua_file             h      1     N
exit_worker_by_lua_block            h      0     b N
exit_worker_by_lua_file             h      1     N
set_by_lua                          sfli   2+    m N
set_by_lua_block                    sfli   1     b m N
set_by_lua_file                     sfli   2+    m N
server_rewrite_by_lua_block         hs     0     b
server_rewrite_by_lua_file          hs     1
rewrite_by_lua                      hsli   1
rewrite_by_lua_block                hsli   0     b
rewrite_by_lua_file                 hsli   1
rewrite_by_lua_no_postpone          h      F
access_by_lua                       hsli   1
access_by_lua_block                 hsli   0     b
access_by_lua_file                  hsli   1
access_by_lua_no_postpone           h      F
content_by_lua                      li     1     N
content_by_lua_block                li     0     b N
content_by_lua_file                 li     1     N
log_by_lua                          hsli   1
log_by_lua_block                    hsli   0     b
log_by_lua_file                     hsli   1
header_filter_by_lua                hsli   1
header_filter_by_lua_block          hsli   0     b
header_filter_by_lua_file           hsli   1
body_filter_by_lua                  hsli   1
body_filter_by_lua_block            hsli   0     b
body_filter_by_lua_file             hsli   1
balancer_by_lua_block               u      0     b N
balancer_by_lua_file                u      1     N
lua_socket_keepalive_timeout        hsli   1
lua_socket_connect_timeout          hsli   1
lua_socket_send_timeout             hsli   1
lua_socket_send_lowat               hsli   1
lua_socket_buffer_size              hsli   1
lua_socket_pool_size                hsli   1
lua_socket_read_timeout             hsli   1
lua_http10_buffering                hsli   F
lua_check_client_abort              hsli   F
lua_use_default_type                hsli   F
ssl_client_hello_by_lua_block       hs     0     b N
ssl_client_hello_by_lua_file        hs     1     N
ssl_certificate_by_lua_block        hs     0     b N
ssl_certificate_by_lua_file         hs     1     N
ssl_session_store_by_lua_block      h      0     b N
ssl_session_store_by_lua_file       h      1     N
ssl_session_fetch_by_lua_block      h      0     b N
ssl_session_fetch_by_lua_file       h      1     N
lua_ssl_verify_depth                hsl    1
lua_ssl_trusted_certificate         hsl    1
lua_ssl_crl                         hsl    1
lua_ssl_protocols                   hsl    +     m
lua_ssl_ciphers                     hsl    1
lua_ssl_conf_command                hsl    2     m A
"""
