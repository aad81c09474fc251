"""The trace a Lua request leaves: ngx.ctx diffs per phase, the ctx reset on ngx.exec,
subrequests nested under their hop, timers appended as they fire, refused APIs, eof."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine import Engine, HttpRequest

CONF = """
events {}
http {
    server {
        listen 8080;
        location /ctx {
            rewrite_by_lua_block { ngx.ctx.a = 1 ngx.ctx.t = { 1, 2 } }
            access_by_lua_block { ngx.ctx.a = 2 ngx.ctx.t = nil ngx.ctx.self = ngx.ctx }
            content_by_lua_block { ngx.say("ok") }
        }
        location /exec {
            rewrite_by_lua_block { ngx.ctx.before = true }
            content_by_lua_block { ngx.exec("/target") }
        }
        location /target { content_by_lua_block { ngx.say(tostring(ngx.ctx.before)) } }
        location /capture {
            content_by_lua_block { local r = ngx.location.capture("/target") ngx.print(r.body) }
        }
        location /timer {
            content_by_lua_block {
                ngx.timer.at(0.01, function() ngx.log(ngx.ERR, "from the timer") end)
                ngx.say("ok")
            }
        }
        location /refused { header_filter_by_lua_block { ngx.say("no") } return 200 "x"; }
        location /eof { content_by_lua_block { ngx.say("a") ngx.eof() ngx.sleep(0.01) } }
    }
}
"""


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "nginx.conf").write_text(CONF)
    return Engine.load(str(tmp_path / "conf" / "nginx.conf"))


async def get(engine: Engine, uri: str):  # type: ignore[no-untyped-def]
    return await engine.request(HttpRequest("GET", uri, headers=[("Host", "x")]))


async def test_ctx_diffs_per_phase(engine: Engine) -> None:
    ex = await get(engine, "/ctx")
    diffs = [e.data for e in ex.trace if e.kind == "ctx"]
    assert [d["phase"] for d in diffs] == ["rewrite", "access"]
    assert diffs[0]["added"] == {"a": "1", "t": "{[1] = 1, [2] = 2}"}
    assert diffs[1]["changed"] == {"a": ["1", "2"]}
    assert diffs[1]["removed"] == ["t"]
    assert diffs[1]["added"] == {"self": "{a = 2, self = <cycle>}"}


async def test_exec_hop_marks_the_ctx_reset(engine: Engine) -> None:
    ex = await get(engine, "/exec")
    assert ex.response.text == "nil\n"
    hops = [e.data for e in ex.trace if e.kind == "hop"]
    assert hops == [{"hop": "exec", "uri": "/target", "args": "", "ctx_reset": True}]
    locations = [e.data["location"] for e in ex.trace if e.kind == "location"]
    assert locations == ['"/exec"', '"/target"']


async def test_subrequest_trace_nests_under_its_hop(engine: Engine) -> None:
    ex = await get(engine, "/capture")
    hop = next(e for e in ex.trace if e.kind == "hop")
    assert hop.data["hop"] == "subrequest" and hop.data["status"] == 200
    assert hop.children and hop.children[0].kind == "request"
    assert any(c.kind == "location" and c.data["location"] == '"/target"'
               for c in hop.children)


async def test_timer_events_arrive_after_the_response(engine: Engine) -> None:
    ex = await get(engine, "/timer")
    ops = [e.data["op"] for e in ex.trace if e.kind == "timer"]
    assert ops == ["scheduled"]
    for _ in range(100):
        await asyncio.sleep(0.01)
        ops = [e.data["op"] for e in ex.trace if e.kind == "timer"]
        if "done" in ops:
            break
    assert ops == ["scheduled", "fired", "done"]


async def test_refused_api_is_in_the_log_of_its_phase(engine: Engine) -> None:
    ex = await get(engine, "/refused")
    refused = [e.data for e in ex.trace if e.kind == "api_refused"]
    assert len(refused) == 1 and refused[0]["phase"] == "header_filter"
    assert "API disabled in the context of header_filter_by_lua*" in refused[0]["message"]
    logs = [e for e in ex.trace if e.kind == "log"]
    assert any("API disabled in the context of header_filter_by_lua*" in e.data["message"]
               for e in logs)


async def test_eof_point(engine: Engine) -> None:
    ex = await get(engine, "/eof")
    kinds = [e.kind for e in ex.trace]
    assert "eof" in kinds
    assert kinds.index("eof") < max(i for i, k in enumerate(kinds) if k == "phase_done")
