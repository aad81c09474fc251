-- The rest of the ngx table: constants, ngx.log / print, ngx.ctx / ngx.status /
-- ngx.arg / ngx.headers_sent, ngx.sleep, ngx.timer.*, ngx.thread.*, ngx.on_abort,
-- ngx.worker.*, ngx.config.* (ngx_http_lua_util.c's inject_* functions, _log.c,
-- _sleep.c, _timer.c, _uthread.c, _worker.c, _config.c) for ngx-explore.
-- ngx.location.capture(_multi) is capture.lua.

return function(ngx, rt, py, consts, config)
    local type, tostring, select, error, setmetatable, rawset, pairs, concat, unpack =
        type, tostring, select, error, setmetatable, rawset, pairs, table.concat, unpack
    local tonumber, getmetatable, format, floor, ceil =
        tonumber, getmetatable, string.format, math.floor, math.ceil
    local check, ctxset, yield, current = rt.check, rt.ctxset, rt.yield, rt.current
    local getinfo, floor, traceback = debug.getinfo, math.floor, debug.traceback

    for k, v in pairs(consts) do ngx[k] = v end

    local ANY = ctxset("set", "rewrite", "access", "content", "header_filter",
                       "body_filter", "log", "timer", "init_worker", "init",
                       "server_rewrite", "exit_worker", "balancer")
    local YIELDABLE = ctxset("rewrite", "access", "content", "timer", "server_rewrite")
    local TIMER = ctxset("init_worker", "set", "rewrite", "access", "content",
                         "header_filter", "body_filter", "log", "timer", "server_rewrite")

    -- ngx.log(level, ...) and print(...): "[lua] chunk:line: msg" at the caller; a
    -- number as ngx_http_lua_write_num writes it
    local log_num = rt.write_num

    -- the arguments as log_wrapper concatenates them; on a bad one: nil, the error text
    -- (argument numbers count from the first message argument, the level not included)
    local function log_args(fname, ...)
        local n = select("#", ...)
        local parts = {}
        for i = 1, n do
            local v = select(i, ...)
            local t = type(v)
            if t == "string" then
                parts[i] = v
            elseif t == "number" then
                parts[i] = log_num(v)
            elseif t == "nil" then
                parts[i] = "nil"
            elseif t == "boolean" then
                parts[i] = v and "true" or "false"
            elseif v == ngx.null then
                parts[i] = "null"
            elseif t == "table" then
                local mt = getmetatable(v)
                if not (mt and mt.__tostring) then
                    return nil, "bad argument #" .. i .. " to '" .. fname
                        .. "' (expected table to have __tostring metamethod)"
                end
                -- lua_tolstring of what __tostring gave: a string or number, else ""
                local s = mt.__tostring(v)
                local ts = type(s)
                parts[i] = (ts == "string" or ts == "number") and tostring(s) or ""
            else
                return nil, "bad argument #" .. i .. " to '" .. fname .. "' (string, number, "
                    .. "boolean, or nil expected, got " .. t .. ")"
            end
        end
        return concat(parts)
    end

    -- "chunk:line:", and "name():" after it when a named Lua function logs (ngx_lua's
    -- log_wrapper, which keeps the base name of a file chunk: "mod.lua:3:")
    local function where(level)
        local info = getinfo(level, "Sln")
        if not info then return "?:0:" end
        local src = (info.short_src or "?"):match("[^/\\]*$")
        local at = src .. ":" .. (info.currentline or 0) .. ":"
        if info.what == "Lua" and info.namewhat ~= "" and info.name then
            return at .. " " .. info.name .. "():"
        end
        return at
    end

    -- ngx.log's level is luaL_checkint'ed: a number or a numeric string, cut toward
    -- zero to a C int (2^32 + 4 is 4), then checked against NGX_LOG_STDERR..DEBUG
    function ngx.log(...)
        local level = ...
        local t = type(level)
        level = (t == "number" or t == "string") and tonumber(level) or nil
        if not level then
            rt.argerror(1, "number expected, got " .. (select("#", ...) == 0 and "no value" or t))
        end
        level = (level >= 0 and floor(level) or ceil(level)) % 4294967296
        if level >= 2147483648 then level = level - 4294967296 end
        if level < 0 or level > 8 then
            rt.argerror(1, "bad log level: " .. level)
        end
        local msg, err = log_args("log", select(2, ...))
        if not msg then error(err, 2) end
        py.log(level, "[lua] " .. where(3) .. " " .. msg)
    end

    function rt.print(...)
        local msg, err = log_args("print", ...)
        if not msg then error(err, 2) end
        py.log(6, "[lua] " .. where(3) .. " " .. msg)
    end

    -- ngx.arg: an empty table whose metamethods read (and, in body_filter_by_lua*,
    -- write) the handler's arguments in state.arg, as resty.core's param.lua and
    -- ngx_lua's C setter do: an empty set_by_lua argument reads nil, the body filter's
    -- index 1 is the chunk and 2 the eof flag, any other index nil (and an error to set)
    local arg_state = setmetatable({}, { __mode = "k" })  -- proxy -> its request state
    -- a table set as the body filter's chunk becomes one string at once, with ngx_lua's
    -- strict walk: arrays of strings, numbers and such arrays only
    local function flatten_chunk(t, out)
        local max = 0
        for k in pairs(t) do
            if type(k) ~= "number" or k < 1 or k % 1 ~= 0 then
                return "non-array table found"
            end
            if k > max then max = k end
        end
        for i = 1, max do
            local e = rawget(t, i)
            local te = type(e)
            if te == "string" or te == "number" then
                out[#out + 1] = tostring(e)
            elseif te == "table" then
                local err = flatten_chunk(e, out)
                if err then return err end
            else
                return "bad data type " .. te .. " found"
            end
        end
        return nil
    end
    local arg_mt = {
        __index = function(t, i)
            local state = arg_state[t]
            local v = state.arg[i]
            if state.context == rt.CTX.set then
                return v ~= "" and v or nil
            end
            if i == 1 then return v or "" end
            if i == 2 then return v and true or false end
            return nil
        end,
        __newindex = function(t, i, v)
            local state = arg_state[t]
            if state.context ~= rt.CTX.body_filter then return end
            local arg = state.arg
            if i == 2 then
                -- ngx_lua marks the last buffer of the chain; once ngx.arg[1] = "" left
                -- no chain, the mark is lost (arg.lost) and the response never ends
                arg[2] = v and true or false
                if arg[2] and arg.empty then arg.lost = true end
            elseif i ~= 1 then
                error("bad index: " .. tostring(i), 2)
            else
                local tv = type(v)
                if tv == "number" then
                    v = tostring(v)
                elseif tv == "nil" then
                    v = ""
                elseif tv == "table" then
                    local out = {}
                    local err = flatten_chunk(v, out)
                    if err then error("bad argument #3 to '__newindex' (" .. err .. ")", 2) end
                    v = table.concat(out)
                elseif tv ~= "string" then
                    error("bad chunk data type: " .. tv, 2)
                end
                arg[1] = v
                -- (emptied with the mark set, the chain keeps a last buffer)
                arg.empty = v == "" and not arg[2]
            end
        end,
    }
    function rt.arg_proxy(state)
        local proxy = state.arg_proxy
        if proxy == nil then
            proxy = setmetatable({}, arg_mt)
            arg_state[proxy] = state
            state.arg_proxy = proxy
        end
        return proxy
    end

    -- resty.core's FFI getters refuse a timer's fake request (ngx.arg's error carries
    -- param.lua's position)
    local function real_request(level)
        local state = current()
        if state ~= nil and state.context == rt.CTX.timer then
            error((level == 0 and "/usr/share/lua/5.1/resty/core/param.lua:93: " or "")
                  .. "API disabled in the current context", level)
        end
    end

    -- the dynamic fields of ngx
    local getters = {
        ctx = function() return rt.ctx(check(ANY)) end,
        status = function() return rt.status_get() end,
        headers_sent = function() real_request(3) return ngx.headers_sent_get() end,
        arg = function()
            real_request(0)
            local state = check(ctxset("set", "body_filter"))
            return rt.arg_proxy(state)
        end,
        is_subrequest = function() real_request(3) return py.is_subrequest() end,
    }
    setmetatable(ngx, {
        __index = function(_, k)
            local g = getters[k]
            if g then return g() end
            return nil
        end,
        __newindex = function(t, k, v)
            if k == "ctx" then
                local state = check(ANY)
                if type(v) ~= "table" then error("ctx should be a table while setting ctx", 2) end
                state.ctx = v
            elseif k == "status" then
                return rt.status_set(v)  -- a tail call: its errors point at the caller
            elseif k == "arg" or k == "headers_sent" or k == "is_subrequest" then
                error("attempt to write to ngx." .. k, 2)
            else
                rawset(t, k, v)
            end
        end,
    })

    -- ngx_http_lua_ngx_sleep: its argument checks come before the context check, and
    -- it works in whole milliseconds ((ngx_int_t) (seconds * 1000))
    function ngx.sleep(...)
        local n = select("#", ...)
        if n ~= 1 then
            error("attempt to pass " .. n .. " arguments, but accepted 1", 2)
        end
        local seconds = ...
        local num = tonumber(seconds)
        if type(seconds) ~= "number" and (type(seconds) ~= "string" or num == nil) then
            rt.argerror(1, "number expected, got " .. type(seconds))
        end
        local ms = num * 1000
        ms = ms >= 0 and floor(ms) or -floor(-ms)
        if ms < 0 then error("invalid sleep duration \"" .. ("%d"):format(ms) .. "\"", 2) end
        check(YIELDABLE)
        if ms == 0 then
            py.log(5, "ngx.sleep(0) called without delayed events patch, this will hurt "
                   .. "performance")
        end
        return yield("sleep", ms / 1000)
    end

    function ngx.on_abort(fn)
        check(ctxset("rewrite", "access", "content", "server_rewrite"))
        local state = current()
        if state.on_abort then return nil, "duplicate call" end
        if not py.check_client_abort() then return nil, "lua_check_client_abort is off" end
        if type(fn) ~= "function" then
            rt.argerror(1, "Lua function expected")
        end
        state.on_abort = fn
        return 1
    end

    -- ngx.timer.*
    local timer = {}
    ngx.timer = timer

    -- Timer callbacks and their arguments stay here, by number: a Lua object handed to
    -- Python from inside a coroutine must not outlive that coroutine (lupa keeps the
    -- coroutine's state in it), and a timer outlives the request that made it.
    local pending_timers = {}
    local timer_ids = 0

    local function schedule(delay, callback, every, ...)
        timer_ids = timer_ids + 1
        local id = timer_ids
        pending_timers[id] = { callback, { n = select("#", ...), ... }, every }
        local ok, err = py.timer_at(delay, id, every, where(4))
        if not ok then
            pending_timers[id] = nil
            return nil, err
        end
        return ok
    end

    -- The coroutine (by number) and the arguments for timer `id`; an ngx.timer.at
    -- timer is forgotten once fired, an ngx.timer.every one when `last` is true.
    function rt.timer_start(id, last)
        local t = pending_timers[id]
        if t == nil then return nil end
        if last or not t[3] then pending_timers[id] = nil end
        return rt.spawn_fn(t[1]), t[2]
    end

    -- ngx_lua's (ngx_msec_t) (delay * 1000): C's double to uint64 conversion on x86-64
    -- (an out-of-range or NaN value converts to 2^63 below it, to 0 above it), then
    -- nginx's signed look at the timer key: nil for a timer that never fires, else the
    -- milliseconds to wait (a negative delay wraps to the past: at once).
    local TWO63 = 2 ^ 63
    local NEVER = -1  -- the delay timers.py takes for a timer that never fires
    local function msec(seconds)
        local ms = seconds * 1000
        local bits
        if ms < TWO63 or ms ~= ms then
            bits = (ms > -TWO63 and ms == ms) and (ms >= 0 and floor(ms) or -floor(-ms))
                   or TWO63
        else
            bits = (ms - TWO63 < TWO63) and ms or 0
        end
        if bits == TWO63 then return nil, false end
        if bits < 0 or bits > TWO63 then return 0, false end
        return bits, bits == 0
    end

    -- ngx_http_lua_ngx_timer_helper's first checks: the delay as a number, or nil and
    -- the argument error to raise (from the API function, which it names)
    local function timer_delay(nargs, delay)
        if nargs < 2 then
            error("expecting at least 2 arguments but got " .. nargs, 3)
        end
        local n = tonumber(delay)
        if type(delay) ~= "number" and (type(delay) ~= "string" or n == nil) then
            return nil, "number expected, got " .. type(delay)
        end
        return n
    end

    -- A C function is not a callback; the API functions this engine writes in Lua are
    -- C functions in ngx_lua.
    local function lua_function(fn)
        if type(fn) ~= "function" then return false end
        local info = getinfo(fn, "S")
        return info.what ~= "C" and info.source:sub(1, 12) ~= "@engine/lua/"
    end

    function timer.at(...)
        check(TIMER)
        local delay, callback = ...
        local n, err = timer_delay(select("#", ...), delay)
        if not n then rt.argerror(1, err) end
        local ms = msec(n)
        if not lua_function(callback) then
            rt.argerror(2, "Lua function expected")
        end
        return schedule(ms and ms / 1000 or NEVER, callback, false, select(3, ...))
    end

    function timer.every(...)
        check(TIMER)
        local delay, callback = ...
        local n, err = timer_delay(select("#", ...), delay)
        if not n then rt.argerror(1, err) end
        local ms, zero = msec(n)
        if zero then
            error("delay cannot be zero", 2)
        end
        if not lua_function(callback) then
            rt.argerror(2, "Lua function expected")
        end
        return schedule(ms and ms / 1000 or NEVER, callback, true, select(3, ...))
    end

    function timer.running_count() return py.timer_counts(true) end
    function timer.pending_count() return py.timer_counts(false) end

    -- ngx.thread.* (light threads inside one request). The checks that need the
    -- threads' states (parent, zombie, dead) are uthread.py's; a wait it refuses comes
    -- back as WAIT_ERROR and the message, raised here at the caller.
    local thread = {}
    ngx.thread = thread
    local co_running = coroutine.running
    local WAIT_ERROR = "\0wait error"
    -- light thread number -> the coroutine that spawned it (for error tracebacks)
    local parents = setmetatable({}, { __mode = "v" })

    function thread.spawn(fn, ...)
        check(YIELDABLE)
        if not lua_function(fn) then
            rt.argerror(1, "Lua function expected")
        end
        local co = rt.co_create(fn)
        local id = rt.register(co)
        local parent = co_running()
        parents[id] = parent
        yield("spawn", id, { n = select("#", ...), ... }, rt.id_of(parent) or -1)
        return co
    end

    local function waited(first, ...)
        if first == WAIT_ERROR then error((...), 2) end
        return first, ...
    end

    function thread.wait(...)
        check(YIELDABLE)
        local n = select("#", ...)
        if n == 0 then error("at least one coroutine should be specified", 2) end
        local ids = { n = n }
        for i = 1, n do
            local co = select(i, ...)
            if type(co) ~= "thread" then
                rt.argerror(i, "lua thread expected")
            end
            ids[i] = rt.id_of(co) or -1
        end
        return waited(yield("wait", ids, rt.id_of(co_running()) or -1))
    end

    function thread.kill(co)
        check(YIELDABLE)
        if type(co) ~= "thread" then
            rt.argerror(1, "lua thread expected")
        end
        return yield("kill", rt.id_of(co) or -1, rt.id_of(co_running()) or -1)
    end

    -- The tracebacks of light thread `id`'s parent, grand-parent... (innermost first)
    function rt.uthread_parents(id)
        local out, n = {}, 0
        local parent = parents[id]
        while parent ~= nil do
            n = n + 1
            out[n] = traceback(parent)
            parent = parents[rt.id_of(parent) or -1]
        end
        return out
    end

    -- ngx.worker.* and ngx.config.*
    ngx.worker = {
        id = function() return py.worker_id() end,
        count = function() return py.worker_count() end,
        pid = function() return py.worker_pid() end,
        exiting = function() return py.worker_exiting() end,
    }
    ngx.config = config
end
