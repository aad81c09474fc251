"""ngx_http_map_module against real nginx: exact keys (case-insensitive), hostnames
wildcards, regexes in order with captures, default, values with variables, map
variables used in log formats and in rewrite conditions."""

from __future__ import annotations

import pytest

from tests.differential import Req, engine_load_error
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix

CONF = r"""
events {}
http {
    map $http_host $site {
        hostnames;
        default                unknown;
        example.com            exact;
        *.example.com          wildcard-head;
        www.example.*          wildcard-tail;
        ~^api\.(?<env>\w+)\.   api-$env;
    }
    map $arg_lang $greeting {
        default   "hello";
        fr        "bonjour";
        De        "hallo";
        ~*^es     "hola";
        ""        "no lang";
    }
    map $uri $kind {
        ~\.(?<ext>png|jpg)$  image/$ext;
        ~^/api/              api;
    }
    server {
        listen 127.0.0.1:{port};
        location / { return 200 "site=$site greeting=$greeting kind=$kind\n"; }
        location /gate {
            if ($greeting = "bonjour") { return 403; }
            return 200 "$greeting\n";
        }
    }
}
"""


def get(target: str, host: str = "localhost") -> Req:
    return Req("GET", target, [("Host", host)])


CASES = [
    ("exact host", get("/", "example.com")),
    ("exact host, other case", get("/", "EXAMPLE.com")),
    ("leading wildcard", get("/", "a.b.example.com")),
    ("trailing wildcard", get("/", "www.example.org")),
    ("regex with named capture", get("/", "api.staging.example.net")),
    ("default", get("/", "nothing.test")),
    ("exact arg", get("/?lang=fr")),
    ("exact key written in capitals", get("/?lang=de")),
    ("case-insensitive regex", get("/?lang=ES-mx")),
    ("empty source", get("/?lang=")),
    ("no source", get("/")),
    ("regex capture in value", get("/img/a.png")),
    ("second regex", get("/api/x")),
    ("map in an if", get("/gate?lang=fr")),
    ("map in an if, default", get("/gate")),
]


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()


# a map's variable is changeable, as nginx adds it: a second map (or a geo) of the same
# name takes it over; a built-in variable is refused
CONFIGS = [
    ("two maps of one variable", "map $uri $v { default a; }\nmap $args $v { default b; }"),
    ("a geo, then a map", "geo $v { default a; }\nmap $args $v { default b; }"),
    ("a map of a built-in variable", "map $args $host { default b; }"),
    ("a map of $uri", "map $args $uri { default b; }"),
]


@requires_nginx
@pytest.mark.parametrize("body", [c[1] for c in CONFIGS], ids=[c[0] for c in CONFIGS])
def test_config_as_nginx(tmp_path, body):  # type: ignore[no-untyped-def]
    write_prefix(tmp_path, "events {}\nhttp {\n" + body + "\n}\n")
    assert engine_load_error(tmp_path) == first_emerg(nginx_test(tmp_path).output)
