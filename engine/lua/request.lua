-- ngx.var and ngx.req.* (ngx_http_lua_variable.c, _uri.c, _args.c, _headers.c,
-- _req_body.c, _req_method.c, _misc.c) for ngx-explore.

return function(ngx, rt, py)
    local type, tostring, tonumber, error, setmetatable, pairs, ipairs, concat, select =
        type, tostring, tonumber, error, setmetatable, pairs, ipairs, table.concat, select
    local check, ctxset, yield, check_ffi = rt.check, rt.ctxset, rt.yield, rt.check_ffi

    local ALL_REQ = ctxset("set", "rewrite", "access", "content", "header_filter",
                           "body_filter", "log", "server_rewrite", "balancer")
    local BODY_READ = ctxset("rewrite", "access", "content", "server_rewrite")
    local BODY_DATA = ctxset("rewrite", "access", "content", "log", "server_rewrite")
    local SET_URI = ctxset("set", "rewrite", "access", "content", "server_rewrite")

    -- resty.core's var.lua: a name is a string (a number reads a capture), a value
    -- any tostring-able value, nil making the variable "not found"
    ngx.var = setmetatable({}, {
        __index = function(_, k)
            local state = check_ffi(ALL_REQ)
            local tk = type(k)
            if tk == "number" then  -- a C int: $0 and below are never found
                k = k >= 0 and math.floor(k) or -math.floor(-k)
                if k <= 0 then return nil end
                return py.capture_get(k)
            end
            if tk ~= "string" then error("bad variable name", 2) end
            -- whether ngx.say & co. have (for ngx_lua) sent the header: see var_get (and,
            -- for the header's own variables, header_prepared)
            if state.headers_sent and k:sub(1, 5) == "sent_" then
                return py.var_get(k, rt.header_prepared(state))
            end
            return py.var_get(k, state.headers_sent)
        end,
        __newindex = function(_, k, v)
            check_ffi(ALL_REQ)
            if type(k) ~= "string" then error("bad variable name", 2) end
            if v ~= nil and type(v) ~= "string" then v = tostring(v) end
            local err = py.var_set(k, v)
            if err then error(err, 2) end
        end,
    })

    local req = {}
    ngx.req = req

    function req.get_method()
        check_ffi(ALL_REQ)
        return py.get_method()
    end

    -- ngx_lua checks no context here (the log phase may change it too); the FFI takes
    -- the number as an int, so a fraction is cut off
    function req.set_method(method)
        local state = check_ffi(ALL_REQ)
        if type(method) ~= "number" then error("bad method number", 2) end
        local name = py.method_name(method >= 0 and math.floor(method) or -math.floor(-method))
        if not name then error("unsupported HTTP method: " .. tostring(method), 2) end
        -- output printed so far went out (with its header) before the method changed:
        -- a HEAD's header-only response is decided by then
        if state.n > 0 then yield("output") end
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
        check(ALL_REQ)
        return py.raw_header(no_request_line and true or false)
    end

    -- query strings and forms -> Lua tables (ngx.decode_args semantics)
    local function decode(s, max)
        if max == nil then max = 100 end
        return ngx.decode_args(s or "", max)
    end

    -- resty.core passes `max` to a C function taking an int: the FFI's conversion error
    -- names that function at its call site in resty/core/request.lua (a boolean converts,
    -- true being 1); a negative max is the default 100 there, 0 no limit.
    local function ffi_max(max, line, cfn)
        if max == nil then return 100 end
        if type(max) == "boolean" then return max and 1 or 0 end
        if type(max) ~= "number" then
            error("/usr/share/lua/5.1/resty/core/request.lua:" .. line .. ": bad argument #2 to '"
                  .. cfn .. "' (cannot convert '" .. type(max) .. "' to 'int')", 0)
        end
        max = max >= 0 and math.floor(max) or -math.floor(-max)
        return max < 0 and 100 or max
    end

    -- resty.core clears the table given (clear_tab, which wants a table), then asks C
    -- for the count: every "&"-separated piece, with "truncated" above `max`; C then
    -- fills in that many pieces, skipping (not counting) those with an empty key
    function req.get_uri_args(max, tab)
        check_ffi(ALL_REQ)
        if tab then
            if type(tab) ~= "table" then
                error("/usr/share/lua/5.1/resty/core/request.lua:207: bad argument #1 to "
                      .. "'clear_tab' (table expected, got " .. type(tab) .. ")", 0)
            end
            for k in pairs(tab) do tab[k] = nil end
        else
            tab = {}
        end
        max = ffi_max(max, 210, "ngx_http_lua_ffi_req_get_uri_args_count")
        local args = py.var_get("args") or ""
        if args == "" then return tab end
        local _, amps = args:gsub("&", "")
        local count = amps + 1
        local keep = (max > 0 and count > max) and max or count
        for piece in (args .. "&"):gmatch("([^&]*)&") do
            if keep == 0 then break end
            local k, v = next(ngx.decode_args(piece, 0))
            if k ~= nil then
                rt.add_value(tab, k, v)
                keep = keep - 1
            end
        end
        if max > 0 and count > max then return tab, "truncated" end
        return tab
    end

    -- ngx_lua's C function checks the keys itself, so its error points at the caller
    function rt.check_arg_keys(t)
        for k in pairs(t) do
            if type(k) ~= "string" then
                error('attempt to use a non-string key in the "args" option table', 3)
            end
        end
    end

    -- a string keeps its bytes but for the controls, space and DEL, which ngx_lua writes
    -- as %XX (probed on the real module); any phase may call it
    function req.set_uri_args(args)
        check(ALL_REQ)
        if type(args) == "table" then
            rt.check_arg_keys(args)
            args = ngx.encode_args(args)
        elseif type(args) == "number" or type(args) == "string" then
            args = tostring(args):gsub("[%z\1-\32\127]", function(c)
                return string.format("%%%02X", c:byte())
            end)
        else
            rt.argerror(1, "string, number, or table expected, but got " .. type(args))
        end
        py.set_args(args)
    end

    -- `max` of a C function, as luaL_checkinteger takes it (a numeric string passes):
    -- the number, or nil and the message for argerror
    function rt.int_max(max)
        if max == nil then return 100 end
        local n = type(max) == "number" and max or type(max) == "string" and tonumber(max)
        if not n then return nil, "number expected, got " .. type(max) end
        return n >= 0 and math.floor(n) or -math.floor(-n)
    end

    function req.get_post_args(max)
        check(BODY_READ)
        local err
        max, err = rt.int_max(max)
        if not max then rt.argerror(1, err) end
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
    -- `extra` leading entries always go in; then at most `max` (0 for all) entries
    -- count against the limit, with "truncated" when some were left out. ngx.resp's C
    -- loop adds one header of the list even when the extras used up the limit, and
    -- counts the `hidden` (emptied) elements of nginx's list too, though it skips them.
    function rt.header_table(list, max, raw, extra, hidden)
        extra = extra or 0
        local total = #list / 2
        local keep, truncated = total, nil
        if max > 0 and total + (hidden or 0) > max then
            keep = math.min(extra + math.max(1, max - extra), total)
            truncated = "truncated"
        end
        local t = {}
        for i = 1, 2 * keep, 2 do
            local k = list[i]
            rt.add_value(t, raw and k or k:lower(), list[i + 1])
        end
        if not raw then setmetatable(t, rt.headers_mt) end
        if truncated then return t, truncated end
        return t
    end

    function req.get_headers(max, raw)
        check_ffi(ALL_REQ)
        max = ffi_max(max, 138, "ngx_http_lua_ffi_req_get_headers_count")
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

    -- resty.core's set_req_header: any name but nil (made a string); set_header
    -- (override) takes an empty value or table for nil, which removes the header;
    -- ngx.req's add_header appends (a single-valued header is still replaced), and
    -- wants a value; every phase may call them
    local function set_req_header(name, value, override)
        local state = rt.current()  -- (checked here: its errors name the caller's caller)
        if state == nil then error("no request found", 3) end
        if not ALL_REQ[state.context] then error("API disabled in the current context", 3) end
        if name == nil then error("bad 'name' argument: string expected, got nil", 3) end
        name = rt.escape_header(tostring(name), true)
        if type(value) == "table" then
            local vals = {}
            for i = 1, #value do vals[i] = rt.escape_header(tostring(value[i])) end
            if #vals == 0 and not override then
                error("bad 'value' argument: non-empty table expected", 3)
            end
            value = #vals > 0 and vals or nil
        elseif value == nil then
            if not override then
                error("bad 'value' argument: string or table expected, got nil", 3)
            end
        elseif value == "" and override then
            value = nil
        else
            value = rt.escape_header(tostring(value))
        end
        local err = py.set_req_header(name, value, not override)
        if err then error("/usr/share/lua/5.1/resty/core/request.lua:417: " .. err, 0) end
    end
    rt.set_req_header = set_req_header

    function req.set_header(name, value)
        set_req_header(name, value, true)
    end

    function req.clear_header(name)
        check_ffi(ALL_REQ)
        py.set_req_header(rt.escape_header(tostring(name), true), nil)
    end

    function req.read_body()
        check(BODY_READ)
        return yield("read_body")
    end

    function req.discard_body()
        check(BODY_READ)
        py.discard_body()
    end

    -- resty.core's get_body_data takes no argument (0.10.23); nil for no body, an
    -- empty one or one in a file
    function req.get_body_data(...)
        check(BODY_DATA)
        local n = select("#", ...)
        if n > 0 then error("expecting 0 arguments but seen " .. n, 2) end
        return py.get_body_data()
    end

    function req.get_body_file()
        check(BODY_DATA)
        return py.get_body_file()
    end

    -- ngx_lua's C functions count their arguments first, then want a read body
    local function nargs_check(n, ok, expect)
        if not ok then error("expecting " .. expect .. " but seen " .. n, 3) end
    end

    -- init_body .. finish_body build a new body in a buffer of `size` bytes
    -- (client_body_buffer_size by default): more goes to a temporary file
    function req.init_body(...)
        local state = check(BODY_READ)
        local n, size = select("#", ...), ...
        nargs_check(n, n <= 1, "0 or 1 argument")
        if not py.body_read() then error("request body not read yet", 2) end
        if size ~= nil then
            local num = tonumber(size)
            if type(size) ~= "number" and (type(size) ~= "string" or not num) then
                rt.argerror(1, "number expected, got " .. type(size))
            end
            size = num >= 0 and math.floor(num) or -math.floor(-num)
            if size < 0 then error("bad size argument: " .. size, 2) end
        end
        py.init_body(size or -1)  -- (0: a temporary file from the start)
        state.body_init = true
    end
    function req.append_body(...)
        local state = check(BODY_READ)
        local n, s = select("#", ...), ...
        nargs_check(n, n == 1, "1 arguments")
        if type(s) ~= "string" and type(s) ~= "number" then
            rt.argerror(1, "string expected, got " .. type(s))
        end
        if not state.body_init then error("request_body not initialized", 2) end
        py.append_body(tostring(s))
    end
    function req.finish_body(...)
        local state = check(BODY_READ)
        local n = select("#", ...)
        nargs_check(n, n == 0, "0 argument")
        if not state.body_init then error("request_body not initialized", 2) end
        py.finish_body()
    end

    function req.set_body_data(data)
        check(BODY_READ)
        if not py.body_read() then error("request body not read yet", 2) end
        if type(data) ~= "string" and type(data) ~= "number" then
            rt.argerror(1, "string expected, got " .. type(data))
        end
        py.set_body(tostring(data))
    end

    -- the file becomes the body (Content-Length its size); `auto_clean` removes it when
    -- the body changes again or the request ends
    function req.set_body_file(...)
        check(BODY_READ)
        local n, path, auto_clean = select("#", ...), ...
        nargs_check(n, n == 1 or n == 2, "1 or 2 arguments")
        if type(path) ~= "string" and type(path) ~= "number" then
            rt.argerror(1, "string expected, got " .. type(path))
        end
        if not py.body_read() then error("request body not read yet", 2) end
        local err = py.set_body_file(tostring(path), auto_clean and true or false)
        if err then error(err, 2) end
    end

    -- ngx_lua's C function: the count, a string (a number converts), not empty; then
    -- `binary`, when given, a boolean; the bytes, unless binary; `jump`, when given, a
    -- boolean, true only where the phases can restart
    function req.set_uri(...)
        local state = check(SET_URI)
        local n, uri, jump, binary = select("#", ...), ...
        nargs_check(n, n >= 1 and n <= 3, "1, 2 or 3 arguments")
        if type(uri) == "number" then uri = tostring(uri) end
        if type(uri) ~= "string" then rt.argerror(1, "string expected, got " .. type(uri)) end
        if uri == "" then error("attempt to use zero-length uri", 2) end
        if n == 3 and type(binary) ~= "boolean" then
            rt.argerror(3, "boolean expected, got " .. type(binary))
        end
        if not binary then
            local byte, shown = rt.unsafe_uri_byte(uri)
            if byte then
                error('unsafe byte "' .. byte .. '" in uri "' .. shown .. '" (maybe you want '
                      .. "to set the 'binary' argument?)", 2)
            end
        end
        if n >= 2 and type(jump) ~= "boolean" then
            rt.argerror(2, "boolean expected, got " .. type(jump))
        end
        if jump and state.context ~= rt.CTX.rewrite
                and state.context ~= rt.CTX.server_rewrite then
            error("API disabled in the context of " .. rt.CTX_NAME[state.context], 2)
        end
        if jump then
            py.set_uri(uri, true)
            return yield("set_uri_jump")
        end
        py.set_uri(uri, false)
    end

    function req.socket()
        return nil, "ngx.req.socket is not modelled by ngx-explore"
    end
end
