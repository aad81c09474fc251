-- ngx.var and ngx.req.* (ngx_http_lua_variable.c, _uri.c, _args.c, _headers.c,
-- _req_body.c, _req_method.c, _misc.c) for ngx-explore.

return function(ngx, rt, py)
    local type, tostring, tonumber, error, setmetatable, pairs, ipairs, concat, select =
        type, tostring, tonumber, error, setmetatable, pairs, ipairs, table.concat, select
    local check, ctxset, yield = rt.check, rt.ctxset, rt.yield

    local ALL_REQ = ctxset("set", "rewrite", "access", "content", "header_filter",
                           "body_filter", "log", "server_rewrite")
    local REWRITE_ACCESS_CONTENT = ctxset("rewrite", "access", "content", "server_rewrite")
    local BODY_READ = ctxset("rewrite", "access", "content", "server_rewrite")
    local BODY_DATA = ctxset("rewrite", "access", "content", "log", "server_rewrite")
    local SET_URI = ctxset("set", "rewrite", "access", "content", "server_rewrite")
    local REQ_HEADERS_W = ctxset("set", "rewrite", "access", "content", "header_filter",
                                 "body_filter", "server_rewrite")

    ngx.var = setmetatable({}, {
        __index = function(_, k)
            local state = check(ALL_REQ)
            if type(k) == "number" then
                return py.capture_get(k)
            end
            -- whether ngx.say & co. have (for ngx_lua) sent the header: see var_get
            return py.var_get(tostring(k), state.headers_sent)
        end,
        __newindex = function(_, k, v)
            check(ALL_REQ)
            if v ~= nil and type(v) ~= "string" then
                if type(v) == "number" then
                    v = tostring(v)
                else
                    error("bad variable value", 2)
                end
            end
            local err = py.var_set(tostring(k), v)
            if err then error(err, 2) end
        end,
    })

    local req = {}
    ngx.req = req

    function req.get_method()
        check(ALL_REQ)
        return py.get_method()
    end

    function req.set_method(method)
        check(SET_URI)
        local name = py.method_name(method)
        if not name then error("unsupported HTTP method: " .. tostring(method), 2) end
        py.set_method(name)
    end

    function req.http_version()
        check(ALL_REQ)
        return py.http_version()
    end

    function req.start_time()
        check(ALL_REQ)
        return py.start_time()
    end

    function req.is_internal()
        check(ALL_REQ)
        return py.is_internal()
    end

    function req.raw_header(no_request_line)
        check(ctxset("rewrite", "access", "content", "log", "server_rewrite"))
        return py.raw_header(no_request_line and true or false)
    end

    -- query strings and forms -> Lua tables (ngx.decode_args semantics)
    local function decode(s, max)
        if max == nil then max = 100 end
        return ngx.decode_args(s or "", max)
    end

    function req.get_uri_args(max)
        check(ALL_REQ)
        if max ~= nil and type(max) ~= "number" then
            error("bad argument #1 to 'get_uri_args' (number expected, got " .. type(max) .. ")", 2)
        end
        local args = py.var_get("args")
        local t, err = decode(args, max)
        return t, err
    end

    function req.set_uri_args(args)
        check(SET_URI)
        if type(args) == "table" then
            args = ngx.encode_args(args)
        elseif type(args) == "number" then
            args = tostring(args)
        elseif type(args) ~= "string" then
            error("bad argument #1 to 'set_uri_args' (string, number, or table expected, got "
                  .. type(args) .. ")", 2)
        end
        py.set_args(args)
    end

    function req.get_post_args(max)
        check(BODY_READ)
        if not py.body_read() then
            error("no request body found; maybe you should turn on lua_need_request_body?", 2)
        end
        local body = py.get_body_data()
        if body == nil then
            if py.body_in_file() then return nil, "request body in temp file not supported" end
            return {}
        end
        return decode(body, max)
    end

    -- The table get_headers() returns from a flat name, value... list (ngx.resp's too):
    -- at most `max` (100 by default, 0 for all) names, then "truncated".
    function rt.header_table(list, max, raw)
        if max == nil then max = 100 end
        local t = {}
        local count = 0
        for i = 1, #list, 2 do
            if max > 0 and count >= max then
                return setmetatable(t, rt.headers_mt), "truncated"
            end
            count = count + 1
            local k = list[i]
            rt.add_value(t, raw and k or k:lower(), list[i + 1])
        end
        if not raw then setmetatable(t, rt.headers_mt) end
        return t
    end

    function req.get_headers(max, raw)
        check(ALL_REQ)
        return rt.header_table(py.get_headers(), max, raw)
    end

    -- tables from get_headers() accept any case and "_" for "-"
    rt.headers_mt = {
        __index = function(t, k)
            if type(k) ~= "string" then return nil end
            local low = k:lower():gsub("_", "-")
            if low ~= k then return rawget(t, low) end
            return nil
        end,
    }

    function req.set_header(name, value)
        check(REQ_HEADERS_W)
        if type(name) ~= "string" then
            error("bad argument #1 to 'set_header' (string expected, got " .. type(name) .. ")", 2)
        end
        if value == nil then
            py.set_req_header(name, nil)
        elseif type(value) == "table" then
            local vals = {}
            for i = 1, #value do vals[i] = tostring(value[i]) end
            py.set_req_header(name, vals)
        else
            py.set_req_header(name, tostring(value))
        end
    end

    function req.clear_header(name)
        check(REQ_HEADERS_W)
        py.set_req_header(tostring(name), nil)
    end

    function req.read_body()
        check(BODY_READ)
        return yield("read_body")
    end

    function req.discard_body()
        check(BODY_READ)
        py.discard_body()
    end

    function req.get_body_data(max_bytes)
        check(BODY_DATA)
        local data = py.get_body_data()
        if data ~= nil and max_bytes and #data > max_bytes then
            return data:sub(1, max_bytes)
        end
        return data
    end

    function req.get_body_file()
        check(BODY_DATA)
        return py.get_body_file()
    end

    function req.init_body() check(BODY_READ) py.set_body("") end
    function req.append_body(s) check(BODY_READ) py.append_body(tostring(s)) end
    function req.finish_body() check(BODY_READ) end

    function req.set_body_data(data)
        check(BODY_READ)
        if not py.body_read() then error("request body not read", 2) end
        py.set_body(tostring(data))
    end

    function req.set_uri(uri, jump, binary)
        local state = check(SET_URI)
        if type(uri) ~= "string" then
            error("bad argument #1 to 'set_uri' (string expected, got " .. type(uri) .. ")", 2)
        end
        if uri == "" then error("attempt to use zero-length uri", 2) end
        if jump then
            if state.context ~= rt.CTX.rewrite and state.context ~= rt.CTX.server_rewrite then
                error("API disabled in the context of " .. rt.CTX_NAME[state.context]
                      .. " (jump must be false)", 2)
            end
            py.set_uri(uri, true)
            return yield("set_uri_jump")
        end
        py.set_uri(uri, false)
    end

    function req.socket()
        return nil, "ngx.req.socket is not modelled by ngx-explore"
    end
end
