"""What nginx makes of ``User-Agent``, against real nginx: the padding of its own error
pages for MSIE and Chrome (``msie_padding``), ``msie_refresh`` and the ``$msie``,
``$ancient_browser`` and ``$modern_browser`` variables. (``keepalive_disable`` needs a
kept-alive connection: tests/server/test_differential.py.)"""

from __future__ import annotations

import pytest

from tests.differential import Req
from tests.oracle import requires_nginx

CONF = r"""
events {}
http {
    server {
        listen 127.0.0.1:{port};
        location /404 { return 404; }
        location /500 { return 500; }
        location /302 { return 302 /x; }
        location /nopad { msie_padding off; return 404; }
        location /page { error_page 404 /302; return 404; }
        location /refresh { msie_refresh on; return 302 "/x y\"z'%"; }
        location /refresh301 { msie_refresh on; return 301 http://a.example/c; }
        location /vars {
            return 200 "msie=[$msie] ancient=[$ancient_browser] modern=[$modern_browser]\n";
        }
    }
}
"""

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"
AGENTS = {
    "chrome": CHROME,
    "msie6": "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)",
    "msie-short": "MSIE 5.0",
    "msie-too-short": "x MSIE 9",
    "opera-as-msie": "Opera/9.80 (compatible; MSIE 7.0)",
    "firefox": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "chrome-and-gecko/": "Gecko/1 Chrome/120.0",
    "ie11": "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko",
    "curl": "curl/8.0",
}


def get(path: str, agent: str | None, method: str = "GET", version: str = "HTTP/1.1") -> Req:
    headers = [("Host", "localhost")] + ([("User-Agent", agent)] if agent else [])
    return Req(method, path, headers, version=version)


CASES = [(f"404 for {name}", get("/404", ua)) for name, ua in AGENTS.items()] + [
    ("404 without User-Agent", get("/404", None)),
    ("500 for Chrome over HTTP/1.0", get("/500", CHROME, version="HTTP/1.0")),
    ("HEAD 404 for Chrome", get("/404", CHROME, "HEAD")),
    ("302 page is not padded", get("/302", CHROME)),
    ("msie_padding off", get("/nopad", CHROME)),
    ("error_page to a redirect", get("/page", CHROME)),
    ("msie_refresh for MSIE", get("/refresh", AGENTS["msie6"])),
    ("msie_refresh of a 301", get("/refresh301", AGENTS["msie6"])),
    ("msie_refresh ignores Chrome", get("/refresh", CHROME)),
] + [(f"variables for {name}", get("/vars", ua)) for name, ua in AGENTS.items()]


@requires_nginx
@pytest.mark.parametrize("name,req", CASES, ids=[c[0] for c in CASES])
def test_same_as_nginx(pair, name, req):
    real, ours = pair.both(req)
    assert ours.comparable() == real.comparable()
