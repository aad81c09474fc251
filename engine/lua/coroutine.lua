-- coroutine.* as ngx_lua replaces them (ngx_http_lua_coroutine.c) for ngx-explore.
--
-- A user coroutine may call an ngx API that waits (ngx.sleep, ngx.location.capture,
-- ngx.thread.wait...): that operation belongs to the whole request, so it goes up to the
-- entry thread (and from there to the Python driver) and the user coroutine is resumed
-- with its result; only what the user's own coroutine.yield() passes comes back to the
-- coroutine.resume() that ran it. To tell the two apart, a user coroutine's own yields
-- carry a marker first; API operations yield plain (runtime.lua's rt.yield).
--
-- As in ngx_lua, an error inside a coroutine.wrap function aborts the request's entry
-- thread (pcall does not catch it), and the originals stay as coroutine._create... .

return function(rt)
    local co_create, co_resume, co_yield, co_status, co_running, co_wrap =
        coroutine.create, coroutine.resume, coroutine.yield, coroutine.status,
        coroutine.running, coroutine.wrap
    local select, type, error, traceback, getinfo =
        select, type, error, debug.traceback, debug.getinfo

    local USER = {}  -- first value of a user coroutine's own yields
    local user = setmetatable({}, { __mode = "k" })  -- coroutines made by coroutine.create
    -- threads passing up an API operation of a coroutine they resumed: ngx_lua's
    -- status of such a thread is "normal" (its resumed coroutine is the one waiting)
    local passing = setmetatable({}, { __mode = "k" })
    -- light threads (by number) that ended and are not waited for or killed yet: their
    -- status is "zombie" (uthread.py says when)
    local zombies = {}

    local function unmark(me, ...)
        passing[me] = nil
        return ...
    end

    local function pass_up(...)
        local me = co_running()
        passing[me] = true
        return unmark(me, co_yield(...))
    end

    -- What a user coroutine's resume gave: its own yield or end goes back to the caller;
    -- an API operation is passed up, and the coroutine resumed with its result.
    local function settle(co, ok, ...)
        if not ok then return false, ... end
        if co_status(co) == "dead" then return true, ... end
        if (...) == USER then return true, select(2, ...) end
        return settle(co, co_resume(co, pass_up(...)))
    end

    function rt.uthread_zombie(id, on)
        zombies[id] = on or nil
    end

    local function resume(co, ...)
        if type(co) ~= "thread" then
            rt.argerror(1, "coroutine expected")
        end
        if not user[co] then return co_resume(co, ...) end
        return settle(co, co_resume(co, ...))
    end

    -- ngx_lua takes a Lua function only: not a C one, such as print or the ngx API
    -- functions written in Lua here (engine/lua/*.lua), which are C in ngx_lua
    local function lua_function(fn)
        if type(fn) ~= "function" then return false end
        local info = getinfo(fn, "S")
        return info.what ~= "C" and info.source:sub(1, 12) ~= "@engine/lua/"
    end

    local function create(fn)
        if not lua_function(fn) then
            rt.argerror(1, "Lua function expected")
        end
        local co = co_create(fn)
        user[co] = true
        return co
    end

    -- where the entry thread may yield: elsewhere ngx_lua refuses it (API disabled), but
    -- in the output filters, where the refusal is LuaJIT's own (they are no coroutine)
    local YIELDABLE = rt.ctxset("rewrite", "access", "content", "timer", "server_rewrite")
    local FILTERS = rt.ctxset("header_filter", "body_filter")

    local function yield(...)
        if user[co_running()] then return co_yield(USER, ...) end
        local state = rt.current()
        if state ~= nil and not YIELDABLE[state.context] then
            if FILTERS[state.context] then
                error("attempt to yield across C-call boundary", 2)
            end
            rt.check(YIELDABLE)
        end
        -- the entry thread or a light thread: posted behind the others; what it passes
        -- is dropped and it gets nothing back, as in ngx_lua (never an API operation)
        return co_yield()
    end

    local function same(...) return ... end

    local function unwrap(co, ok, ...)
        if ok then return ... end
        if rt.current() == nil then error((...), 0) end  -- no request (init_by_lua)
        -- the entry thread ends with the coroutine's error, whatever pcall is around;
        -- the traceback goes on with the stack that called the wrap function
        -- (from the wrap function's frame: as in ngx_lua, a C function there)
        local caller = traceback("", 2):gsub("^\n?stack traceback:", "")
        return rt.yield("abort", (...), traceback(co) .. "\ncoroutine 1:" .. caller)
    end

    local function wrap(fn)
        if not lua_function(fn) then
            rt.argerror(1, "Lua function expected")
        end
        local co = create(fn)
        return function(...)
            if co_status(co) == "dead" then return false, "cannot resume dead coroutine" end
            return same(unwrap(co, resume(co, ...)))  -- (not a tail call: its frame stays)
        end
    end

    local function status(co)
        if type(co) ~= "thread" then
            rt.argerror(1, "coroutine expected")
        end
        local st = co_status(co)
        if st == "suspended" and passing[co] then return "normal" end
        -- ngx_lua's status of an entry or light thread waiting on an operation
        if st == "suspended" and not user[co] and rt.id_of(co) then return "running" end
        if st == "dead" and zombies[rt.id_of(co) or false] then return "zombie" end
        return st
    end

    -- light threads (ngx.thread.spawn) are the driver's, not user coroutines
    rt.co_create = co_create
    local api = { create = create, resume = resume, yield = yield, wrap = wrap,
                  status = status, running = co_running }
    local originals = { create = co_create, resume = co_resume, yield = co_yield,
                        wrap = co_wrap, status = co_status }
    local t = {}
    for name, fn in pairs(api) do t[name] = fn end
    for name, fn in pairs(originals) do
        t["_" .. name] = fn
        t["__" .. name] = api[name]
    end
    coroutine = t
    package.loaded.coroutine = t
end
