"""Core, events and http core directives (nginx 1.22.1, Debian build).

Rows are ``name contexts arity [flags]``; see ``catalog/__init__.py`` for the syntax.
"""

MODULES: dict[str, str] = {}

MODULES["ngx_core_module"] = """
daemon                  m  F
master_process          m  F
timer_resolution        m  1
pid                     m  1
lock_file               m  1
worker_processes        m  1
debug_points            m  1
user                    m  12
worker_priority         m  1
worker_cpu_affinity     m  +
worker_rlimit_nofile    m  1
worker_rlimit_core      m  1
worker_shutdown_timeout m  1
working_directory       m  1
env                     m  1    m
load_module             m  1    m
"""

MODULES["ngx_conf_module"] = """
include                 *  1    m
"""

MODULES["ngx_errlog_module"] = """
error_log               m  +    m
"""

MODULES["ngx_regex_module"] = """
pcre_jit                m  F
"""

MODULES["ngx_thread_pool_module"] = """
thread_pool             m  23   m
"""

MODULES["ngx_openssl_module"] = """
ssl_engine              m  1
"""

MODULES["ngx_events_module"] = """
events                  m  0    b
"""

MODULES["ngx_event_core_module"] = """
worker_connections      e  1
use                     e  1
multi_accept            e  F
accept_mutex            e  F
accept_mutex_delay      e  1
debug_connection        e  1    m
"""

MODULES["ngx_epoll_module"] = """
epoll_events            e  1
worker_aio_requests     e  1
"""

MODULES["ngx_http_module"] = """
http                    m  0    b
"""

MODULES["ngx_http_core_module"] = """
variables_hash_max_size        h     1
variables_hash_bucket_size     h     1
server_names_hash_max_size     h     1
server_names_hash_bucket_size  h     1
server                         h     0     b m N
connection_pool_size           hs    1
request_pool_size              hs    1
client_header_timeout          hs    1
client_header_buffer_size      hs    1
large_client_header_buffers    hs    2
ignore_invalid_headers         hs    F
merge_slashes                  hs    F
underscores_in_headers         hs    F
location                       sl    12    b m N
listen                         s     +     m N
server_name                    s     +     m N
types_hash_max_size            hsl   1
types_hash_bucket_size         hsl   1
types                          hsl   0     b m
default_type                   hsl   1
root                           hsli  1
alias                          l     1
limit_except                   l     +     b N
client_max_body_size           hsl   1
client_body_buffer_size        hsl   1
client_body_timeout            hsl   1
client_body_temp_path          hsl   1234
client_body_in_file_only       hsl   1
client_body_in_single_buffer   hsl   F
sendfile                       hsli  F
sendfile_max_chunk             hsl   1
subrequest_output_buffer_size  hsl   1
aio                            hsl   1
aio_write                      hsl   F
read_ahead                     hsl   1
directio                       hsl   1
directio_alignment             hsl   1
tcp_nopush                     hsl   F
tcp_nodelay                    hsl   F
send_timeout                   hsl   1
send_lowat                     hsl   1
postpone_output                hsl   1
limit_rate                     hsli  1
limit_rate_after               hsli  1
keepalive_time                 hsl   1
keepalive_timeout              hsl   12
keepalive_requests             hsl   1
keepalive_disable              hsl   12    m
satisfy                        hsl   1
auth_delay                     hsl   1
internal                       l     0
lingering_close                hsl   1
lingering_time                 hsl   1
lingering_timeout              hsl   1
reset_timedout_connection      hsl   F
absolute_redirect              hsl   F
server_name_in_redirect        hsl   F
port_in_redirect               hsl   F
msie_padding                   hsl   F
msie_refresh                   hsl   F
log_not_found                  hsl   F
log_subrequest                 hsl   F
recursive_error_pages          hsl   F
server_tokens                  hsl   1
chunked_transfer_encoding      hsl   F
etag                           hsl   F
error_page                     hsli  2+    m A
post_action                    hsli  1
error_log                      hsl   +     m A
open_file_cache                hsl   12
open_file_cache_valid          hsl   1
open_file_cache_min_uses       hsl   1
open_file_cache_errors         hsl   F
open_file_cache_events         hsl   F
resolver                       hsl   +
resolver_timeout               hsl   1
gzip_vary                      hsl   F
gzip_http_version              hsl   1
gzip_proxied                   hsl   +     m
gzip_disable                   hsl   +     m
disable_symlinks               hsl   12
try_files                      sl    2+    N
if_modified_since              hsl   1
max_ranges                     hsl   1
"""

MODULES["ngx_http_log_module"] = """
log_format              h      2+    m
access_log              hslix  +     m A
open_log_file_cache     hsl    1234
"""

MODULES["ngx_http_copy_filter_module"] = """
output_buffers          hsl    2
"""

MODULES["ngx_http_rewrite_module"] = """
rewrite                      sfli   23   m N
return                       sfli   12   m N
break                        sfli   0    m N
if                           sl     +    b m N
set                          sfli   2    m N
rewrite_log                  hsfli  F
uninitialized_variable_warn  hsfli  F
"""

MODULES["ngx_http_index_module"] = """
index                   hsl    +     m A
"""

MODULES["ngx_http_autoindex_module"] = """
autoindex               hsl    F
autoindex_format        hsl    1
autoindex_localtime     hsl    F
autoindex_exact_size    hsl    F
"""

MODULES["ngx_http_access_module"] = """
allow                   hslx   1     m A
deny                    hslx   1     m A
"""

MODULES["ngx_http_auth_basic_module"] = """
auth_basic              hslx   1
auth_basic_user_file    hslx   1
"""

MODULES["ngx_http_auth_request_module"] = """
auth_request            hsl    1
auth_request_set        hsl    2     m A
"""

MODULES["ngx_http_headers_filter_module"] = """
expires                 hsli   12
add_header              hsli   23    m A
add_trailer             hsli   23    m A
"""

MODULES["ngx_http_realip_module"] = """
set_real_ip_from        hsl    1     m A
real_ip_header          hsl    1
real_ip_recursive       hsl    F
"""

MODULES["ngx_http_stub_status_module"] = """
stub_status             sl     01    m N
"""

# Dynamic in Debian (libnginx-mod-mail / -stream), not installed here: the blocks
# exist so a table built with include_dynamic=True can at least recognise them.
MODULES["ngx_mail_module"] = """
mail                    m      0     b
"""

MODULES["ngx_stream_module"] = """
stream                  m      0     b
"""
