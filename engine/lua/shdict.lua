-- ngx.shared.DICT methods for ngx-explore (the data lives in Python: engine/lua/shdict.py).
--
-- Argument checks and their wording follow lua-resty-core's shdict.lua and the C list
-- functions ("nil key", "empty key", "key too long", "bad value type",
-- 'bad "exptime" argument', "expecting 3 arguments, but only seen 2"), so that each
-- call makes one Python call and only after its arguments are known to be good.

return function(ngx, py, names)
    local type, tostring, tonumber, error, select, setmetatable, floor, pairs =
        type, tostring, tonumber, error, select, setmetatable, math.floor, pairs
    local format = string.format
    local getinfo = debug and debug.getinfo

    local zone_of = setmetatable({}, { __mode = "k" })   -- marker userdata -> zone name
    local ops = {}
    for k, f in pairs({ "get", "get_stale", "store", "incr", "push", "pop", "llen", "ttl",
                        "expire", "flush_all", "flush_expired", "get_keys", "capacity",
                        "free_space" }) do ops[f] = py[f] end
    local function call(name, op, ...) return ops[op](name, ...) end

    local function check_zone(zone)
        if not zone or type(zone) ~= "table" then error('bad "zone" argument', 3) end
        local name = zone_of[zone[1]]
        if not name then error('bad "zone" argument', 3) end
        return name
    end

    local function check_key(key)
        if key == nil then return nil, "nil key" end
        if type(key) ~= "string" then key = tostring(key) end
        local n = #key
        if n == 0 then return nil, "empty key" end
        if n > 65535 then return nil, "key too long" end
        return key
    end

    local function argerror(n, msg, lvl)
        -- luaL_argerror() of a C function as LuaJIT words it; lvl = the API function
        local info = getinfo and getinfo(lvl, "n")
        local name = info and info.name or "?"
        error(format("bad argument #%d to '%s' (%s)", n, name, msg), lvl + 1)
    end

    local tobit = bit.tobit
    local function c_int(v)
        -- the FFI converts the Lua number to a C int: truncate, then wrap to 32 bits
        v = v >= 0 and floor(v) or -floor(-v)
        return tobit(v)
    end

    local function store(zone, op, key, value, exptime, flags)
        local name = check_zone(zone)
        if not exptime then
            exptime = 0
        elseif exptime < 0 then
            error('bad "exptime" argument', 2)
        end
        if not flags then flags = 0 end
        local err
        key, err = check_key(key)
        if not key then return nil, err end
        local tv = type(value)
        local kind
        if tv == "string" then kind = 4
        elseif tv == "number" then kind = 3
        elseif value == nil then kind = 0
        elseif tv == "boolean" then kind = 1
        else return nil, "bad value type" end
        return call(name, "store", op, key, kind, value, exptime, c_int(flags))
    end

    local M = {}
    function M.set(zone, key, value, exptime, flags)
        return store(zone, 0, key, value, exptime, flags)
    end
    function M.safe_set(zone, key, value, exptime, flags)
        return store(zone, 4, key, value, exptime, flags)
    end
    function M.add(zone, key, value, exptime, flags)
        return store(zone, 1, key, value, exptime, flags)
    end
    function M.safe_add(zone, key, value, exptime, flags)
        return store(zone, 5, key, value, exptime, flags)
    end
    function M.replace(zone, key, value, exptime, flags)
        return store(zone, 2, key, value, exptime, flags)
    end
    function M.delete(zone, key)
        return store(zone, 0, key, nil)
    end

    local function get_tail(v, flags, stale)
        if v == nil then  -- a missing key is one nil, as resty.core returns it
            if flags == nil then return nil end
            return nil, flags  -- flags carries the error
        end
        if flags ~= 0 then return v, flags, stale end
        return v, nil, stale
    end

    function M.get(zone, key)
        local name = check_zone(zone)
        local err
        key, err = check_key(key)
        if not key then return nil, err end
        local v, flags = call(name, "get", key)
        if v == nil then
            if flags == nil then return nil end
            return nil, flags
        end
        if flags ~= 0 then return v, flags end
        return v
    end

    function M.get_stale(zone, key)
        local name = check_zone(zone)
        local err
        key, err = check_key(key)
        if not key then return nil, err end
        return get_tail(call(name, "get_stale", key))
    end

    function M.incr(zone, key, value, init, init_ttl)
        local name = check_zone(zone)
        local err
        key, err = check_key(key)
        if not key then return nil, err end
        if type(value) ~= "number" then value = tonumber(value) end
        if value == nil then error("cannot convert 'nil' to 'double'") end
        if init then
            local typ = type(init)
            if typ ~= "number" then
                init = tonumber(init)
                if not init then error("bad init arg: number expected, got " .. typ, 2) end
            end
        end
        if init_ttl ~= nil then
            local typ = type(init_ttl)
            if typ ~= "number" then
                init_ttl = tonumber(init_ttl)
                if not init_ttl then
                    error("bad init_ttl arg: number expected, got " .. typ, 2)
                end
            end
            if init_ttl < 0 then error('bad "init_ttl" argument', 2) end
            if not init then error('must provide "init" when providing "init_ttl"', 2) end
        else
            init_ttl = 0
        end
        local v, e, forcible = call(name, "incr", key, value, init or nil, init_ttl)
        if v == nil then return nil, e end
        if not init then return v end
        return v, nil, forcible
    end

    local function push(zone, left, fname, ...)
        local n = select("#", ...)
        if n ~= 2 then
            error(format("expecting 3 arguments, but only seen %d", n + 1), 0)
        end
        local name = check_zone(zone)
        local key, value = ...
        local err
        key, err = check_key(key)
        if not key then return nil, err end
        local tv = type(value)
        if tv ~= "string" and tv ~= "number" then return nil, "bad value type" end
        return call(name, "push", key, value, left)
    end
    function M.lpush(zone, ...) return push(zone, true, "lpush", ...) end
    function M.rpush(zone, ...) return push(zone, false, "rpush", ...) end

    local function pop(zone, left, ...)
        local n = select("#", ...)
        if n ~= 1 then
            error(format("expecting 2 arguments, but only seen %d", n + 1), 0)
        end
        local name = check_zone(zone)
        local key, err = check_key((...))
        if not key then return nil, err end
        return call(name, "pop", key, left)
    end
    function M.lpop(zone, ...) return pop(zone, true, ...) end
    function M.rpop(zone, ...) return pop(zone, false, ...) end

    function M.llen(zone, ...)
        local n = select("#", ...)
        if n ~= 1 then
            error(format("expecting 2 arguments, but only seen %d", n + 1), 0)
        end
        local name = check_zone(zone)
        local key, err = check_key((...))
        if not key then return nil, err end
        return call(name, "llen", key)
    end

    function M.ttl(zone, key)
        local name = check_zone(zone)
        local err
        key, err = check_key(key)
        if not key then return nil, err end
        return call(name, "ttl", key)
    end

    function M.expire(zone, key, exptime)
        local name = check_zone(zone)
        if not exptime then error('bad "exptime" argument', 2) end
        local err
        key, err = check_key(key)
        if not key then return nil, err end
        return call(name, "expire", key, exptime)
    end

    function M.flush_all(zone)
        call(check_zone(zone), "flush_all")
    end

    local function count_arg(v)
        if v == nil then return nil end
        local n = tonumber(v)
        if n == nil then argerror(2, "number expected, got " .. type(v), 3) end
        return n >= 0 and floor(n) or -floor(-n)
    end

    function M.flush_expired(zone, max_count)
        local name = check_zone(zone)
        return call(name, "flush_expired", count_arg(max_count) or 0)
    end

    function M.get_keys(zone, max_count)
        local name = check_zone(zone)
        local m = count_arg(max_count)
        if m == nil then m = 1024 end
        return call(name, "get_keys", m)
    end

    function M.capacity(zone) return call(check_zone(zone), "capacity") end
    function M.free_space(zone) return call(check_zone(zone), "free_space") end

    local mt = { __index = M }
    local shared = {}
    for i = 1, #names do
        local name = names[i]
        local marker = newproxy(false)
        zone_of[marker] = name
        shared[name] = setmetatable({ marker }, mt)
    end
    ngx.shared = shared
end
