"""Bad Lua never takes the engine down: runaway loops, memory hogs, errors in timers,
yields where ngx_lua forbids them. Each gets nginx's answer and an error-log line, and
the next request is served."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from engine import Engine, HttpRequest

CONF = """
events {}
http {
    server {
        listen 8080;
        location /loop { content_by_lua_block { local i = 0 while true do i = i + 1 end } }
        location /mem { content_by_lua_block { local t = {} for i = 1, 1e9 do t[i] = {i, i, i} end } }
        location /timer_error {
            content_by_lua_block {
                ngx.timer.at(0, function() error("boom in timer") end)
                ngx.say("scheduled")
            }
        }
        location /yield_in_filter {
            body_filter_by_lua_block { ngx.sleep(0.1) }
            content_by_lua_block { ngx.say("x") }
        }
        location /ok { content_by_lua_block { ngx.say("alive") } }
    }
}
"""


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    (tmp_path / "conf").mkdir()
    conf = tmp_path / "conf" / "nginx.conf"
    conf.write_text(CONF)
    return Engine.load(str(conf), options={"lua_watchdog": 0.5, "lua_memory_mb": 64})


def get(engine: Engine, uri: str):
    return engine.request(HttpRequest("GET", uri, headers=[("Host", "x")]))


async def test_runaway_loop_is_stopped_and_engine_keeps_serving(engine: Engine) -> None:
    t0 = time.monotonic()
    ex = await get(engine, "/loop")
    assert ex.response.status == 500
    assert time.monotonic() - t0 < 10
    errors = [r.message for r in ex.logs if r.log == "error"]
    assert errors[0].startswith("lua entry thread aborted: runtime error: "
                                "content_by_lua(nginx.conf:6):1: ngx-explore watchdog")
    assert "real nginx would hang this worker" in errors[0]
    assert (await get(engine, "/ok")).response.text == "alive\n"


async def test_memory_hog_gets_not_enough_memory(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    conf = tmp_path / "conf" / "nginx.conf"
    conf.write_text(CONF)
    engine = Engine.load(str(conf), options={"lua_watchdog": 60, "lua_memory_mb": 64})
    ex = await get(engine, "/mem")
    assert ex.response.status == 500
    assert any("not enough memory" in r.message for r in ex.logs)
    assert (await get(engine, "/ok")).response.status == 200


async def test_error_in_timer_is_logged_with_timer_context(engine: Engine) -> None:
    lines = []
    engine.on_log(lambda rec: lines.append(rec.line))
    ex = await get(engine, "/timer_error")
    assert ex.response.text == "scheduled\n"
    for _ in range(50):
        await asyncio.sleep(0.01)
        if any("boom in timer" in line for line in lines):
            break
    hit = [line for line in lines if "boom in timer" in line]
    assert hit and "lua entry thread aborted: runtime error: " in hit[0]
    assert ", context: ngx.timer" in hit[0]
    timer_events = [e.data["op"] for e in ex.trace if e.kind == "timer"]
    assert timer_events[:1] == ["scheduled"]


async def test_yield_in_body_filter_is_refused(engine: Engine) -> None:
    ex = await get(engine, "/yield_in_filter")
    errors = [r.message for r in ex.logs if r.log == "error"]
    assert any("API disabled in the context of body_filter_by_lua*" in m for m in errors)
    assert (await get(engine, "/ok")).response.status == 200
