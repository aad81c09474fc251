"""ngx.semaphore (lua-resty-core): counting semaphores between the light threads and
requests of one worker.

The resources and the queue of waiters live here in Python because a waiter is a
suspended coroutine the driver resumes; ``wait`` yields to the driver only when no
resource is free and the timeout is not zero.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

from .timer_turns import Job, turns

if TYPE_CHECKING:
    from .thread import Driver

#: How a waiter is woken: the job that resumes it with what ``wait`` answers Lua.
Wake = Callable[[tuple[Any, ...]], Job]


class Semaphore:
    __slots__ = ("count", "waiters")

    def __init__(self, count: int) -> None:
        self.count = count
        self.waiters: deque[tuple[asyncio.Future[bool], Wake]] = deque()

    def post(self, n: int) -> None:
        """Hand ``n`` resources to the waiters in turn, the rest to the count; a waiter
        resumes through a posted event (ngx_http_lua_ffi_sema_post posts sem_event), as
        resty.core answers after it waited: ``true``."""
        for _ in range(n):
            while self.waiters:
                fut, wake = self.waiters.popleft()
                if not fut.done():
                    fut.set_result(True)
                    turns().post(wake((True, None)))
                    break
            else:
                self.count += 1

    def queue(self, wake: Wake, timeout: float) -> asyncio.Future[bool]:
        """A new waiter, last in the queue from now on (a post wakes it from here); done
        when woken, cancelled to leave the queue. Its timeout is a timer that wakes it
        with ``false, "timeout"``."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        self.waiters.append((fut, wake))

        def expire() -> None:
            if not fut.done():
                fut.cancel()
                turns().expire(wake((False, b"timeout")))

        handle = loop.call_later(timeout, expire)
        fut.add_done_callback(lambda _: handle.cancel())
        return fut


class Semaphores:
    """One worker's semaphores, by number (the Lua objects keep the number)."""

    def __init__(self) -> None:
        self.table: dict[int, Semaphore] = {}
        self._ids = itertools.count(1)

    def py_sema_new(self, n: int) -> int:
        sid = next(self._ids)
        self.table[sid] = Semaphore(int(n))
        return sid

    def py_sema_try(self, sid: int) -> bool:
        sema = self.table[sid]
        if sema.count > 0:
            sema.count -= 1
            return True
        return False

    def py_sema_post(self, sid: int, n: int) -> None:
        self.table[sid].post(int(n))

    def py_sema_count(self, sid: int) -> int:
        sema = self.table[sid]
        return sema.count - sum(1 for f, _ in sema.waiters if not f.done())

    def wait(self, driver: Driver, co: Any, sid: int, timeout: float) -> asyncio.Future[Any]:
        """``co`` waits on semaphore ``sid``: queued at once (a post before its owner runs
        wakes it), left when the wait is cut short or its thread killed; the Future its
        owner waits on."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        waiter = self.table[sid].queue(lambda send: driver.wake(co, fut, send), timeout)
        fut.add_done_callback(lambda _: waiter.cancel())
        if driver.thread is not None:
            driver.thread.queued = waiter
        return fut


SEMAPHORE_LUA = b"""
local rt, py = ...
local ctxset, yield = rt.ctxset, rt.yield
local WAIT = ctxset("rewrite", "access", "content", "timer", "server_rewrite")
local mt = {}
mt.__index = mt
local M = { version = "0.1.25" }
-- lua-resty-core's checks and messages (ngx/semaphore.lua)
local function instance(self)
    if type(self) ~= "table" or type(self.id) ~= "number" then
        error("not a semaphore instance", 3)
    end
end
function M.new(n)
    n = tonumber(n) or 0
    if n < 0 then error("no negative number", 2) end
    return setmetatable({ id = py.sema_new(n) }, mt)
end
function mt.post(self, n)
    instance(self)
    n = n and tonumber(n) or 1
    if n < 1 then error("positive number required", 2) end
    py.sema_post(self.id, n)
    return true
end
function mt.count(self) instance(self) return py.sema_count(self.id) end
function mt.wait(self, timeout)
    instance(self)
    local state = rt.current()
    if state == nil then error("no request found") end
    timeout = tonumber(timeout)
    if timeout == nil then  -- resty.core's tonumber(seconds) * 1000
        error("/usr/share/lua/5.1/ngx/semaphore.lua:129: attempt to perform arithmetic "
              .. "on a nil value", 0)
    end
    if timeout < 0 then error("no negative number", 2) end
    if not WAIT[state.context] then  -- the FFI call's answer, not an error
        return nil, "API disabled in the context of " .. rt.CTX_NAME[state.context]
    end
    if py.sema_try(self.id) then return true end
    if timeout == 0 then return nil, "timeout" end
    return yield("sema_wait", self.id, timeout)
end
package.preload["ngx.semaphore"] = function() return M end
"""


def install(lua: Any, rt: Any, semaphores: Semaphores) -> None:
    py = lua.table_from({name[3:].encode(): getattr(semaphores, name)
                         for name in dir(semaphores) if name.startswith("py_")})
    lua.execute(SEMAPHORE_LUA, rt, py)
