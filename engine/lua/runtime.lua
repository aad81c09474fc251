-- The entry-thread driver of ngx-explore's ngx_lua: per-request state, per-request
-- globals, compiling handlers, and resuming coroutines (ngx_http_lua_util.c's job).
--
-- Why here and not in Python: a request's handlers should cross the Lua/Python boundary
-- on yields and I/O only. `resume` runs a coroutine until it yields or ends and hands
-- Python, in one return, the status, the output the handler buffered with ngx.say /
-- ngx.print, and the operation it yielded for (sleep, exit, exec, capture...).

return function(ngx, py)
    local setfenv, setmetatable, type, tostring, select, unpack, error, pairs, next =
        setfenv, setmetatable, type, tostring, select, unpack, error, pairs, next
    local co_create, co_resume, co_status, co_yield, co_running =
        coroutine.create, coroutine.resume, coroutine.status, coroutine.yield,
        coroutine.running
    local concat, maxn = table.concat, table.maxn
    local traceback = debug.traceback
    local G = _G

    -- ngx_lua's context bits and their names in "API disabled in the context of ..."
    local CTX = {
        set = 1, rewrite = 2, access = 4, content = 8, log = 16, header_filter = 32,
        body_filter = 64, timer = 128, init_worker = 256, init = 512,
        server_rewrite = 1024, exit_worker = 2048, balancer = 4096,
    }
    local CTX_NAME = {
        [1] = "set_by_lua*", [2] = "rewrite_by_lua*", [4] = "access_by_lua*",
        [8] = "content_by_lua*", [16] = "log_by_lua*", [32] = "header_filter_by_lua*",
        [64] = "body_filter_by_lua*", [128] = "ngx.timer", [256] = "init_worker_by_lua*",
        [512] = "init_by_lua*", [1024] = "server_rewrite_by_lua*",
        [2048] = "exit_worker_by_lua*", [4096] = "balancer_by_lua*",
    }

    local M = { CTX = CTX, CTX_NAME = CTX_NAME }

    -- ngx_http_lua_write_num, which ngx.say, ngx.print and ngx.log use for a number:
    -- one that is an int32 as %d (so -0 is "0"), any other with C's "%.14g", whose NaN
    -- keeps its sign ("-nan" for 0/0 on x86), which LuaJIT's own formatter drops.
    local format = string.format
    local nan_bits = require("ffi").new("union { double d; uint8_t b[8]; }")
    function M.write_num(v)
        if v >= -2147483648 and v <= 2147483647 and v % 1 == 0 then
            return format("%d", v)
        elseif v ~= v then
            nan_bits.d = v
            return nan_bits.b[7] >= 128 and "-nan" or "nan"
        end
        return format("%.14g", v)
    end
    local cur = nil          -- the state of the request whose Lua code is running

    function M.current() return cur end

    -- luaL_argerror for the ngx API functions written in Lua here: the function is
    -- named as it was called ('?' through pcall), and the message carries its caller's
    -- position (none when that is a C function such as pcall), as LuaJIT does.
    local getinfo = debug.getinfo
    function M.argerror(n, msg)
        local info = getinfo(2, "n")
        error("bad argument #" .. n .. " to '" .. (info and info.name or "?") .. "' (" .. msg
              .. ")", 3)
    end

    -- A set of context bits: ctxset("rewrite", "access", "content")
    function M.ctxset(...)
        local set = {}
        for i = 1, select("#", ...) do
            set[CTX[(select(i, ...))]] = true
        end
        return set
    end

    -- Raise ngx_lua's error when an API is called where it may not be.
    function M.check(set)
        local state = cur
        if state == nil then
            error("no request found", 3)
        end
        if not set[state.context] then
            error("API disabled in the context of " .. (CTX_NAME[state.context] or "?"), 3)
        end
        return state
    end

    -- The same for the APIs resty.core writes in Lua over the FFI (ngx.var, ngx.header,
    -- ngx.status, ngx.req.get_headers...): their C side only says the context is wrong.
    function M.check_ffi(set)
        local state = cur
        if state == nil then
            error("no request found", 3)
        end
        if not set[state.context] then
            error("API disabled in the current context", 3)
        end
        return state
    end

    -- A request's state, shared by its phases; ngx.exec drops it (ngx.ctx reset).
    function M.new_state(id, context)
        return {
            id = id, context = CTX[context] or 0, out = {}, n = 0,
            headers_sent = false, ctx = nil, exited = false,
        }
    end

    function M.set_context(state, context)
        state.context = CTX[context] or 0
    end

    -- Compile a handler once: a factory that makes a fresh closure per run (the
    -- debugger tells the runs of one handler apart by their closures).
    function M.compile(src, chunkname)
        local f, err = loadstring(src, chunkname)
        if not f then
            return nil, err
        end
        local factory = loadstring("return function(...) " .. src .. "\nend", chunkname)
        if not factory then
            return function() return f end, false  -- not wrappable as a function body
        end
        return factory, false
    end

    -- Coroutines stay on this side (lupa cannot hand a Lua thread back to Lua); Python
    -- refers to them by a number.
    local threads, thread_ids, next_id = {}, setmetatable({}, { __mode = "k" }), 0

    function M.register(co)
        next_id = next_id + 1
        threads[next_id] = co
        thread_ids[co] = next_id
        return next_id
    end

    function M.id_of(co)
        return thread_ids[co]
    end

    function M.forget(id)
        threads[id] = nil
    end

    -- The debugger's break-on-error parts while it is attached (debugger.lua): `wrap`
    -- runs a thread's function under a message handler that sees the live stack at the
    -- error; `on_error` sees failed threads before they are reported. nil otherwise.
    local wrap, on_error = nil, nil

    -- Start a thread running a fresh closure of `factory`; returns its number. Handlers
    -- run in the worker's globals, as in ngx_lua 0.10.23: a global one request sets is
    -- seen by the next ones (the write guard warns about it).
    function M.spawn_global(factory)
        local fn = factory()
        setfenv(fn, G)
        return M.register(co_create(wrap and wrap(fn) or fn))
    end

    function M.spawn(state, factory)
        return M.spawn_global(factory)
    end

    -- A coroutine for a function that keeps its own environment (timer callbacks).
    function M.spawn_fn(fn)
        return M.register(co_create(wrap and wrap(fn) or fn))
    end

    -- What the handler printed since the last resume: one string for one ngx.say /
    -- ngx.print call, else the table of them (each goes down the chain on its own).
    local function take_output(state)
        local n = state.n
        if n == 0 then return nil end
        local out = state.out
        state.out = {}
        state.n = 0
        if n == 1 then return out[1] end
        return out
    end
    M.take_output = take_output

    -- When error(v) ended the thread: v as given (a string or a number), before error()
    -- put the position in front; ngx.thread.wait hands it back as ngx_lua does.
    local getinfo, getlocal = debug.getinfo, debug.getlocal
    local function raised(co)
        local info = getinfo(co, 0, "f")
        if info ~= nil and info.func == error then
            local name, v = getlocal(co, 0, 1)
            local t = type(v)
            if name ~= nil and (t == "string" or t == "number") then return v end
        end
        return nil
    end

    local function finish(state, id, co, ok, ...)
        local tb = nil
        if not ok and on_error ~= nil then tb = on_error(co, (...)) end  -- before the 500
        cur = nil
        if not ok then
            threads[id] = nil
            return "error", take_output(state), (...), tb or traceback(co), raised(co)
        end
        if co_status(co) == "dead" then
            threads[id] = nil
            return "done", take_output(state), ...
        end
        return "yield", take_output(state), ...
    end

    -- The runaway-loop watchdog: a count hook (the JIT is off for user code while it is
    -- armed, or the hook would never run inside compiled loops) that stops a handler that
    -- runs longer than `limit` seconds of CPU without yielding, or grows the heap past
    -- `memory_kb`. Real nginx would hang the worker; the tool must not.
    local clock, sethook, gc = os.clock, debug.sethook, collectgarbage
    local limit, memory_kb, deadline = 0, 0, 0

    -- `level`: the stack level, seen from here, of the function the hook interrupted.
    local function check_limits(level)
        if limit > 0 and clock() > deadline then
            local info = getinfo(level, "Sl")
            local where = info and (info.short_src .. ":" .. (info.currentline or 0) .. ": ") or ""
            error(where .. "ngx-explore watchdog: the handler ran for more than " .. limit
                  .. " s without yielding (real nginx would hang this worker; see "
                  .. "lua_watchdog)", 0)
        end
        if memory_kb > 0 and gc("count") > memory_kb then
            gc("collect")
            if gc("count") > memory_kb then
                error("not enough memory (ngx-explore's Lua memory limit of "
                      .. math.floor(memory_kb / 1024) .. " MB)", 0)
            end
        end
    end

    local function watchdog() check_limits(3) end

    -- The debugger (debugger.lua), while armed, replaces the watchdog's hook with its own
    -- line hook, which runs check_limits on "count" events; both nil: nothing to pay.
    local debug_hook = nil
    M.check_limits = check_limits

    function M.set_debugger(hook, error_fn, wrap_fn)
        debug_hook, on_error, wrap = hook, error_fn, wrap_fn
        if hook == nil then  -- hooks are global in LuaJIT: put the watchdog's back now
            if limit > 0 or memory_kb > 0 then sethook(watchdog, "", 10000) else sethook() end
        end
    end

    -- Time spent paused in the debugger is not the handler's: restart the CPU budget.
    function M.rearm_watchdog() deadline = clock() + limit end

    function M.set_watchdog(seconds, megabytes)
        limit = seconds or 0
        memory_kb = (megabytes or 0) * 1024
        if (limit > 0 or memory_kb > 0) and jit then jit.off() end
    end

    -- Resume thread `id` for `state`; returns status, output, then yielded/returned values.
    function M.resume(state, id, ...)
        local co = threads[id]
        if co == nil then
            return "error", nil, "thread already finished or killed", ""
        end
        cur = state
        if debug_hook ~= nil then
            deadline = clock() + limit
            sethook(co, debug_hook, "lr", (limit > 0 or memory_kb > 0) and 10000 or 0)
        elseif limit > 0 or memory_kb > 0 then
            deadline = clock() + limit
            sethook(co, watchdog, "", 10000)
        end
        return finish(state, id, co, co_resume(co, ...))
    end

    -- An entry thread in one crossing: set the request's context, start a fresh closure
    -- of `factory` and run it to its first yield or its end. Returns the thread's number,
    -- then what `resume` returns.
    function M.start(state, context, factory)
        state.context = CTX[context] or 0
        local id = M.spawn(state, factory)
        return id, M.resume(state, id)
    end

    -- The API's way out of user code: yield an operation for Python to carry out.
    function M.yield(op, ...)
        return co_yield(op, ...)
    end

    -- A repeated key keeps all its values, as ngx_lua's header and argument tables do.
    function M.add_value(t, key, value)
        local old = t[key]
        if old == nil then
            t[key] = value
        elseif type(old) == "table" then
            old[#old + 1] = value
        else
            t[key] = { old, value }
        end
    end

    -- ngx_lua %-escapes what it puts in a header (request or response): in names the
    -- control bytes, bytes >= 0x7f, space and the separators "(),/:;<=>?@[\]{}; in
    -- values the control bytes but tab, and DEL.
    local HEADER_NAME_UNSAFE = '[%z\1-\32"(),/:;<=>?@%[\\%]{}\127-\255]'
    local HEADER_VALUE_UNSAFE = "[%z\1-\8\10-\31\127]"
    local function pct(c) return string.format("%%%02X", c:byte()) end
    function M.escape_header(s, is_name)
        return (s:gsub(is_name and HEADER_NAME_UNSAFE or HEADER_VALUE_UNSAFE, pct))
    end

    -- ngx.ctx: a plain Lua table per request, created on first use.
    function M.ctx(state)
        local ctx = state.ctx
        if ctx == nil then
            ctx = {}
            state.ctx = ctx
        end
        return ctx
    end

    -- A flat, printable snapshot of a table for the trace's ngx.ctx diffs.
    local function render(v, depth, seen)
        local t = type(v)
        if t == "string" then
            return string.format("%q", v)
        elseif t == "table" then
            if v == ngx.null then return "ngx.null" end
            if seen[v] then return "<cycle>" end
            if depth > 3 then return "{...}" end
            seen[v] = true
            local parts, count = {}, 0
            for k, val in pairs(v) do
                count = count + 1
                if count > 20 then parts[#parts + 1] = "..."; break end
                local key = type(k) == "string" and k or "[" .. tostring(k) .. "]"
                parts[#parts + 1] = key .. " = " .. render(val, depth + 1, seen)
            end
            seen[v] = nil
            table.sort(parts)
            return "{" .. concat(parts, ", ") .. "}"
        elseif t == "function" or t == "userdata" or t == "thread" or t == "cdata" then
            return "<" .. t .. ">"
        end
        return tostring(v)
    end

    function M.snapshot(tbl)
        local out = {}
        if type(tbl) ~= "table" then return out end
        local count = 0
        for k, v in pairs(tbl) do
            count = count + 1
            if count > 200 then break end
            out[type(k) == "string" and k or "[" .. tostring(k) .. "]"] = render(v, 1, {})
        end
        return out
    end

    return M
end
