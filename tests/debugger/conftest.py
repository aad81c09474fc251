"""A site with a Lua handler in every phase, a module, a file handler, a subrequest and a
timer; each line a test stops at carries a ``-- @name`` marker, found by :meth:`Site.line`,
so the tests never hard-code line numbers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from engine import Engine, HttpRequest
from engine.lua.debugger import Command, Debugger, PauseState

CONF = """\
events {}
http {
    lua_package_path "$PREFIX/lua/?.lua;;";
    init_worker_by_lua_block {
        local started = "yes"  -- @init_worker
    }
    server {
        listen 8080;
        location /phases {
            set_by_lua_block $from_set {
                local s = "set"  -- @set
                return s
            }
            rewrite_by_lua_block {
                ngx.ctx.seen = { "rewrite" }  -- @rewrite
            }
            access_by_lua_block {
                table.insert(ngx.ctx.seen, "access")  -- @access
            }
            content_by_lua_block {
                local greeting = "hello"  -- @content
                ngx.say(greeting, " ", ngx.var.from_set)
            }
            header_filter_by_lua_block {
                ngx.header["X-Filtered"] = "yes"  -- @header_filter
            }
            body_filter_by_lua_block {
                local chunk = ngx.arg[1]  -- @body_filter
            }
            log_by_lua_block {
                local status = ngx.status  -- @log
            }
        }
        location /t {
            content_by_lua_block {
                local m = require "mod"
                local a = 1  -- @t_a

                local b = m.double(a)  -- @t_call
                ngx.say("a=", a, " b=", b)  -- @t_say
            }
        }
        location /loop {
            content_by_lua_block {
                local total = 0
                for i = 1, 5 do
                    total = total + i  -- @loop
                end
                ngx.say(total)
            }
        }
        location /up {
            content_by_lua_block {
                local count = 10
                local function bump(by)
                    count = count + by  -- @bump
                    return count
                end
                ngx.say(bump(1))
            }
        }
        location /err {
            content_by_lua_block {
                local t = nil
                local where = "before"
                ngx.say(t.field)  -- @err
            }
        }
        location /caught {
            content_by_lua_block {
                local ok = pcall(error, "inside pcall")  -- @caught
                ngx.say(ok)
            }
        }
        location /cap {
            content_by_lua_block {
                local res = ngx.location.capture("/sub?x=1")
                ngx.say("sub said ", res.body)
            }
        }
        location /sub {
            content_by_lua_block {
                local x = ngx.var.arg_x  -- @sub
                ngx.print(x)
            }
        }
        location /timer {
            content_by_lua_block {
                ngx.timer.at(0, function(premature, v)
                    local got = v  -- @timer
                end, 42)
                ngx.say("scheduled")
            }
        }
        location /spawn {
            content_by_lua_block {
                local th = ngx.thread.spawn(function(n)
                    local doubled = n * 2  -- @thread
                    return doubled
                end, 21)
                local ok, res = ngx.thread.wait(th)
                ngx.say(res)
            }
        }
        location /file {
            content_by_lua_file lua/handler.lua;
        }
    }
}
"""

MOD = """\
local M = {}

function M.double(x)
    local y = x * 2  -- @double_y
    return y  -- @double_ret
end

return M
"""

HANDLER = """\
local who = "file"  -- @file
ngx.say(who)
"""


@dataclass
class Site:
    root: Path
    conf: Path

    def line(self, marker: str, name: str = "nginx.conf") -> int:
        path = self.conf if name == "nginx.conf" else self.root / "lua" / name
        for n, text in enumerate(path.read_text().splitlines(), 1):
            if text.rstrip().endswith(f"-- @{marker}"):
                return n
        raise KeyError(marker)

    def find(self, text: str) -> int:
        """The configuration line holding ``text``."""
        return next(n for n, line in enumerate(self.conf.read_text().splitlines(), 1)
                    if text in line)

    def engine(self, **options: Any) -> Engine:
        return Engine.load(str(self.conf), prefix=str(self.root), options=options or None)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    (tmp_path / "conf").mkdir()
    (tmp_path / "logs").mkdir()
    (tmp_path / "lua").mkdir()
    conf = tmp_path / "conf" / "nginx.conf"
    conf.write_text(CONF.replace("$PREFIX", str(tmp_path)))
    (tmp_path / "lua" / "mod.lua").write_text(MOD)
    (tmp_path / "lua" / "handler.lua").write_text(HANDLER)
    return Site(tmp_path, conf)


async def get(engine: Engine, uri: str) -> Any:
    return await engine.request(HttpRequest("GET", uri, headers=[("Host", "x")]))


class Recorder(Debugger):
    """Records every pause (as plain data) and answers from a script of commands; ``probe``
    runs inside the pause for what a test wants to look at."""

    def __init__(self, commands: list[Command] | None = None,
                 probe: Callable[[PauseState], Any] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.script = list(commands or [])
        self.probe = probe
        self.pauses: list[Any] = []
        self.probed: list[Any] = []

    def on_pause(self, state: PauseState) -> Command:
        self.pauses.append(state.info())
        if self.probe is not None:
            self.probed.append(self.probe(state))
        return self.script.pop(0) if self.script else Command.cont()


async def settle(engine: Engine) -> None:
    """Let timers the request scheduled run."""
    timers = engine.http.services["lua"].timers
    for _ in range(100):
        if not (timers.pending or timers.running):
            return
        await asyncio.sleep(0.01)
