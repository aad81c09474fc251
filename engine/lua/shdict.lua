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

    -- Errors of the C functions (lists, get_keys, flush_expired) take the position of
    -- a calling Lua function (luaL_where(L, 1)); luaL_argerror() names the function as
    -- the caller called it (one argument less for a method call). ``lvl`` is the API
    -- function's stack level as seen from the function given it.
    local function argerror(n, msg, lvl)
        local info = getinfo and getinfo(lvl, "n")
        local name = info and info.name or "?"
        if info and info.namewhat == "method" then
            n = n - 1
            if n == 0 then
                error(format("calling '%s' on bad self (%s)", name, msg), lvl + 1)
            end
        end
        error(format("bad argument #%d to '%s' (%s)", n, name, msg), lvl + 1)
    end

    local function c_int(v)
        -- the FFI converts a Lua value to a C int: numbers truncate, and any out of range
        -- (or NaN) becomes INT_MIN as x86's cvttsd2si does; booleans are 0/1
        local t = type(v)
        if t == "number" then
            v = v >= 0 and floor(v) or -floor(-v)
            if v ~= v or v >= 2147483648 or v < -2147483648 then return -2147483648 end
            return v
        elseif t == "boolean" then
            return v and 1 or 0
        end
        if t == "userdata" then t = "void *" end
        error(format("bad argument #10 to 'ngx_lua_ffi_shdict_store' "
                     .. "(cannot convert '%s' to 'int')", t), 2)
    end

    local function c_long(ms)
        -- a number of milliseconds as the FFI's C long: out of range/NaN is LONG_MIN,
        -- which nginx (like every value <= 0) takes as "never expires"
        if ms ~= ms or ms >= 2^63 or ms < -2^63 then return -1 end
        return ms >= 0 and floor(ms) or -floor(-ms)
    end

    local function num(v)
        -- Python sees integral doubles as ints and would lose the sign of -0
        if v == 0 and 1 / v < 0 then return "-0" end
        return v
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
        elseif tv == "number" then kind = 3; value = num(value)
        elseif value == nil then kind = 0
        elseif tv == "boolean" then kind = 1
        else return nil, "bad value type" end
        local ms = c_long(exptime * 1000)
        return call(name, "store", op, key, kind, value, ms, c_int(flags))
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

    function M.get(zone, key)
        local name = check_zone(zone)
        local err
        key, err = check_key(key)
        if not key then return nil, err end
        local v, flags = call(name, "get", key)
        if v == nil then
            if flags == nil then return nil end
            return nil, flags  -- flags carries the error
        end
        if flags ~= 0 then return v, flags end
        return v
    end

    function M.get_stale(zone, key)
        local name = check_zone(zone)
        local err
        key, err = check_key(key)
        if not key then return nil, err end
        local v, flags, stale = call(name, "get_stale", key)
        if v == nil then
            if flags == nil then return nil end
            return nil, flags
        end
        if flags ~= 0 then return v, flags, stale end
        return v, nil, stale
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
        local v, e, forcible = call(name, "incr", key, num(value), init and num(init) or nil,
                                    c_long(init_ttl * 1000))
        if v == nil then return nil, e end
        if not init then return v end
        return v, nil, forcible
    end

    local function c_zone(zone, checked, lvl)
        -- the C functions' zone check: lists say 'bad "zone" argument', get_keys and
        -- flush_expired check the type with luaL_checktype first
        if type(zone) ~= "table" then
            if checked then argerror(1, "table expected, got " .. type(zone), lvl + 1) end
            error('bad "zone" argument', lvl + 1)
        end
        local name = zone_of[zone[1]]
        if not name then
            error(checked and "bad user data for the ngx_shm_zone_t pointer"
                  or 'bad "zone" argument', lvl + 1)
        end
        return name
    end

    local function c_key(key, lvl)
        -- luaL_checklstring(): strings and numbers only
        local t = type(key)
        if t == "number" then
            key = tostring(key)
        elseif t ~= "string" then
            argerror(2, "string expected, got " .. t, lvl + 1)
        end
        local n = #key
        if n == 0 then return nil, "empty key" end
        if n > 65535 then return nil, "key too long" end
        return key
    end

    local function list_args(want, lvl, ...)
        -- the checks shared by the list functions; returns the zone name and the key
        local n = select("#", ...)
        if n ~= want then
            error(format("expecting %d arguments, but only seen %d", want, n), lvl + 1)
        end
        local zone, key = ...
        local name = c_zone(zone, false, lvl + 1)
        if key == nil then return nil, "nil key" end
        local err
        key, err = c_key(key, lvl + 1)
        if not key then return nil, err end
        return name, key
    end

    local function push(left, zone, ...)
        local name, key = list_args(3, 3, zone, ...)
        if not name then return nil, key end
        local value = select(3, zone, ...)
        local tv = type(value)
        if tv == "number" then
            value = num(value)
        elseif tv ~= "string" then
            return nil, "bad value type"
        end
        return call(name, "push", key, value, left, tv == "number")
    end
    local function keep(...) return ... end  -- not a tail call: the frame stays named
    function M.lpush(...) return keep(push(true, ...)) end
    function M.rpush(...) return keep(push(false, ...)) end

    local function pop(op, left, zone, ...)
        local name, key = list_args(2, 3, zone, ...)
        if not name then return nil, key end
        if left == nil then return call(name, op, key) end
        return call(name, op, key, left)
    end
    function M.lpop(...) return keep(pop("pop", true, ...)) end
    function M.rpop(...) return keep(pop("pop", false, ...)) end
    function M.llen(...) return keep(pop("llen", nil, ...)) end

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
        return call(name, "expire", key, c_long(exptime * 1000))
    end

    function M.flush_all(zone)
        call(check_zone(zone), "flush_all")
    end

    local function count_args(lvl, ...)
        -- get_keys/flush_expired: (zone [, max_count]); luaL_checkint() on the count
        local n = select("#", ...)
        if n ~= 1 and n ~= 2 then
            error(format("expecting 1 or 2 argument(s), but saw %d", n), lvl + 1)
        end
        local zone, count = ...
        local name = c_zone(zone, true, lvl + 1)
        if n == 1 then return name, nil end
        local c = tonumber(count)
        if c == nil then argerror(2, "number expected, got " .. type(count), lvl + 1) end
        return name, c_int(c)
    end

    function M.flush_expired(...)
        local name, count = count_args(2, ...)
        return keep(call(name, "flush_expired", count or 0))
    end

    function M.get_keys(...)
        local name, count = count_args(2, ...)
        return keep(call(name, "get_keys", count or 1024))
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
