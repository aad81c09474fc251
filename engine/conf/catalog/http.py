"""HTTP filter, access-control and content modules of Debian's nginx 1.22.1 build.

Rows are ``name contexts arity [flags]``; see ``catalog/__init__.py`` for the syntax.
"""

MODULES: dict[str, str] = {}

MODULES["ngx_http_gzip_filter_module"] = """
gzip                    hsli   F
gzip_buffers            hsl    2
gzip_types              hsl    +    m
gzip_comp_level         hsl    1
gzip_window             hsl    1
gzip_hash               hsl    1
postpone_gzipping       hsl    1
gzip_no_buffer          hsl    F
gzip_min_length         hsl    1
"""

MODULES["ngx_http_gunzip_filter_module"] = """
gunzip                  hsl    F
gunzip_buffers          hsl    2
"""

MODULES["ngx_http_gzip_static_module"] = """
gzip_static             hsl    1
"""

MODULES["ngx_http_ssl_module"] = """
ssl                         hs   F
ssl_certificate             hs   1    m A
ssl_certificate_key         hs   1    m A
ssl_password_file           hs   1
ssl_dhparam                 hs   1
ssl_ecdh_curve              hs   1
ssl_protocols               hs   +    m
ssl_ciphers                 hs   1
ssl_buffer_size             hs   1
ssl_verify_client           hs   1
ssl_verify_depth            hs   1
ssl_client_certificate      hs   1
ssl_trusted_certificate     hs   1
ssl_prefer_server_ciphers   hs   F
ssl_session_cache           hs   12   m
ssl_session_tickets         hs   F
ssl_session_ticket_key      hs   1    m A
ssl_session_timeout         hs   1
ssl_crl                     hs   1
ssl_ocsp                    hs   1
ssl_ocsp_responder          hs   1
ssl_ocsp_cache              hs   1
ssl_stapling                hs   F
ssl_stapling_file           hs   1
ssl_stapling_responder      hs   1
ssl_stapling_verify         hs   F
ssl_early_data              hs   F
ssl_conf_command            hs   2    m A
ssl_reject_handshake        hs   F
"""

MODULES["ngx_http_v2_module"] = """
http2_recv_buffer_size          h    1
http2_pool_size                 hs   1
http2_max_concurrent_streams    hs   1
http2_max_concurrent_pushes     hs   1
http2_max_requests              hs   1    m
http2_max_field_size            hs   1    m
http2_max_header_size           hs   1    m
http2_body_preread_size         hs   1
http2_streams_index_size        hs   1
http2_recv_timeout              hs   1    m
http2_idle_timeout              hs   1    m
http2_chunk_size                hsl  1
http2_push_preload              hsl  F
http2_push                      hsl  1    m A
"""

MODULES["ngx_http_limit_req_module"] = """
limit_req_zone          h      3     m
limit_req               hsl    123   m A
limit_req_log_level     hsl    1
limit_req_status        hsl    1
limit_req_dry_run       hsl    F
"""

MODULES["ngx_http_limit_conn_module"] = """
limit_conn_zone         h      2     m
limit_conn              hsl    2     m A
limit_conn_log_level    hsl    1
limit_conn_status       hsl    1
limit_conn_dry_run      hsl    F
"""

MODULES["ngx_http_map_module"] = """
map                     h      2     b m N
map_hash_max_size       h      1
map_hash_bucket_size    h      1
"""

MODULES["ngx_http_geo_module"] = """
geo                     h      12    b m N
"""

MODULES["ngx_http_split_clients_module"] = """
split_clients           h      2     b m N
"""

MODULES["ngx_http_referer_module"] = """
valid_referers              sl   +   m A
referer_hash_max_size       sl   1
referer_hash_bucket_size    sl   1
"""

MODULES["ngx_http_secure_link_module"] = """
secure_link             hsl    1
secure_link_md5         hsl    1
secure_link_secret      hsl    1
"""

MODULES["ngx_http_sub_filter_module"] = """
sub_filter                  hsl  2   m A
sub_filter_types            hsl  +   m
sub_filter_once             hsl  F
sub_filter_last_modified    hsl  F
"""

MODULES["ngx_http_addition_filter_module"] = """
add_before_body         hsl    1
add_after_body          hsl    1
addition_types          hsl    +    m
"""

MODULES["ngx_http_charset_filter_module"] = """
charset                 hsli   1
source_charset          hsli   1
override_charset        hsli   F
charset_types           hsl    +    m
charset_map             h      2     b m N
"""

MODULES["ngx_http_ssi_filter_module"] = """
ssi                             hsli  F
ssi_silent_errors               hsl   F
ssi_ignore_recycled_buffers     hsl   F
ssi_min_file_chunk              hsl   1
ssi_value_length                hsl   1
ssi_types                       hsl   +    m
ssi_last_modified               hsl   F
"""

MODULES["ngx_http_userid_filter_module"] = """
userid                  hsl    1
userid_service          hsl    1
userid_name             hsl    1
userid_domain           hsl    1
userid_path             hsl    1
userid_expires          hsl    1
userid_flags            hsl    123
userid_p3p              hsl    1
userid_mark             hsl    1
"""

MODULES["ngx_http_mirror_module"] = """
mirror                  hsl    1     m A
mirror_request_body     hsl    F
"""

MODULES["ngx_http_slice_filter_module"] = """
slice                   hsl    1
"""

MODULES["ngx_http_dav_module"] = """
dav_methods             hsl    +     m
create_full_put_path    hsl    F
min_delete_depth        hsl    1
dav_access              hsl    123
"""

MODULES["ngx_http_flv_module"] = """
flv                     l      0     N m
"""

MODULES["ngx_http_mp4_module"] = """
mp4                     l      0     N m
mp4_buffer_size         hsl    1
mp4_max_buffer_size     hsl    1
mp4_start_key_frame     hsl    F
"""

MODULES["ngx_http_random_index_module"] = """
random_index            l      F
"""

MODULES["ngx_http_browser_module"] = """
ancient_browser         hsl    +     m
modern_browser          hsl    12    m
ancient_browser_value   hsl    1
modern_browser_value    hsl    1
"""

MODULES["ngx_http_empty_gif_module"] = """
empty_gif               l      0     N m
"""
