"""Exports of a served request: JSON, curl, Test::Nginx (no Textual)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from engine import Engine, HttpRequest
from explorer.curl import parse_curl
from explorer.export import to_curl_command, to_json, to_test_nginx, used_locations


def _serve(conf: Path, target: str, method: str = "GET", body: bytes = b"",
           headers: list | None = None):  # type: ignore[no-untyped-def]
    engine = Engine.load(str(conf))
    hdrs = [("Host", "example.com")] + (headers or [])
    ex = asyncio.run(engine.request(HttpRequest(method, target, headers=hdrs, body=body,
                                                 server_port=8080)))
    return engine, ex


def test_json_has_trace(small_conf: Path) -> None:
    _, ex = _serve(small_conf, "/api/x")
    data = json.loads(to_json(ex))
    assert data["status"] == 200 and data["location"] == '"/api/"'
    assert any(e["type"] == "location" for e in data["trace"])


def test_curl_export(small_conf: Path) -> None:
    _, ex = _serve(small_conf, "/api/x?a=1", headers=[("X-A", "1")])
    back = parse_curl(to_curl_command(ex))
    assert back.url == "http://example.com/api/x?a=1" and ("X-A", "1") in back.headers
    live = parse_curl(to_curl_command(ex, "http://127.0.0.1:8080"))
    assert live.url == "http://127.0.0.1:8080/api/x?a=1"
    assert ("Host", "example.com") in live.headers


def test_test_nginx_block(small_conf: Path) -> None:
    engine, ex = _serve(small_conf, "/api/x", headers=[("X-A", "1")])
    assert used_locations(ex.trace) == [(str(small_conf), 10)]
    block = to_test_nginx(ex, engine.parsed, number=3)
    assert block.startswith("=== TEST 3: GET /api/x\n")
    config = block.split("--- config\n", 1)[1].split("\n--- request", 1)[0]
    assert config == 'location /api/ {\n    add_header X-Api 1;\n    return 200 "api\\n";\n}'
    assert "--- request\nGET /api/x\n" in block
    assert "--- more_headers\nHost: example.com\nX-A: 1\n" in block
    assert "--- response_body\napi\n" in block
    assert block.endswith("--- error_code: 200\n")


def test_test_nginx_body_and_status(small_conf: Path) -> None:
    engine, ex = _serve(small_conf, "/x.php", method="POST", body=b"a=1",
                        headers=[("Content-Length", "3")])
    block = to_test_nginx(ex, engine.parsed)
    assert "--- request\nPOST /x.php\na=1\n" in block
    assert "location ~ \\.php$ {" in block
    assert "Content-Length" not in block
    assert "--- error_code: 403" in block
