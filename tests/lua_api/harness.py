"""Run the same Lua snippet on real OpenResty and in our lupa VM, and serialize results.

Why: the differential tests compare *printed* results, so both sides must serialize
identically. The serializer is plain Lua (run on both sides); the snippet is the body of a
function loaded with chunk name ``=snippet`` so error positions read ``snippet:N:`` on both.
Error messages raised from library code carry a file prefix that differs between the two
implementations (``/usr/share/lua/5.1/resty/core/regex.lua:351:`` vs ours); ``normalize``
replaces any such non-snippet location prefix with ``<lib>:``.
"""

from __future__ import annotations

import http.client
import re

import lupa.luajit21

from tests.oracle import RealNginx

#: ``enc(v)``: a value in a printable form the differential fuzzers compare (tables with
#: their keys sorted: pairs order is not comparable; a metatable shown as "mt").
ENC_LUA = r"""
        local function enc(v)
            local t = type(v)
            if t == "string" then return string.format("%q", v) end
            if t == "number" then return "n:" .. string.format("%.14g", v) end
            if t == "userdata" then return v == ngx.null and "null" or "userdata" end
            if t == "nil" or t == "boolean" then return tostring(v) end
            if t ~= "table" then return t end
            local out = {}
            for k, x in pairs(v) do out[#out + 1] = enc(k) .. "=" .. enc(x) end
            table.sort(out)
            local mt = getmetatable(v) and "mt" or ""
            return mt .. "{" .. table.concat(out, ",") .. "}"
        end
"""

SERIALIZER_LUA = r"""
local null = ngx and ngx.null
local function keycmp(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
end
local ser
ser = function(v, seen)
    local t = type(v)
    if t == "string" then return string.format("%q", v) end
    if t == "number" then
        if v ~= v then return "nan" end
        if v == math.floor(v) and v > -1e15 and v < 1e15 then
            return string.format("%d", v)
        end
        return string.format("%.17g", v)
    end
    if t == "nil" or t == "boolean" then return tostring(v) end
    if t == "userdata" then
        if null ~= nil and v == null then return "null" end
        return "userdata"
    end
    if t == "table" then
        seen = seen or {}
        if seen[v] then return "<cycle>" end
        seen[v] = true
        local keys = {}
        for k in pairs(v) do keys[#keys + 1] = k end
        table.sort(keys, keycmp)
        local out = {}
        for _, k in ipairs(keys) do
            out[#out + 1] = "[" .. ser(k, seen) .. "]=" .. ser(v[k], seen)
        end
        local mt = getmetatable(v)
        local tag = ""
        if mt ~= nil and mt ~= false then tag = "mt:" end
        seen[v] = nil
        return tag .. "{" .. table.concat(out, ",") .. "}"
    end
    return t
end
local function run(code)
    local f, err = loadstring(code, "=snippet")
    if not f then return "LOADERR " .. tostring(err) end
    local r = { pcall(f) }
    local n = table.maxn(r)
    local out = {}
    for i = 1, n do out[i] = ser(r[i]) end
    return table.concat(out, " ")
end
return run
"""

ORACLE_CONF = """
worker_processes 1;
error_log logs/error.log error;
events { worker_connections 64; }
http {
    access_log off;
    lua_package_cpath "/usr/lib/x86_64-linux-gnu/lua/5.1/?.so;;";
    lua_shared_dict dogs 1m;
    lua_shared_dict cats 512k;
    client_body_buffer_size 1m;
    client_max_body_size 10m;
    init_by_lua_block {
        RUN_SNIPPET = (loadstring(%s, "=serializer"))()
    }
    server {
        listen 127.0.0.1:{port};
        location /run {
            content_by_lua_block {
                ngx.req.read_body()
                local code = ngx.req.get_body_data() or ""
                ngx.print(RUN_SNIPPET(code))
            }
        }
    }
}
"""


def oracle_conf() -> str:
    """The oracle config with the serializer inlined as a Lua long string."""
    return ORACLE_CONF % ("[==========[" + SERIALIZER_LUA + "]==========]")


class Oracle:
    """A running real nginx that evaluates snippets; one per test module (slow to start)."""

    def __init__(self) -> None:
        self.nginx = RealNginx(oracle_conf())
        self.conn: http.client.HTTPConnection | None = None

    def __enter__(self) -> "Oracle":
        self.nginx.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.conn is not None:
            self.conn.close()
        self.nginx.__exit__(*exc)

    def run(self, code: str) -> str:
        """POST the snippet and return the serialized results."""
        for _attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.nginx.port, timeout=10)
            try:
                self.conn.request("POST", "/run", body=code.encode())
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.status != 200:
                    raise AssertionError(f"oracle status {resp.status}: {data!r}\n"
                                         + self.nginx.error_log()[-2000:])
                return data.decode("latin-1")
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
        raise AssertionError("oracle connection failed\n" + self.nginx.error_log()[-2000:])


def new_runtime() -> lupa.luajit21.LuaRuntime:
    """A bare runtime configured exactly as the engine's runtime is."""
    return lupa.luajit21.LuaRuntime(encoding=None, unpack_returned_tuples=True,
                                    register_eval=False)


_LOC = re.compile(r'[^\s"\':]*\.lua:\d+: |\[string "[^"]*"\]:\d+: ')


def normalize(s: str) -> str:
    """Replace library location prefixes in error messages with ``<lib>:``."""
    return _LOC.sub("<lib>: ", s)


class VM:
    """Our side: a bare runtime with an ``ngx`` table and every API family installed.

    Shared dicts mirror the oracle config (``dogs`` 1m, ``cats`` 512k).
    """

    def __init__(self, clock: object | None = None) -> None:
        from engine.lua import cjson, regex, shdict, string, time as ltime

        self.lua = new_runtime()
        self.ngx = self.lua.table()
        self.lua.globals().ngx = self.ngx
        self.clock = clock or ltime.Clock()
        ltime.install(self.lua, self.ngx, self.clock)
        self.regex = regex.install(self.lua, self.ngx)
        cjson.install(self.lua, self.ngx)
        string.install(self.lua, self.ngx)
        self.zones = shdict.SharedDicts()
        self.zones.add(shdict.SharedDictZone("dogs", 1024 * 1024))
        self.zones.add(shdict.SharedDictZone("cats", 512 * 1024))
        shdict.install(self.lua, self.ngx, self.zones, self.clock)
        self._run = self.lua.execute(SERIALIZER_LUA.encode())

    def run(self, code: str) -> str:
        """Run a snippet and return the serialized results (same format as the oracle)."""
        return self._run(code.encode()).decode("latin-1")
