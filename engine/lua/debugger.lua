-- The Lua half of ngx-explore's debugger (engine/lua/debugger.py is the other half).
--
-- Why the hook lives here: it runs on every line of every Lua function while armed, so
-- its common case ("not a breakpoint line, not stepping") must be one table lookup, with
-- no crossing into Python. Only a real stop calls `py_event`, synchronously: the paused
-- coroutine sits inside this hook until Python answers how to go on. While it waits,
-- Python reads frames and evaluates code through the functions below; they run on the
-- VM's main thread and address the paused coroutine's frames by absolute level (LuaJIT
-- runs no hook while a hook is active, so that code never stops itself).
--
-- Frames shown to the user are Lua functions of the paused coroutine, top first, minus
-- the hook and this package's own library code (chunks named "@engine/lua/...").

return function(rt, py_event, py_canon)
    local getinfo, getlocal, setlocal = debug.getinfo, debug.getlocal, debug.setlocal
    local getupvalue, setupvalue, sethook = debug.getupvalue, debug.setupvalue, debug.sethook
    local running, co_status = coroutine.running, coroutine.status
    local getfenv, setfenv, setmetatable, loadstring, pcall, select, type, tostring =
        getfenv, setfenv, setmetatable, loadstring, pcall, select, type, tostring
    local pairs, ipairs, next = pairs, ipairs, next
    local concat, sort, format = table.concat, table.sort, string.format
    local check_limits = rt and rt.check_limits
    local rearm = rt and rt.rearm_watchdog

    local D = {}
    local lines = {}    -- chunk line -> { [canonical source] = breakpoint id }
    local canon = {}    -- chunk source as Lua reports it -> canonical key; false: library
    local step = nil    -- { mode = "in"|"over"|"out", co = thread, depth = frames }
    local paused = nil  -- { co = thread, hooked = bool } while Python holds a stop
    local armed, jit_was_on, break_on_error = false, false, false
    local hook, on_error, disarm

    local function key_of(src)
        local k = canon[src]
        if k == nil then
            if src:sub(1, 12) == "@engine/lua/" or src == "=[C]" or src == "=eval" then
                k = false
            else
                k = py_canon(src) or false
            end
            canon[src] = k
        end
        return k
    end

    -- A stop: hand it to Python, then take its answer ("continue", "in", "over", "out").
    local function stop(kind, id, line)
        local co = running()
        paused = { co = co, marker = hook }
        local ok, action = pcall(py_event, kind, id, line, nil)
        paused = nil
        if not ok or action == "continue" or action == nil then
            step = nil
        elseif action ~= "skip" then
            local n = 3  -- frames of this coroutine below stop() and the hook
            while getinfo(n, "l") do n = n + 1 end
            step = { mode = action, co = co, depth = n - 3 }
        end
        if rearm then rearm() end
        return action
    end

    -- LuaJIT reports a line again when a call made from it returns with more of the line
    -- left to run ("local x = f() + 1"). Return events note the caller's line, so that
    -- such a repeat neither hits a breakpoint twice nor ends a step over that line.
    local ret_line = nil

    hook = function(event, line)
        if event ~= "line" then
            if event == "count" then
                check_limits(3)
            else  -- "return" / "tail return": the caller's line, which may be reported again
                local info = getinfo(3, "l")
                ret_line = info and info.currentline
            end
            return
        end
        local refire = line == ret_line
        ret_line = nil
        local ids = lines[line]
        if ids == nil and step == nil then return end
        local co = running()
        if co == nil then return end  -- the VM's main thread: Python-driven code, no stops
        local key = key_of(getinfo(2, "S").source)
        if not key then return end
        local id = ids and ids[key]
        if id ~= nil and not refire and stop("bp", id, line) ~= "skip" then return end
        local s = step
        if s == nil then return end
        if s.co ~= co then
            if co_status(s.co) == "dead" then  -- the stepped thread ended: stop stepping
                step = nil
                if next(lines) == nil then disarm() end
            end
            return
        end
        -- depth d (frames from the interrupted function down): "over" wants d <= s.depth,
        -- "out" wants d < s.depth; the level just past that depth must then be empty. A
        -- repeat of the line the step started from (d == s.depth) is no step at all.
        local mode, depth = s.mode, s.depth
        if mode == "out" then
            if getinfo(1 + depth, "l") ~= nil then return end
        else
            if mode == "over" and getinfo(2 + depth, "l") ~= nil then return end
            if refire and getinfo(1 + depth, "l") ~= nil and getinfo(2 + depth, "l") == nil then
                return
            end
        end
        stop("step", 0, line)
    end

    -- Break on error with the stack alive: while it is on, threads run their function
    -- under xpcall (runtime.lua's `wrap`), whose message handler pauses right where the
    -- error happened; the error then goes on unchanged, with the traceback of that place.
    local caught = setmetatable({}, { __mode = "k" })  -- thread -> its traceback text
    local traceback = debug.traceback

    local function handler(err)
        local co = running()
        if co == nil then return err end
        if paused == nil then
            paused = { co = co, marker = handler }
            pcall(py_event, "error", 0, 0, tostring(err))
            paused = nil
            step = nil
            if rearm then rearm() end
        end
        local tb = traceback("", 2):gsub("^\n", "")
        -- the last two frames are xpcall and the wrapper: not the user's
        caught[co] = tb:gsub("\n[^\n]*\n[^\n]*$", "")
        return err
    end

    local function rethrow(ok, ...)
        if ok then return ... end
        error((...), 0)
    end

    local function wrap(fn)
        return function(...) return rethrow(xpcall(fn, handler, ...)) end
    end

    -- A thread that failed: already seen by the handler (its traceback replaces the one
    -- of the rethrow), or, for a thread that was not wrapped, a pause on its dead stack
    -- (LuaJIT keeps its frames, but not the failing frame's line and locals).
    on_error = function(co, err)
        local tb = caught[co]
        if tb ~= nil then
            caught[co] = nil
            return tb
        end
        if paused ~= nil then return nil end
        paused = { co = co }
        pcall(py_event, "error", 0, 0, tostring(err))
        paused = nil
        step = nil
        return nil
    end

    local function set(bps, hooked, on_err)
        lines = bps or {}
        break_on_error = on_err
        if hooked and not armed then
            armed = true
            if jit and jit.status() then
                jit_was_on = true
                jit.off()
                jit.flush()
            end
        elseif not hooked and armed then
            armed = false
            step = nil
            if jit_was_on then
                jit_was_on = false
                jit.on()
            end
        end
        rt.set_debugger(armed and hook or nil, on_err and on_error or nil, on_err and wrap or nil)
    end

    disarm = function() set(lines, false, break_on_error) end

    -- Arm or disarm this VM: `bps` maps chunk line -> {source = id}; `hooked` says whether
    -- the line hook is needed (breakpoints or a step in progress); `on_err`: break on error.
    -- The JIT goes off while hooked (line hooks never fire in compiled traces) and comes
    -- back on when the hook goes, if it was on before.
    D.arm = set

    function D.stepping() return step ~= nil end
    function D.hook() return hook end

    -- The lines with code in a chunk, from its compiled prototypes (the chunk is compiled,
    -- never run): the main function's and every nested function's, through jit.util.
    function D.active_lines(src, chunkname)
        local fn, err = loadstring(src, chunkname)
        if not fn then return nil, err end
        local ju = require("jit.util")
        local found = {}
        local function walk(proto)
            local info = ju.funcinfo(proto)
            for pc = 1, info.bytecodes - 1 do
                local l = ju.funcinfo(proto, pc).currentline
                if l and l > 0 then found[l] = true end
            end
            if info.children then
                for k = -1, -info.gcconsts, -1 do
                    local c = ju.funck(proto, k)
                    if type(c) == "proto" then walk(c) end
                end
            end
        end
        walk(fn)
        local out = {}
        for l in pairs(found) do out[#out + 1] = l end
        sort(out)
        return out, nil
    end

    function D.check_expression(src, expression_only)
        local f, err = loadstring("return " .. src, "=eval")
        if f or expression_only then return f ~= nil, err end
        f, err = loadstring(src, "=eval")
        if f then return true, nil end
        return false, err
    end

    -- A value as a short readable string: strings quoted, tables shallowly.
    local function show(v, depth)
        local t = type(v)
        if t == "string" then return format("%q", v) end
        if t ~= "table" then return tostring(v) end
        if ngx and v == ngx.null then return "ngx.null" end
        if depth > 2 then return "{...}" end
        local parts, keys, n = {}, {}, #v
        for i = 1, n do
            if i > 20 then parts[#parts + 1] = "..." break end
            parts[#parts + 1] = show(v[i], depth + 1)
        end
        for k in pairs(v) do
            if not (type(k) == "number" and k >= 1 and k <= n and k % 1 == 0) then
                keys[#keys + 1] = k
            end
        end
        sort(keys, function(a, b) return tostring(a) < tostring(b) end)
        for i, k in ipairs(keys) do
            if i > 20 then parts[#parts + 1] = "..." break end
            local name = (type(k) == "string" and k:match("^[%a_][%w_]*$")) and k
                         or "[" .. show(k, 3) .. "]"
            parts[#parts + 1] = name .. " = " .. show(v[k], depth + 1)
        end
        return "{" .. concat(parts, ", ") .. "}"
    end
    D.show = show

    local function need_pause()
        if paused == nil then error("not paused", 2) end
        return paused.co
    end

    -- The visible frames of the paused coroutine, top first, as flat records.
    function D.frames()
        local co = need_pause()
        local start = 0
        if paused.marker then  -- skip the hook or handler that holds the pause, and above
            for lvl = 0, 10000 do
                local info = getinfo(co, lvl, "f")
                if info == nil then break end
                if info.func == paused.marker then start = lvl + 1 break end
            end
        end
        local out = {}
        for lvl = start, 10000 do
            local info = getinfo(co, lvl, "Slnf")
            if info == nil then break end
            if info.what ~= "C" and key_of(info.source) then
                out[#out + 1] = { level = lvl, source = key_of(info.source),
                                  line = info.currentline, name = info.name or "",
                                  linedefined = info.linedefined, what = info.what }
            end
        end
        return out
    end

    local function upvalue_index(fn)
        local ups, i = {}, 1
        while true do
            local name = getupvalue(fn, i)
            if name == nil then return ups end
            ups[name] = i
            i = i + 1
        end
    end

    local function local_index(co, level)
        local locals, i = {}, 1
        while true do
            local name = getlocal(co, level, i)
            if name == nil then return locals end
            if name:sub(1, 1) ~= "(" then locals[name] = i end  -- later = inner scope
            i = i + 1
        end
    end

    -- The environment an expression sees in a frame: its locals, then its upvalues, then
    -- its function's globals; assignments write back to whichever of them holds the name.
    local function frame_env(co, level)
        local fn = getinfo(co, level, "f").func
        local locals, ups, globals = local_index(co, level), upvalue_index(fn), getfenv(fn)
        return setmetatable({}, {
            __index = function(_, k)
                local i = locals[k]
                if i then return select(2, getlocal(co, level, i)) end
                i = ups[k]
                if i then return select(2, getupvalue(fn, i)) end
                return globals[k]
            end,
            __newindex = function(_, k, v)
                local i = locals[k]
                if i then setlocal(co, level, i, v) return end
                i = ups[k]
                if i then setupvalue(fn, i, v) return end
                globals[k] = v
            end,
        })
    end

    local function sorted_pairs(index, get)
        local names = {}
        for name in pairs(index) do names[#names + 1] = name end
        sort(names, function(a, b) return index[a] < index[b] end)
        local out = {}
        for _, name in ipairs(names) do
            out[#out + 1] = name
            out[#out + 1] = show(get(index[name]), 1)
        end
        return out
    end

    -- name, shown value, name, shown value... (declaration order)
    function D.locals(level)
        local co = need_pause()
        return sorted_pairs(local_index(co, level),
                            function(i) return select(2, getlocal(co, level, i)) end)
    end

    function D.upvalues(level)
        local co = need_pause()
        local fn = getinfo(co, level, "f").func
        return sorted_pairs(upvalue_index(fn), function(i) return select(2, getupvalue(fn, i)) end)
    end

    local STATEMENT = { ["local"] = true, ["for"] = true, ["if"] = true, ["while"] = true,
                        ["repeat"] = true, ["do"] = true, ["return"] = true,
                        ["function"] = true }

    local function run_in(level, src, as_test)
        local co = need_pause()
        if rearm then rearm() end  -- a fresh watchdog budget for what the user runs
        local f, err = loadstring("return " .. src, "=eval")
        if not f and not as_test then
            local g, err2 = loadstring(src, "=eval")
            -- neither compiles: report the statement's error if it looks like one
            f, err = g, (STATEMENT[src:match("^%s*([%a_][%w_]*)") or ""]
                         or src:match("^[^=]*[^=~<>]=[^=]")) and err2 or err
        end
        if not f then return false, err end
        setfenv(f, frame_env(co, level))
        local function pack(...) return { n = select("#", ...), ... } end
        local res = pack(pcall(f))
        if not res[1] then return false, tostring(res[2]) end
        return true, res, res.n
    end

    -- Evaluate an expression (or run a statement) in a frame: ok, shown results.
    function D.eval(level, src)
        local ok, res, n = run_in(level, src, false)
        if not ok then return false, res end
        local parts = {}
        for i = 2, n do parts[#parts + 1] = show(res[i], 1) end
        return true, concat(parts, ", ")
    end

    -- A breakpoint's condition: ok, truthy (or false, Lua's error text).
    function D.test(level, src)
        local ok, res = run_in(level, src, true)
        if not ok then return false, res end
        return true, not not res[2]
    end

    return D
end
