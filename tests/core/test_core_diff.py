"""Differential tests of the request core: the same config and requests on real nginx
and on the engine, compared as a client sees them (status, headers, body)."""

from __future__ import annotations

import pytest

from tests.differential import Req
from tests.oracle import requires_nginx

CONF = r"""
events {}
http {
    include mime.types;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:{port};
        server_name localhost;
        root html;

        location = / { return 200 "exact root\n"; }
        location / { try_files $uri $uri/ @fallback; }
        location @fallback { return 200 "fallback for $uri\n"; }
        location ^~ /static/ { return 200 "static prefix $uri\n"; }
        location ~* \.(gif|jpg|png)$ { return 200 "image regex $uri\n"; }
        location ~ \.php$ { return 200 "php regex\n"; }
        location /images/ {
            location ~ \.gif$ { return 200 "nested gif $uri\n"; }
            return 200 "images prefix\n";
        }
        location /a { return 200 "a\n"; }
        location /ab { return 200 "ab\n"; }
        location /abc/ { return 200 "abc/\n"; }

        location /ret301 { return 301 /target; }
        location /ret302 { return 302 http://example.com/x; }
        location /ret404 { return 404; }
        location /ret404text { return 404 "custom not found\n"; }
        location /ret204 { return 204; }
        location /ret200 { return 200; }
        location /ret418 { return 418; }
        location /url { return http://example.com/; }

        location /rw/ { rewrite ^/rw/(.*)$ /final/$1 last; }
        location /rwbreak/ { rewrite ^/rwbreak/(.*)$ /other/$1 break; return 200 "after break $uri\n"; }
        location /rwredir { rewrite ^ /dest redirect; }
        location /rwperm { rewrite ^ /dest permanent; }
        location /rwargs { rewrite ^ /final/x?b=2 last; }
        location /rwnoargs { rewrite ^ /final/y? last; }
        location /final/ { return 200 "final $uri args=$args\n"; }
        location /loop { rewrite ^ /loop last; }

        location /set { set $a hello; set $b "$a-world"; return 200 "$a $b\n"; }
        location /if {
            if ($arg_x = yes) { return 200 "x is yes\n"; }
            if ($arg_y) { return 200 "y is set: $arg_y\n"; }
            if ($http_user_agent ~* "(?<ua>curl)") { return 200 "curl: $ua\n"; }
            return 200 "no condition\n";
        }
        location /iffile { if (-f $document_root/index.html) { return 200 "index exists\n"; } return 404; }
        location /vars {
            return 200 "uri=$uri args=$args is_args=$is_args request_uri=$request_uri method=$request_method host=$host server_name=$server_name proto=$server_protocol arg_q=$arg_q http_x_test=$http_x_test cookie_c=$cookie_c\n";
        }
        location ~ ^/cap/(\d+)/(?<name>\w+)$ { return 200 "cap $1 $name\n"; }

        location /deny { deny all; return 200 "never\n"; }
        location /allow { allow 127.0.0.1; deny all; return 200 "allowed\n"; }
        location /denylocal { deny 127.0.0.0/8; allow all; return 200 "never\n"; }

        location /hdr { add_header X-One 1; add_header X-Two "two words"; return 200 "h\n"; }
        location /hdr404 { add_header X-One 1; return 404; }
        location /hdralways { add_header X-One 1 always; return 404; }
        location /ep { error_page 404 /errpage.html; return 404; }
        location /epnamed { error_page 404 = @fallback; return 404; }
        location /epcode { error_page 404 =200 /errpage.html; return 404; }
        location /epredir { error_page 403 http://example.com/forbidden; return 403; }
        location /index/ { index missing.html index.html; }
        location /noindex/ { }
        location /limited { client_max_body_size 10; return 200 "ok\n"; }
        location /tf { try_files /nope.html /index.html; }
        location /tfcode { try_files /nope.html =403; }
        location /alias/ { alias html/sub/; }
    }
}
"""

FILES = {
    "html/index.html": "<h1>index</h1>\n",
    "html/errpage.html": "custom error page\n",
    "html/style.css": "body { color: red }\n",
    "html/sub/file.txt": "file in sub\n",
    "html/index/index.html": "index dir\n",
    "html/noindex/readme.txt": "x\n",
    "html/dir/inner.html": "inner\n",
}

CASES = [
    ("exact root", Req("GET", "/")),
    ("static file by try_files", Req("GET", "/index.html")),
    ("css type from mime.types", Req("GET", "/style.css")),
    ("try_files falls back to named", Req("GET", "/missing")),
    ("directory without slash redirects", Req("GET", "/dir")),
    ("directory with slash via try_files $uri/", Req("GET", "/dir/")),
    ("^~ stops regex search", Req("GET", "/static/a.gif")),
    ("case-insensitive regex", Req("GET", "/pic.JPG")),
    ("first regex wins", Req("GET", "/x.php")),
    ("nested regex inside prefix", Req("GET", "/images/a.gif")),
    ("nested prefix without match", Req("GET", "/images/a.txt")),
    ("longest prefix /ab", Req("GET", "/abx")),
    ("prefix /a", Req("GET", "/a")),
    ("prefix /abc/", Req("GET", "/abc/def")),
    ("return 301 relative", Req("GET", "/ret301")),
    ("return 302 absolute", Req("GET", "/ret302")),
    ("return 404", Req("GET", "/ret404")),
    ("return 404 with text", Req("GET", "/ret404text")),
    ("return 204", Req("GET", "/ret204")),
    ("return 200 empty", Req("GET", "/ret200")),
    ("return unknown code", Req("GET", "/ret418")),
    ("return URL only", Req("GET", "/url")),
    ("rewrite last", Req("GET", "/rw/thing?q=1")),
    ("rewrite break", Req("GET", "/rwbreak/x")),
    ("rewrite redirect", Req("GET", "/rwredir?k=v")),
    ("rewrite permanent", Req("GET", "/rwperm")),
    ("rewrite adds args", Req("GET", "/rwargs?a=1")),
    ("rewrite drops args", Req("GET", "/rwnoargs?a=1")),
    ("rewrite cycle gives 500", Req("GET", "/loop")),
    ("set and interpolate", Req("GET", "/set")),
    ("if equality", Req("GET", "/if?x=yes")),
    ("if variable set", Req("GET", "/if?y=7")),
    ("if regex with named capture", Req("GET", "/if", [("Host", "localhost"),
                                                       ("User-Agent", "CURL/8")])),
    ("if nothing", Req("GET", "/if")),
    ("if -f", Req("GET", "/iffile")),
    ("variables", Req("GET", "/vars?q=1&x=2", [("Host", "localhost"), ("X-Test", "t"),
                                               ("Cookie", "a=1; c=cv")])),
    ("percent-decoded uri", Req("GET", "/vars/%61b%20c?q=%20")),
    ("merge slashes and dots", Req("GET", "//vars/./x/../y")),
    ("regex captures", Req("GET", "/cap/42/bob")),
    ("deny all", Req("GET", "/deny")),
    ("allow loopback", Req("GET", "/allow")),
    ("deny loopback range", Req("GET", "/denylocal")),
    ("add_header", Req("GET", "/hdr")),
    ("add_header skipped on 404", Req("GET", "/hdr404")),
    ("add_header always", Req("GET", "/hdralways")),
    ("error_page to uri", Req("GET", "/ep")),
    ("error_page to named location", Req("GET", "/epnamed")),
    ("error_page =200", Req("GET", "/epcode")),
    ("error_page redirect", Req("GET", "/epredir")),
    ("index picks the existing file", Req("GET", "/index/")),
    ("directory listing forbidden", Req("GET", "/noindex/")),
    ("client_max_body_size", Req("POST", "/limited", body=b"x" * 100)),
    ("body within limit", Req("POST", "/limited", body=b"x" * 5)),
    ("try_files second file", Req("GET", "/tf")),
    ("try_files =code", Req("GET", "/tfcode")),
    ("alias", Req("GET", "/alias/file.txt")),
    ("HEAD of static file", Req("HEAD", "/index.html")),
    ("HTTP/1.0 request", Req("GET", "/ret200", [], version="HTTP/1.0")),
    ("HTTP/1.1 without Host", Req("GET", "/ret200", [])),
    ("dotdot above root", Req("GET", "/../etc/passwd")),
    ("bad percent escape", Req("GET", "/a%zz")),
    ("POST to static file", Req("POST", "/index.html", body=b"x")),
    ("unknown method on static", Req("DELETE", "/index.html")),
    ("if-modified-since far past", Req("GET", "/index.html", [
        ("Host", "localhost"), ("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")])),
]



@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()
