-- ngx.balancer as lua-resty-core 0.1.25 writes it over ngx_lua's balancer FFI: the
-- argument checks (and their messages) are Lua's, here as there; what needs the request
-- (is a balancer running? the peer, the tries, the last failure) is asked of Python
-- (engine/lua/balancer.py). `require "ngx.balancer"` finds this table (see resty.lua).

return function(rt, py)
    local type, tonumber, error = type, tonumber, error
    local current = rt.current

    local function need_request()
        if current() == nil then error("no request found", 3) end
    end

    local M = { version = "0.1.25" }

    function M.set_current_peer(addr, port)
        need_request()
        if not port then
            port = 0
        elseif type(port) ~= "number" then
            port = tonumber(port) or 0
        end
        if type(addr) ~= "string" then  -- resty.core takes #addr for the FFI call
            error("/usr/share/lua/5.1/ngx/balancer.lua:121: attempt to get length of "
                  .. "local 'addr' (a " .. type(addr) .. " value)", 0)
        end
        return py.set_current_peer(addr, port)
    end

    function M.set_more_tries(count)
        need_request()
        if type(count) ~= "number" then  -- resty.core hands it to the FFI as an int
            error("/usr/share/lua/5.1/ngx/balancer.lua:137: bad argument #2 to "
                  .. "'ngx_lua_ffi_balancer_set_more_tries' (cannot convert '" .. type(count)
                  .. "' to 'int')", 0)
        end
        return py.set_more_tries(count)
    end

    function M.get_last_failure()
        need_request()
        return py.get_last_failure()
    end

    -- a timeout left out (nil) keeps the location's; given, it must be a positive number
    local function timeout(value, which)
        if not value then return 0 end
        if type(value) ~= "number" or value <= 0 then
            error("bad " .. which .. " timeout", 3)
        end
        return value * 1000
    end

    function M.set_timeouts(connect_timeout, send_timeout, read_timeout)
        need_request()
        return py.set_timeouts(timeout(connect_timeout, "connect"),
                               timeout(send_timeout, "send"), timeout(read_timeout, "read"))
    end

    return M
end
