"""One Lua VM per worker, as ngx_lua keeps one LuaJIT state per nginx worker process.

A :class:`LuaWorker` owns a LuaJIT 2.1 runtime (lupa, ``encoding=None``: Lua strings are
bytes on this side) with the ``ngx`` table built from the API families (one module per
family, like lua-nginx-module's source files), the code cache of compiled handlers,
``package.path``/``cpath`` from ``lua_package_path``/``lua_package_cpath``, and the
``resty.core`` shims. Module-level Lua state therefore lives per worker, while
``ngx.shared`` dicts live in Python and are shared by all workers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import lupa.luajit21 as luajit

from . import balancer, cjson, regex, semaphore, shdict, socket_tcp, string
from . import time as ngx_time
from ._loader import load_chunk
from .bridge import Bridge
from .constants import CONSTANTS

if TYPE_CHECKING:
    from ..http.request import Request
    from .module import LuaService

#: package.path and package.cpath of a new VM in Debian's build (LuaJIT's defaults, the
#: path behind the LUA_DEFAULT_PATH ngx_lua was built with); ";;" in lua_package_path
#: and lua_package_cpath stands for them.
DEFAULT_PATH = ("/usr/share/lua/5.1/?.lua;;./?.lua;/usr/share/luajit-2.1.0-beta3/?.lua;"
                "/usr/local/share/lua/5.1/?.lua;/usr/local/share/lua/5.1/?/init.lua;"
                "/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua")
DEFAULT_CPATH = ("./?.so;/usr/local/lib/lua/5.1/?.so;/usr/lib/x86_64-linux-gnu/lua/5.1/?.so;"
                 "/usr/local/lib/lua/5.1/loadall.so")


class LuaCompileError(Exception):
    """A handler that does not compile; the message is Lua's. ``path`` is the file of a
    *_by_lua_file handler, ``missing`` says it could not be read (ngx_lua answers 404)."""

    def __init__(self, message: str, path: str | None = None, missing: bool = False) -> None:
        super().__init__(message)
        self.path = path
        self.missing = missing


@dataclass(eq=False)
class LuaRequest:
    """ngx_http_lua_ctx_t: a request's Lua state in one worker (dropped by ngx.exec)."""

    r: Request
    worker: LuaWorker
    state: Any
    #: Light threads spawned by ngx.thread.spawn that have not finished.
    threads: list[Any] = field(default_factory=list)
    eof: bool = False
    exited: bool = False
    #: A body buffer went out (ngx_lua's seen_body_data: what ngx.flush needs).
    seen_body: bool = False
    #: lua_http10_buffering: the output of an HTTP/1.0 request, held until the end so
    #: the response can carry a Content-Length (None when not buffering).
    http10: list[bytes] | None = None
    #: A Lua header or body filter failed on the output just sent (NGX_ERROR).
    output_failed: bool = False
    #: The header is going out for an ngx.say/ngx.print (not the handler's end).
    sending_header: bool = False
    #: Lua filters apply where the handler runs: its output goes down them at once.
    sync_out: bool = False


class LuaWorker:
    """A worker's LuaJIT VM with the ngx API installed."""

    def __init__(self, service: LuaService, worker_id: int) -> None:
        self.service = service
        self.id = worker_id
        self.lua = luajit.LuaRuntime(encoding=None, unpack_returned_tuples=True,
                                     register_eval=False)
        lua = self.lua
        g = lua.globals()
        self.ngx = lua.table()
        g[b"ngx"] = self.ngx
        self._set_package_paths()
        cjson.install(lua, self.ngx)  # also creates ngx.null
        self.rt = load_chunk(lua, "runtime")(self.ngx, None)
        load_chunk(lua, "coroutine")(self.rt)
        load_chunk(lua, "luajit2")(self.rt)
        self.bridge = Bridge(self)
        py = self.bridge.table()
        string.install(lua, self.ngx)
        regex.install(lua, self.ngx)
        ngx_time.install(lua, self.ngx, service.clock)
        shdict.install(lua, self.ngx, service.shared, service.clock)
        load_chunk(lua, "output")(self.ngx, self.rt, py)
        load_chunk(lua, "request")(self.ngx, self.rt, py)
        consts = lua.table_from({k.encode(): v for k, v in CONSTANTS.items()})
        config = lua.table_from({
            b"subsystem": b"http", b"debug": True,  # Debian builds nginx --with-debug
            b"prefix": lambda: self._prefix(),
            b"nginx_version": 1022001, b"ngx_lua_version": 10023,
            b"nginx_configure": lambda: b"--prefix=/usr/share/nginx (ngx-explore model)",
        })
        load_chunk(lua, "core")(self.ngx, self.rt, py, consts, config)
        load_chunk(lua, "capture")(self.ngx, self.rt)
        self.sockets = socket_tcp.install(lua, self.ngx, self.rt, self)
        g[b"print"] = self.rt[b"print"]
        balancer.install(self.rt, self)
        load_chunk(lua, "resty")(self.ngx, self.rt)
        self.semaphores = semaphore.Semaphores()
        semaphore.install(lua, self.rt, self.semaphores)
        env = {k.encode(): v.encode() for k, v in service.environment.items()}
        g[b"os"][b"getenv"] = lua.eval(b"function(env) return function(name) "
                                       b"return env[name] end end")(lua.table_from(env))
        self.cache: dict[tuple[bytes, bytes], Any] = {}
        self.rt[b"set_watchdog"](service.watchdog_seconds, service.memory_mb)
        # the driver's entry points, looked up once (each lookup is a boundary crossing)
        self.resume = self.rt[b"resume"]
        self.spawn = self.rt[b"spawn"]
        self.start = self.rt[b"start"]
        self.set_context = self.rt[b"set_context"]
        self._new_state = self.rt[b"new_state"]
        lua.eval(b"function(src) assert(loadstring(src, '=_G write guard'))() end")(_GUARD)
        if service.debugger is not None:  # a VM made while debugging (lua_code_cache off)
            service.debugger.add_worker(self)

    def _prefix(self) -> bytes:
        prefix = self.service.prefix
        return (prefix if prefix.endswith("/") else prefix + "/").encode()

    def _set_package_paths(self) -> None:
        pkg = self.lua.globals()[b"package"]
        path, cpath = self.service.package_path, self.service.package_cpath
        prefix = self.service.prefix.rstrip("/") + "/"
        pkg[b"path"] = _expand(path, DEFAULT_PATH, prefix).encode()
        pkg[b"cpath"] = _expand(cpath, DEFAULT_CPATH, prefix).encode()

    # -- code cache ----------------------------------------------------------------------

    def compile(self, source: bytes, chunkname: bytes, cache: bool = True) -> Any:
        """A handler factory (see runtime.lua's compile); LuaCompileError on bad code.

        ngx_lua caches inline code by its directive kind and source (an MD5 of it), not
        by where it is written: the same code in two locations runs as the chunk that
        was compiled first, named after that one's line."""
        key = (chunkname.partition(b"(")[0], source)
        if cache:
            hit = self.cache.get(key)
            if hit is not None:
                return hit
        factory, err = self.rt[b"compile"](source, chunkname)
        if factory is None:
            raise LuaCompileError(err.decode("utf-8", "replace") if err else "syntax error")
        if cache:
            self.cache[key] = factory
        return factory

    def compile_file(self, path: str, cache: bool = True) -> Any:
        key = (b"@" + path.encode(), b"")
        if cache and key in self.cache:
            return self.cache[key]
        try:
            with open(path, "rb") as fh:
                source = fh.read()
        except OSError as exc:
            raise LuaCompileError(f"cannot open {path}: {os.strerror(exc.errno or 2)}",
                                  path, missing=True) from None
        try:
            factory = self.compile(source, b"@" + path.encode(), cache=False)
        except LuaCompileError as exc:
            raise LuaCompileError(str(exc), path) from None
        if cache:
            self.cache[key] = factory
        return factory

    def new_state(self, r: Request | None, context: str) -> Any:
        number = r.conn.number if r is not None else 0
        return self._new_state(number, context.encode())


def _expand(value: str | None, default: str, prefix: str) -> str:
    """lua_package_path: each ";;" becomes ";<default>;", ``$prefix`` the prefix (which
    ends in "/", so "$prefix/lua" reads "<prefix>//lua" as in ngx_lua)."""
    if not value:
        return default
    value = value.replace("${prefix}", prefix).replace("$prefix", prefix)
    return value.replace(";;", ";" + default + ";")


#: ngx_lua's "_G write guard": a new global set outside init_by_lua* and
#: init_worker_by_lua* is kept, with a warning (from line 12 of this chunk, with the
#: writer's traceback, whose handler frame reads "main chunk" as in ngx_lua's).
_GUARD = b"""local ngx_log, ngx_WARN = ngx.log, ngx.WARN
local tostring, rawset, get_phase = tostring, rawset, ngx.get_phase
local traceback = debug.traceback

local function tidy(tb)
    return (tb:gsub("in function <([^\\n]*):1>$", "in main chunk"))
end
local function newindex(t, key, value)
    rawset(t, key, value)
    local phase = get_phase()
    if phase == "init" or phase == "init_worker" then return end
    ngx_log(ngx_WARN, "writing a global Lua variable ('", tostring(key), "') which may lead to race conditions between concurrent requests, so prefer the use of 'local' variables", tidy(traceback("", 2)))
end
setmetatable(_G, { __newindex = newindex })
"""


_CONSOLE = b"""
local src = ...
local f, err = loadstring("return " .. src, "=console")
if not f then
    f, err = loadstring(src, "=console")
end
if not f then return false, err end
local res = { pcall(f) }
if not res[1] then return false, tostring(res[2]) end
local out = {}
local function show(v, depth, seen)
    local t = type(v)
    if t == "string" then return string.format("%q", v) end
    if t ~= "table" then return tostring(v) end
    if v == ngx.null then return "ngx.null" end
    if seen[v] or depth > 4 then return "{...}" end
    seen[v] = true
    local parts = {}
    local n = #v
    for i = 1, n do parts[#parts + 1] = show(v[i], depth + 1, seen) end
    local keys = {}
    for k in pairs(v) do
        if not (type(k) == "number" and k >= 1 and k <= n and k % 1 == 0) then
            keys[#keys + 1] = k
        end
    end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do
        local key = type(k) == "string" and k:match("^[%a_][%w_]*$") and k
                    or "[" .. show(k, depth + 1, seen) .. "]"
        parts[#parts + 1] = key .. " = " .. show(v[k], depth + 1, seen)
    end
    seen[v] = nil
    return "{ " .. table.concat(parts, ", ") .. " }"
end
for i = 2, table.maxn(res) do out[#out + 1] = show(res[i], 1, {}) end
return true, table.concat(out, "\\t")
"""


def console(self: LuaWorker, source: str) -> tuple[bool, str]:
    """Evaluate Lua in this worker, as the explorer's console does (expression or chunk)."""
    fn = self.__dict__.get("_console_fn")
    if fn is None:
        fn = self.__dict__["_console_fn"] = self.lua.execute(
            b"return function(...) " + _CONSOLE + b" end")
    try:
        ok, out = fn(source.encode("utf-8", "surrogateescape"))
    except Exception as exc:  # a Lua error escaping pcall (e.g. memory)
        return False, str(exc)
    text = out.decode("utf-8", "replace") if isinstance(out, bytes) else str(out or "")
    return bool(ok), text


LuaWorker.console = console  # type: ignore[attr-defined]
