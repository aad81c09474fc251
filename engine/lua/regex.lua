-- ngx.re.* for ngx-explore: the Lua half (see engine/lua/regex.py for the Python half).
--
-- Why in Lua: argument coercion, the compiled-pattern cache lookup, building capture
-- tables, gmatch iteration and split all stay on this side, so one API call crosses into
-- Python once. Semantics follow lua-resty-core 0.1.25 (resty.core.regex, ngx.re), which
-- is what ngx_lua 0.10.23 runs: subjects go through tostring(), a bad pattern returns
-- nil + "pcre_compile() failed: ...", wrong argument types fail the way resty.core's
-- code fails on them ("attempt to get length of local 'regex' (a nil value)").

return function(ngx, py_compile, py_match, py_find, py_sub, py_reset)
    local tostring, type, error, select, setmetatable = tostring, type, error, select,
                                                         setmetatable
    local sub = string.sub
    local concat = table.concat

    local MAX_CACHED = 4096
    local cache = {}     -- opts -> regex -> entry { idx, ncaps, dup, names... }
    local ncached = 0

    local function compile_miss(regex, opts)
        -- order and wording of type errors as in resty.core: options first, then regex
        local _ = #opts
        _ = #regex
        if ncached >= MAX_CACHED then
            cache = {}
            ncached = 0
            py_reset()
        end
        local r = { py_compile(regex, opts) }
        local idx = r[1]
        if idx < 0 then
            if idx == -2 then error(r[2]) end
            return nil, r[2]
        end
        local names = false
        if r[4] ~= nil then
            names = {}
            for i = 4, #r do names[i - 3] = r[i] end
        end
        local e = { idx, r[2], r[3], names }
        local bucket = cache[opts]
        if not bucket then
            bucket = {}
            cache[opts] = bucket
        end
        bucket[regex] = e
        ncached = ncached + 1
        return e
    end

    local function get_compiled(regex, opts)
        if opts == nil then opts = "" end
        local bucket = cache[opts]
        if bucket then
            local e = bucket[regex]
            if e then return e end
        end
        return compile_miss(regex, opts)
    end

    local function add_names(e, res)
        local names = e[4]
        if not names then return res end
        if e[3] then
            -- duplicate names allowed: arrays of the groups that matched
            for i = 1, #names, 2 do
                local name, cap = names[i], res[names[i + 1]]
                if cap then
                    local old = res[name]
                    if old then old[#old + 1] = cap else res[name] = { cap } end
                end
            end
        else
            for i = 1, #names, 2 do
                res[names[i]] = res[names[i + 1]]
            end
        end
        return res
    end

    local function fill(e, res, cap0, ...)
        if res then
            res[0] = cap0
            for i = 1, select("#", ...) do res[i] = (select(i, ...)) end
        else
            res = { ... }
            res[0] = cap0
        end
        return add_names(e, res)
    end

    local function match_tail(e, ctx, res, rc, s0, e0, ...)
        if rc < 0 then
            if rc == -1 then return nil end
            return nil, "pcre_exec() failed: " .. rc
        end
        if ctx then ctx.pos = e0 + 1 end
        return fill(e, res, ...)
    end

    local function start_pos(ctx)
        if not ctx then return 0 end
        local pos = ctx.pos
        if not pos or pos <= 0 then return 0 end
        return pos - 1
    end

    local re = {}

    function re.match(subj, regex, opts, ctx, res)
        subj = tostring(subj)
        local e, err = get_compiled(regex, opts)
        if not e then return nil, err end
        return match_tail(e, ctx, res, py_match(e[1], subj, start_pos(ctx)))
    end

    function re.find(subj, regex, opts, ctx, nth)
        subj = tostring(subj)
        local e, err = get_compiled(regex, opts)
        if not e then return nil, nil, err end
        local want = nth
        if not want or want < 0 or want > e[2] then want = 0 end
        local rc, s0, e0, from, to = py_find(e[1], subj, start_pos(ctx), want)
        if rc < 0 then
            if rc == -1 then return nil end
            return nil, nil, "pcre_exec() failed: " .. rc
        end
        if ctx then ctx.pos = e0 + 1 end
        if not nth or nth < 0 then nth = 0 end
        if nth > e[2] then return nil, nil, "nth out of bound" end
        if from < 0 or to < 0 then return nil, nil end
        return from + 1, to
    end

    local gmatch_mt = {}
    gmatch_mt.__call = function(self)
        local pos = self._pos
        if not pos then return nil end
        local e, subj = self._e, self._subj
        local r = { py_match(e[1], subj, pos) }
        local rc = r[1]
        if rc < 0 then
            self._pos = nil
            if rc == -1 then return nil end
            return nil, "pcre_exec() failed: " .. rc
        end
        local res = { unpack(r, 5, e[2] + 4) }
        res[0] = r[4]
        add_names(e, res)
        local cp = r[3]
        if cp == r[2] then
            cp = cp + 1
            if cp > #subj then
                self._pos = nil
                return res
            end
        end
        self._pos = cp
        return res
    end

    function re.gmatch(subj, regex, opts)
        subj = tostring(subj)
        local e, err = get_compiled(regex, opts)
        if not e then return nil, err end
        return setmetatable({ _e = e, _subj = subj, _pos = 0 }, gmatch_mt)
    end

    local function sub_func(subj, e, replace, global)
        local n = #subj
        local pos, cp, count = 0, 0, 0
        local out, nout = {}, 0
        while true do
            local r = { py_match(e[1], subj, pos) }
            local rc = r[1]
            if rc < 0 then
                if rc == -1 then break end
                return nil, nil, "pcre_exec() failed: " .. rc
            end
            count = count + 1
            local s0, e0 = r[2], r[3]
            local caps = { unpack(r, 5, e[2] + 4) }
            caps[0] = r[4]
            add_names(e, caps)
            nout = nout + 1
            out[nout] = sub(subj, cp + 1, s0)
            nout = nout + 1
            out[nout] = tostring(replace(caps))
            cp = e0
            pos = cp
            if pos == s0 then
                pos = pos + 1
                if pos > n then break end
            end
            if not global then break end
        end
        if count == 0 then return subj, 0 end
        nout = nout + 1
        out[nout] = sub(subj, cp + 1)
        return concat(out, "", 1, nout), count
    end

    local function sub_helper(subj, regex, replace, opts, global)
        local e, err = get_compiled(regex, opts)
        if not e then return nil, nil, err end
        subj = tostring(subj)
        if type(replace) == "function" then
            return sub_func(subj, e, replace, global)
        end
        if type(replace) ~= "string" then replace = tostring(replace) end
        return py_sub(e[1], subj, replace, global)
    end

    function re.sub(subj, regex, replace, opts)
        return sub_helper(subj, regex, replace, opts, false)
    end

    function re.gsub(subj, regex, replace, opts)
        return sub_helper(subj, regex, replace, opts, true)
    end

    ngx.re = re

    -- require "ngx.re": split() and opt(), as lua-resty-core's ngx/re.lua
    local split_ctx = {}

    local function split_step(subj, e, ctx)
        local pos = ctx.pos
        if pos < 0 then pos = 0 end
        local rc, from, to, _, cap1 = py_match(e[1], subj, pos)
        if rc == -1 then return nil end
        if rc < 0 then return nil, nil, nil, "pcre_exec() failed: " .. rc end
        if from == to then ctx.pos = to + 1 else ctx.pos = to end
        if e[2] > 0 and rc > 1 then
            if cap1 == false then
                cap1 = subj  -- resty.core reads sub(subj, -1 + 1, -1) for an unset group 1
            end
            return from + 1, to + 1, cap1
        end
        return from + 1, to + 1
    end

    local function split(subj, regex, opts, ctx, max, res)
        subj = tostring(subj)
        if not ctx then
            ctx = split_ctx
            ctx.pos = 1
        elseif not ctx.pos then
            ctx.pos = 1
        end
        max = max or 0
        if not res then
            res = {}
        elseif type(res) ~= "table" then
            error("res is not a table", 2)
        end
        local len = #subj
        if ctx.pos > len then
            res[1] = nil
            return res
        end
        local e, err = get_compiled(regex, opts)
        if not e then return nil, err end

        local sub_idx = ctx.pos
        local res_idx = 0
        local last_empty_match
        ctx.pos = sub_idx - 1
        local count = 1
        while max <= 0 or count < max do
            local from, to, capture, perr = split_step(subj, e, ctx)
            if perr then return nil, perr end
            if not from then break end
            if last_empty_match then sub_idx = last_empty_match end
            if from == to then last_empty_match = from end
            if from > sub_idx or not last_empty_match then
                count = count + 1
                res_idx = res_idx + 1
                res[res_idx] = sub(subj, sub_idx, from - 1)
                if capture then
                    res_idx = res_idx + 1
                    res[res_idx] = capture
                end
                sub_idx = to
                if sub_idx > len then break end
            end
        end

        if max <= 0 and sub_idx > len then
            for i = res_idx, 1, -1 do
                if res[i] ~= "" then
                    res_idx = i
                    break
                end
                res[i] = nil
            end
        else
            res_idx = res_idx + 1
            res[res_idx] = sub(subj, sub_idx)
        end
        res[res_idx + 1] = nil
        return res
    end

    local function opt(option, value)
        if option == "jit_stack_size" then
            -- no JIT stack to size in this model; accepted for compatibility
            return
        end
        error("unrecognized option name", 2)
    end

    local mod = { version = "0.1.25", split = split, opt = opt }
    package.preload["ngx.re"] = function() return mod end
    package.loaded["ngx.re"] = nil
end
