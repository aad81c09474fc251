"""worker_processes N: one Lua VM per worker, connections assigned as documented
(connection number modulo N); module state per worker, ngx.shared dicts shared; pending
timers fire with premature = true when the engine stops (reload or shutdown)."""

from __future__ import annotations

from pathlib import Path

from engine import Engine, HttpRequest

CONF = """
worker_processes 2;
events {}
http {
    lua_shared_dict counts 1m;
    init_by_lua_block { init_value = "from init_by_lua" }
    server {
        listen 8080;
        location /count {
            content_by_lua_block {
                local m = package.loaded.per_worker or { n = 0 }
                package.loaded.per_worker = m
                m.n = m.n + 1
                local total = ngx.shared.counts:incr("all", 1, 0)
                ngx.say(ngx.worker.id(), " ", m.n, " ", total, " ", init_value)
            }
        }
        location /timer {
            content_by_lua_block {
                ngx.timer.at(3600, function(premature)
                    ngx.shared.counts:set("premature", tostring(premature))
                end)
                ngx.say("scheduled")
            }
        }
    }
}
"""


def _engine(tmp: Path) -> Engine:
    (tmp / "conf").mkdir()
    (tmp / "conf" / "nginx.conf").write_text(CONF)
    return Engine.load(str(tmp / "conf" / "nginx.conf"))


async def test_module_state_is_per_worker_and_shared_dicts_are_shared(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    await engine.start()
    lines = []
    for conn in range(1, 5):
        ex = await engine.request(HttpRequest("GET", "/count", headers=[("Host", "x")],
                                              connection=conn))
        lines.append(ex.response.text.split())
    # connection N goes to worker N % 2; each worker counts on its own, the dict counts all
    assert [line[:3] for line in lines] == [["1", "1", "1"], ["0", "1", "2"],
                                            ["1", "2", "3"], ["0", "2", "4"]]
    assert all(" ".join(line[3:]) == "from init_by_lua" for line in lines)
    await engine.stop()


async def test_pending_timers_fire_premature_on_stop(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    await engine.start()
    ex = await engine.request(HttpRequest("GET", "/timer", headers=[("Host", "x")]))
    assert ex.response.text == "scheduled\n"
    await engine.stop()
    ok, value = engine.lua_eval('ngx.shared.counts:get("premature")')
    assert ok and value == '"true"'
    assert [e.data["op"] for e in ex.trace if e.kind == "timer"] == [
        "scheduled", "fired", "done"]
    assert [e.data.get("premature") for e in ex.trace if e.kind == "timer"][1] is True
