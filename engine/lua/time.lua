-- ngx.now / time / today / localtime / utctime / update_time / http_time / cookie_time /
-- parse_http_time (ngx_http_lua_time.c + resty.core.time) for ngx-explore.
--
-- Why thin: the cached time lives in one Python Clock shared by every worker VM, so each
-- call reads it from Python; the argument checks are here so that their errors carry the
-- caller's position exactly as resty.core's error(..., 2) does.

return function(ngx, py)
    local type, error = type, error
    local now, sec, update = py.now, py.time, py.update
    local today, localtime, utctime = py.today, py.localtime, py.utctime
    local http_time, cookie_time, parse_http_time = py.http_time, py.cookie_time,
                                                    py.parse_http_time

    ngx.now = function() return now() end
    ngx.time = function() return sec() end
    ngx.update_time = function() update() end
    ngx.today = function() return today() end
    ngx.localtime = function() return localtime() end
    ngx.utctime = function() return utctime() end

    ngx.http_time = function(s)
        if type(s) ~= "number" then error("number argument only", 2) end
        return http_time(s)
    end

    ngx.cookie_time = function(s)
        if type(s) ~= "number" then error("number argument only", 2) end
        return cookie_time(s)
    end

    ngx.parse_http_time = function(s)
        if type(s) ~= "string" then error("string argument only", 2) end
        return parse_http_time(s)
    end
end
