-- ngx.socket.tcp / ngx.socket.connect (ngx_http_lua_socket_tcp.c) for ngx-explore.
--
-- Why the split: argument checks and their exact messages happen here, on the Lua side,
-- and so do the parts of an object that are plain values (its timeouts, the iterator
-- state of receiveuntil). The connection itself lives in Python (socket_tcp.py): an
-- object holds only its number at [1]. Whatever waits on the network yields a "socket"
-- operation to the driver, which does the I/O on the event loop and resumes the thread.

return function(ngx, rt, py)
    local type, tostring, tonumber, select, error, pairs, setmetatable, unpack, floor =
        type, tostring, tonumber, select, error, pairs, setmetatable, unpack, math.floor
    local concat = table.concat
    local check, yield = rt.check, rt.yield
    local getinfo = debug.getinfo
    local CTX_INIT = rt.CTX.init
    local SOCKET = rt.ctxset("rewrite", "access", "content", "timer", "server_rewrite")

    -- luaL_argerror as a C function raises it: named as called, and a method call
    -- counts its arguments without self; the position is the API's caller.
    local function argerr(n, msg)
        local info = getinfo(2, "n")
        if info and info.namewhat == "method" then n = n - 1 end
        error("bad argument #" .. n .. " to '" .. (info and info.name or "?") .. "' ("
              .. msg .. ")", 3)
    end
    rt.socket_argerr = argerr

    -- ngx_lua looks up the request before the context: init_by_lua has none.
    local function request_context()
        local state = rt.current()
        if state ~= nil and state.context == CTX_INIT then error("no request found", 3) end
        return check(SOCKET)
    end
    rt.socket_check = request_context

    -- A "socket" operation: the driver answers "ok" and the results, or "raise" and an
    -- error (a socket of another request) raised at the API's caller.
    -- (never in a tail call: the API function's frame must stay for the error level)
    local function pack(...) return { n = select("#", ...), ... } end
    local function io(...)
        local res = pack(yield("socket", ...))
        if res[1] == "raise" then error(res[2], 3) end
        return res
    end
    -- the results as the driver gave them (their count too: "closed" is two values)
    local function results(res) return unpack(res, 2, res.n) end
    rt.socket_io = io

    -- send's data as ngx_lua copies it: strings and numbers, nested array tables of them
    local function flatten(v, out)
        local max = 0
        for k in pairs(v) do
            if type(k) ~= "number" or k < 1 or k % 1 ~= 0 then return "non-array table found" end
            if k > max then max = k end
        end
        for i = 1, max do
            local e = v[i]
            local t = type(e)
            if t == "string" or t == "number" then
                out[#out + 1] = tostring(e)
            elseif t == "table" then
                local err = flatten(e, out)
                if err then return err end
            else
                return "bad data type " .. t .. " found"
            end
        end
        return nil
    end

    -- (data, nil) or (nil, argerror message)
    local function payload(data)
        local t = type(data)
        if t == "string" then return data end
        if t == "number" or t == "boolean" or t == "nil" then return tostring(data) end
        if t == "table" then
            local out = {}
            local err = flatten(data, out)
            if err then return nil, err end
            return concat(out)
        end
        return nil, "string, number, boolean, nil, or array table expected, got " .. t
    end
    rt.socket_payload = payload

    local mt = {}
    mt.__index = mt
    local DEFAULT = 0  -- a timeout of 0: the lua_socket_*_timeout of the location

    local function new_socket()
        return setmetatable({ nil, DEFAULT, DEFAULT, DEFAULT }, mt)
    end

    function mt.connect(self, ...)
        local n = select("#", ...) + 1
        if n < 2 or n > 4 then
            error("ngx.socket connect: expecting 2, 3, or 4 arguments (including the "
                  .. "object), but seen " .. n, 2)
        end
        request_context()
        local host, port, opts = ...
        local th = type(host)
        if th ~= "string" and th ~= "number" then
            argerr(2, "string expected, got " .. th)
        end
        host = tostring(host)
        local opt_arg = 4
        if type(port) == "table" then
            port, opts, opt_arg = nil, port, 3
        elseif port ~= nil then
            port = tonumber(port)
            if port ~= nil then port = floor(port) end
        end
        local pool, pool_size, backlog
        if type(opts) == "table" then
            pool = opts.pool
            local tp = type(pool)
            if tp == "number" then
                pool = tostring(pool)
            elseif tp ~= "nil" and tp ~= "string" then
                argerr(opt_arg, 'bad "pool" option type: ' .. tp)
            end
            pool_size = opts.pool_size
            if pool_size ~= nil then
                if type(pool_size) ~= "number" then
                    argerr(opt_arg, 'bad "pool_size" option type: ' .. type(pool_size))
                end
                if pool_size <= 0 then
                    argerr(opt_arg, 'bad "pool_size" option value: ' .. pool_size)
                end
            end
            backlog = opts.backlog
            if backlog ~= nil then
                if type(backlog) ~= "number" then
                    argerr(opt_arg, 'bad "backlog" option type: ' .. type(backlog))
                end
                if backlog < 0 then
                    argerr(opt_arg, 'bad "backlog" option value: ' .. backlog)
                end
            end
        end
        if port ~= nil and (port < 0 or port > 65535) then
            return nil, "bad port number: " .. port
        end
        if self[1] == nil then self[1] = py.tcp_new() end
        return results(io("connect", self[1], host, port, pool, pool_size, self[2]))
    end

    function mt.send(self, ...)
        local n = select("#", ...) + 1
        if n ~= 2 then
            error("expecting 2 arguments (including the object), but got " .. n, 2)
        end
        if self[1] == nil then return py.tcp_never("send") end
        if py.tcp_dead(self[1], "send") then return results(io("send", self[1], "", self[3])) end
        local data, err = payload((...))
        if data == nil then argerr(2, err) end
        request_context()
        return results(io("send", self[1], data, self[3]))
    end

    local function receive_spec(n, pat)
        if n == 1 then return "line", 0 end
        local num = tonumber(pat)
        if num ~= nil then
            num = floor(num)
            if num < 0 then return nil end
            return "n", num
        end
        if type(pat) ~= "string" then return nil end
        if #pat ~= 2 or pat:sub(1, 1) ~= "*" then return nil, "bad pattern argument: " .. pat end
        local c = pat:sub(2, 2)
        if c == "l" then return "line", 0 end
        if c == "a" then return "all", 0 end
        return nil
    end

    function mt.receive(self, ...)
        local n = select("#", ...) + 1
        if n ~= 1 and n ~= 2 then
            error("expecting 1 or 2 arguments (including the object), but got " .. n, 2)
        end
        if self[1] == nil then return py.tcp_never("receive") end
        if py.tcp_dead(self[1], "receive") then
            return results(io("receive", self[1], "line", 0, self[4]))
        end
        local kind, size = receive_spec(n, (...))
        if kind == nil then argerr(2, size or "bad pattern argument") end
        request_context()
        return results(io("receive", self[1], kind, size, self[4]))
    end

    function mt.receiveany(self, ...)
        local n = select("#", ...) + 1
        if n ~= 2 then
            error("expecting 2 arguments (including the object), but got " .. n, 2)
        end
        if self[1] == nil then return py.tcp_never("receive") end
        if py.tcp_dead(self[1], "receive") then
            return results(io("receive", self[1], "line", 0, self[4]))
        end
        local max = tonumber((...))
        if max == nil or floor(max) <= 0 then argerr(2, "bad max argument") end
        request_context()
        return results(io("receive", self[1], "any", floor(max), self[4]))
    end

    function mt.receiveuntil(self, ...)
        local n = select("#", ...) + 1
        if n ~= 2 and n ~= 3 then
            error("expecting 2 or 3 arguments (including the object), but got " .. n, 2)
        end
        local pattern, opts = ...
        local inclusive = false
        if n == 3 then
            if type(opts) ~= "table" then argerr(3, "table expected, got " .. type(opts)) end
            local v = opts.inclusive
            if v ~= nil and type(v) ~= "boolean" then
                error('bad "inclusive" option value type: ' .. type(v), 2)
            end
            inclusive = v == true
        end
        local tp = type(pattern)
        if tp ~= "string" and tp ~= "number" then argerr(2, "string expected, got " .. tp) end
        pattern = tostring(pattern)
        if pattern == "" then return nil, "pattern is empty" end
        local ended = false  -- sized reads: the boundary was hit, say so with nils next
        return function(size)
            if ended then
                ended = false
                return nil, nil, nil
            end
            -- a closed socket answers so before its arguments are looked at
            if self[1] == nil or py.tcp_dead(self[1], "receive") then return nil, "closed" end
            if size ~= nil then
                size = tonumber(size)
                if size == nil then argerr(1, "bad size argument") end
                size = size < 0 and 0 or floor(size)  -- a negative size: no limit
            end
            request_context()
            local res = io("until", self[1], pattern, inclusive, size or 0, self[4])
            if res[2] == nil then return results(res) end
            if res[3] and size ~= nil and size > 0 then ended = true end
            return res[2]
        end
    end

    function mt.close(self, ...)
        local n = select("#", ...) + 1
        if n ~= 1 then
            error("expecting 1 argument (including the object) but seen " .. n, 2)
        end
        if self[1] == nil then return nil, "closed" end
        local ok, err = py.tcp_close(self[1])
        if ok == "raise" then error(err, 2) end
        if ok == nil then return nil, err end
        return ok
    end

    function mt.settimeout(self, ...)
        local n = select("#", ...) + 1
        if n ~= 2 then
            error("ngx.socket settimeout: expecting 2 arguments (including the object) "
                  .. "but seen " .. n, 2)
        end
        local t = floor(tonumber((...)) or 0)
        if t < 0 then error("bad timeout value", 2) end
        self[2], self[3], self[4] = t, t, t
    end

    function mt.settimeouts(self, ...)
        local n = select("#", ...) + 1
        if n ~= 4 then
            error("ngx.socket settimeout: expecting 4 arguments (including the object) "
                  .. "but seen " .. n, 2)
        end
        local c, s, r = ...
        c, s, r = floor(tonumber(c) or 0), floor(tonumber(s) or 0), floor(tonumber(r) or 0)
        if c < 0 or s < 0 or r < 0 then error("bad timeout value", 2) end
        self[2], self[3], self[4] = c, s, r
    end

    function mt.setkeepalive(self, ...)
        local n = select("#", ...) + 1
        if n > 3 then
            error("expecting 1 to 3 arguments (including the object), but got " .. n, 2)
        end
        if self[1] == nil then return nil, "closed" end
        -- ngx_lua checks its arguments late: the pool size when it creates the pool,
        -- the timeout after the connection left the object (Python says which failed)
        local timeout, size = ...
        local bad_timeout, bad_size
        if timeout ~= nil then
            if tonumber(timeout) == nil then
                bad_timeout = "number expected, got " .. type(timeout)
            else
                timeout = floor(tonumber(timeout))
            end
        end
        if size ~= nil then
            if tonumber(size) == nil then
                bad_size = "number expected, got " .. type(size)
            else
                size = floor(tonumber(size))
            end
        end
        local a, b, c = py.tcp_setkeepalive(self[1], timeout, size, bad_timeout, bad_size)
        if a == "argerr" then argerr(b, c) end
        if a ~= nil then return a end
        return a, b
    end

    function mt.getreusedtimes(self, ...)
        local n = select("#", ...) + 1
        if n ~= 1 then
            error("expecting 1 argument (including the object), but got " .. n, 2)
        end
        if self[1] == nil then return nil, "closed" end
        return py.tcp_reused(self[1])
    end

    -- lua-resty-core's FFI methods (resty/core/socket.lua), with its messages
    local OPTIONS = { keepalive = 1, reuseaddr = 2, ["tcp-nodelay"] = 3, sndbuf = 4,
                      rcvbuf = 5 }
    local function ffi_socket(self)
        if self[1] == nil then
            error("/usr/share/lua/5.1/resty/core/socket.lua:81: socket is never created "
                  .. "nor connected", 0)
        end
        return self[1]
    end

    function mt.getoption(self, option)
        local id = ffi_socket(self)
        if option == nil then return nil, 'missing the "option" argument' end
        if OPTIONS[option] == nil then return nil, "unsupported option " .. tostring(option) end
        return py.tcp_getoption(id, OPTIONS[option])
    end

    function mt.setoption(self, option, value)
        local id = ffi_socket(self)
        if option == nil then return nil, 'missing the "option" argument' end
        if value == nil then return nil, 'missing the "value" argument' end
        if OPTIONS[option] == nil then return nil, "unsupported option " .. tostring(option) end
        if type(value) == "boolean" then value = value and 1 or 0 end
        return py.tcp_setoption(id, OPTIONS[option], tonumber(value) or 0)
    end

    function mt.setclientcert(self, cert, pkey)
        if not cert and not pkey then return true end
        return nil, "not modelled"
    end

    -- TLS on cosockets is not modelled (ngx-explore has no SSL): say so.
    function mt.sslhandshake(self)
        ffi_socket(self)
        return nil, "not modelled"
    end

    local socket = ngx.socket or {}
    ngx.socket = socket

    function socket.tcp(...)
        local n = select("#", ...)
        if n ~= 0 then error("expecting zero arguments, but got " .. n, 2) end
        request_context()
        return new_socket()
    end
    socket.stream = socket.tcp

    -- ngx_lua defines it as Lua code under this very chunk name
    socket.connect = assert(loadstring("local sock = ngx.socket.tcp() local ok, err = "
        .. "sock:connect(...) if ok then return sock else return nil, err end",
        "=ngx.socket.connect"))
end
