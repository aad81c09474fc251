-- The rest of the ngx table: constants, ngx.log / print, ngx.ctx / ngx.status /
-- ngx.arg / ngx.headers_sent, ngx.sleep, ngx.timer.*, ngx.thread.*, ngx.on_abort,
-- ngx.worker.*, ngx.config.* (ngx_http_lua_util.c's inject_* functions, _log.c,
-- _sleep.c, _timer.c, _uthread.c, _worker.c, _config.c) for ngx-explore.
-- ngx.location.capture(_multi) is capture.lua.

return function(ngx, rt, py, consts, config)
    local type, tostring, select, error, setmetatable, rawset, pairs, concat, unpack =
        type, tostring, select, error, setmetatable, rawset, pairs, table.concat, unpack
    local check, ctxset, yield, current = rt.check, rt.ctxset, rt.yield, rt.current
    local getinfo = debug.getinfo

    for k, v in pairs(consts) do ngx[k] = v end

    local ANY = ctxset("set", "rewrite", "access", "content", "header_filter",
                       "body_filter", "log", "timer", "init_worker", "init",
                       "server_rewrite", "exit_worker")
    local YIELDABLE = ctxset("rewrite", "access", "content", "timer", "server_rewrite")
    local TIMER = ctxset("init_worker", "set", "rewrite", "access", "content",
                         "header_filter", "body_filter", "log", "timer", "server_rewrite")

    -- ngx.log(level, ...) and print(...): "[lua] chunk:line: msg" at the caller
    local function log_args(...)
        local n = select("#", ...)
        local parts = {}
        for i = 1, n do
            local v = select(i, ...)
            local t = type(v)
            if t == "string" or t == "number" then
                parts[i] = tostring(v)
            elseif t == "nil" then
                parts[i] = "nil"
            elseif t == "boolean" then
                parts[i] = v and "true" or "false"
            elseif v == ngx.null then
                parts[i] = "null"
            elseif t == "table" and getmetatable(v) and getmetatable(v).__tostring then
                parts[i] = tostring(v)
            else
                return nil, i, t
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

    function ngx.log(level, ...)
        if type(level) ~= "number" then
            rt.argerror(1, "number expected, got " .. type(level))
        end
        if level < 0 or level > 8 then
            error("bad log level", 2)
        end
        local msg, bad, t = log_args(...)
        if not msg then
            error("bad argument #" .. (bad + 1) .. " to 'log' (string, number, boolean, "
                  .. "or nil expected, got " .. t .. ")", 2)
        end
        py.log(level, "[lua] " .. where(3) .. " " .. msg)
    end

    function rt.print(...)
        local msg, bad, t = log_args(...)
        if not msg then
            error("bad argument #" .. bad .. " to 'print' (string, number, boolean, "
                  .. "or nil expected, got " .. t .. ")", 2)
        end
        py.log(6, "[lua] " .. where(3) .. " " .. msg)
    end

    -- ngx.arg: an empty table whose metamethods read (and, in body_filter_by_lua*,
    -- write) the handler's arguments in state.arg, as resty.core's param.lua and
    -- ngx_lua's C setter do: an empty set_by_lua argument reads nil, the body filter's
    -- index 1 is the chunk and 2 the eof flag, any other index nil (and an error to set)
    local arg_state = setmetatable({}, { __mode = "k" })  -- proxy -> its request state
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
            if i == 2 then
                state.arg[2] = v and true or false
            elseif i ~= 1 then
                error("bad index: " .. tostring(i), 2)
            else
                local tv = type(v)
                if tv == "number" then
                    v = tostring(v)
                elseif tv == "nil" then
                    v = ""
                elseif tv ~= "string" and tv ~= "table" then
                    error("bad chunk data type: " .. tv, 2)
                end
                state.arg[1] = v
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

    -- the dynamic fields of ngx
    local getters = {
        ctx = function() return rt.ctx(check(ANY)) end,
        status = function() return rt.status_get() end,
        headers_sent = function() return ngx.headers_sent_get() end,
        arg = function()
            local state = check(ctxset("set", "body_filter"))
            return rt.arg_proxy(state)
        end,
        is_subrequest = function() return py.is_subrequest() end,
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
                rt.status_set(v)
            elseif k == "arg" or k == "headers_sent" or k == "is_subrequest" then
                error("attempt to write to ngx." .. k, 2)
            else
                rawset(t, k, v)
            end
        end,
    })

    function ngx.sleep(seconds)
        check(YIELDABLE)
        if type(seconds) ~= "number" then
            rt.argerror(1, "number expected, got " .. type(seconds))
        end
        if seconds < 0 then error("invalid sleep duration \"" .. seconds .. "\"", 2) end
        return yield("sleep", seconds)
    end

    function ngx.on_abort(fn)
        check(ctxset("rewrite", "access", "content", "server_rewrite"))
        local state = current()
        if state.on_abort then return nil, "duplicate call" end
        if not py.check_client_abort() then return nil, "lua_check_client_abort is off" end
        if type(fn) ~= "function" then
            rt.argerror(1, "function expected, got " .. type(fn))
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

    function timer.at(delay, callback, ...)
        check(TIMER)
        if type(delay) ~= "number" then
            rt.argerror(1, "number expected, got " .. type(delay))
        end
        if delay < 0 then delay = 0 end  -- ngx_lua 0.10.23 runs it at once (the msec wrap)
        if type(callback) ~= "function" then
            rt.argerror(2, "Lua function expected")
        end
        return schedule(delay, callback, false, ...)
    end

    function timer.every(delay, callback, ...)
        check(TIMER)
        if type(delay) ~= "number" then
            rt.argerror(1, "number expected, got " .. type(delay))
        end
        if delay >= 0 and delay < 0.001 then  -- whole milliseconds, as ngx_lua counts
            error("delay cannot be zero", 2)
        end
        if type(callback) ~= "function" then
            rt.argerror(2, "Lua function expected")
        end
        return schedule(delay, callback, true, ...)
    end

    function timer.running_count() return py.timer_counts(true) end
    function timer.pending_count() return py.timer_counts(false) end

    -- ngx.thread.* (light threads inside one request)
    local thread = {}
    ngx.thread = thread

    function thread.spawn(fn, ...)
        check(YIELDABLE)
        if type(fn) ~= "function" then
            rt.argerror(1, "Lua function expected")
        end
        local co = rt.co_create(fn)
        yield("spawn", rt.register(co), { n = select("#", ...), ... })
        return co
    end

    function thread.wait(...)
        check(YIELDABLE)
        local n = select("#", ...)
        if n == 0 then error("at least one coroutine should be specified", 2) end
        local ids = { n = n }
        for i = 1, n do
            local co = select(i, ...)
            if type(co) ~= "thread" then
                error("bad argument #" .. i .. " to 'wait' (coroutine expected)", 2)
            end
            ids[i] = rt.id_of(co) or -1
        end
        return yield("wait", ids)
    end

    function thread.kill(co)
        check(YIELDABLE)
        if type(co) ~= "thread" then
            rt.argerror(1, "lua thread expected")
        end
        return py.thread_kill(rt.id_of(co) or -1)
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
