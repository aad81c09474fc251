-- ngx.say / print / flush / eof / exit / exec / redirect / send_headers / headers_sent /
-- status / header (ngx_http_lua_output.c, _control.c, _headers.c) for ngx-explore.
--
-- Output is buffered on the Lua side (no boundary crossing per ngx.say) and handed to
-- Python when the handler yields or ends; operations that leave the handler (exit, exec,
-- redirect) or wait (flush, eof, send_headers) yield to the Python driver.

return function(ngx, rt, py)
    local type, tostring, select, error, concat, setmetatable, rawget =
        type, tostring, select, error, table.concat, setmetatable, rawget
    local yield, check, ctxset, write_num = rt.yield, rt.check, rt.ctxset, rt.write_num
    local format = string.format
    local getinfo = debug.getinfo
    local null = ngx.null

    local OUT = ctxset("rewrite", "access", "content", "server_rewrite")
    local EXIT = ctxset("rewrite", "access", "content", "header_filter", "timer",
                        "server_rewrite", "balancer")
    local HEADER_W = ctxset("set", "rewrite", "access", "content", "header_filter",
                            "body_filter", "log", "server_rewrite", "balancer")
    local STATUS = ctxset("set", "rewrite", "access", "content", "header_filter",
                          "body_filter", "log", "server_rewrite", "balancer")

    local function append(state, s)
        local n = state.n + 1
        state.out[n] = s
        state.n = n
    end

    local say, print_  -- ngx.say and ngx.print, found on the stack by bad_arg

    -- luaL_argerror() of the C functions ngx.say/ngx.print as LuaJIT words it: named as
    -- the caller called them ('?' through pcall) and at the caller's position
    local function bad_arg(argn, msg)
        local level = 3
        local info = getinfo(level, "nf")
        while info and info.func ~= say and info.func ~= print_ do
            level = level + 1
            info = getinfo(level, "nf")
        end
        error(format("bad argument #%d to '%s' (%s)", argn, info and info.name or "?", msg),
              level + 1)
    end

    -- flatten ngx.say/ngx.print arguments as ngx_lua does (nested arrays too)
    local function add(state, v, argn)
        local t = type(v)
        if t == "string" then
            append(state, v)
        elseif t == "number" then
            append(state, write_num(v))
        elseif t == "boolean" then
            append(state, v and "true" or "false")
        elseif t == "nil" then
            append(state, "nil")
        elseif v == null then
            append(state, "null")
        elseif t == "table" then
            -- ngx_lua walks 1..(the largest integer key), holes print "nil"; any other
            -- key makes it refuse the table
            local max = 0
            for k in pairs(v) do
                if type(k) ~= "number" or k < 1 or k % 1 ~= 0 then
                    bad_arg(argn, "non-array table found")
                end
                if k > max then max = k end
            end
            for i = 1, max do
                local e = rawget(v, i)
                local te = type(e)
                if te == "table" or te == "string" or te == "number" or te == "boolean"
                        or te == "nil" or e == null then
                    add(state, e, argn)
                else
                    bad_arg(argn, "bad data type " .. te .. " found")
                end
            end
        else
            bad_arg(argn, "string, number, boolean, nil, ngx.null, or array table expected, "
                    .. "but got " .. t)
        end
    end

    -- the call's pieces gather here first: a bad argument outputs nothing (ngx_lua checks
    -- them all before it sends a byte); no yield comes between reset and use
    local scratch = { out = {}, n = 0 }

    local function out(state, nl, ...)
        if state.eof then
            return nil, "seen eof"
        end
        scratch.n = 0
        for i = 1, select("#", ...) do
            add(scratch, (select(i, ...)), i)
        end
        if nl then append(scratch, "\n") end
        -- one call is one buffer down the output chain, as in ngx_lua (one chunk each)
        local n, s = scratch.n, ""
        if n > 0 then
            s = n == 1 and scratch.out[1] or concat(scratch.out, "", 1, n)
            append(state, s)
        end
        -- an HTTP/1.0 request's output is held (lua_http10_buffering): no header yet;
        -- an empty call holds nothing (it sends the header, unless output is held)
        local was_sent = state.headers_sent
        if not (state.http10 and not was_sent and py.http10_buffering(#s > 0)) then
            state.headers_sent = true
        end
        -- with Lua filters in the location the call's buffer goes down the chain now (not
        -- at the next yield), so what the filters log comes before the handler's next
        -- lines, and a failing filter makes the call return nil, as in ngx_lua; an empty
        -- call that sends the header sends it now too (its type, ngx.exit after it)
        if state.sync_out or (#s == 0 and not was_sent and state.headers_sent) then
            return yield("output")
        end
        return 1
    end

    -- (not tail calls: bad_arg needs their frames)
    function say(...)
        local ok, err = out(check(OUT), true, ...)
        if ok then return ok end
        return ok, err
    end
    function print_(...)
        local ok, err = out(check(OUT), false, ...)
        if ok then return ok end
        return ok, err
    end
    ngx.say, ngx.print = say, print_

    function ngx.flush(...)
        check(OUT)
        local n = select("#", ...)
        if n > 1 then
            error("attempt to pass " .. n .. " arguments, but accepted 0 or 1", 2)
        end
        local wait = false
        if n == 1 then
            wait = ...
            if type(wait) ~= "boolean" then
                rt.argerror(1, "boolean expected, got " .. type(wait))
            end
        end
        local ok, err = yield("flush", wait)
        -- the output printed before the flush went down the body filters first (ngx_lua
        -- sends each print at once); one that had ended the body leaves its context on
        -- (body_filter_by_lua*), and ngx_lua's flush checks the context after that
        check(OUT)
        return ok, err
    end

    function ngx.eof()
        local state = check(OUT)
        if state.eof then return nil, "seen eof" end
        state.headers_sent = true
        state.eof = true
        return yield("eof")
    end

    function ngx.exit(status)
        local state = check(EXIT)
        if type(status) ~= "number" then  -- resty.core hands it to the FFI as an int
            error("/usr/share/lua/5.1/resty/core/exit.lua:52: bad argument #2 to "
                  .. "'ngx_lua_ffi_exit' (cannot convert '" .. type(status) .. "' to 'int')", 0)
        end
        status = status >= 0 and math.floor(status) or -math.floor(-status)
        if state.context == rt.CTX.balancer and (status == -2 or status == -4) then
            error("bad argument to 'ngx.exit': does not accept NGX_AGAIN or NGX_DONE", 2)
        end
        if status >= 300 and status ~= 408 and status ~= 499 and status ~= 444
                and state.context ~= rt.CTX.header_filter
                and (state.headers_sent or py.headers_sent()) then
            local sent = rt.status_get()
            if status ~= sent then
                py.log_error("attempt to set status " .. status .. " via ngx.exit after "
                             .. "sending out the response status "
                             .. py.status_unsigned(sent))
            end
        end
        if state.context == rt.CTX.header_filter or state.context == rt.CTX.balancer then
            -- ngx_lua only notes the code (FFI_DONE): the filter's (balancer's) code
            -- goes on, and the handler then ends with that code
            state.exit_code = status
            return
        end
        return yield("exit", status)
    end

    -- nginx's ngx_http_parse_unsafe_uri as ngx.exec uses it: the args after the first
    -- "?", %XX decoded in the path, no NUL and no "/../" or leading "../"
    local function unsafe_path(p)
        return p:find("%z") or p:find("/%.%./") or p:find("/%.%.$") or p:find("^%.%./")
            or p == ".."
    end
    local function parse_exec_uri(uri)
        local path, args = uri, nil
        local q = uri:find("?", 1, true)
        if q then path, args = uri:sub(1, q - 1), uri:sub(q + 1) end
        if path == "" or (args and args:find("%z")) or unsafe_path(path) then
            return nil, uri
        end
        if path:find("%", 1, true) then
            path = path:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
            if unsafe_path(path) then return nil, path end  -- nginx logs it decoded
        end
        return path, args
    end
    rt.parse_unsafe_uri = parse_exec_uri  -- ngx.location.capture's check too

    function ngx.exec(...)
        local n = select("#", ...)
        if n ~= 1 and n ~= 2 then
            error("expecting one or two arguments, but got " .. n, 2)
        end
        local uri, user_args = ...
        if type(uri) == "number" then uri = tostring(uri) end
        if type(uri) ~= "string" then rt.argerror(1, "string expected, got " .. type(uri)) end
        if uri == "" then error("The uri argument is empty", 2) end
        local state = check(OUT)
        local path, args = parse_exec_uri(uri)
        if not path then
            py.log_error('unsafe URI "' .. args .. '" was detected')
            error("unsafe uri", 2)
        end
        local ta = type(user_args)
        if ta == "table" then
            rt.check_arg_keys(user_args)
            user_args = ngx.encode_args(user_args)
        elseif ta == "number" then
            user_args = tostring(user_args)
        elseif ta ~= "string" and ta ~= "nil" then
            rt.argerror(2, "string, number, or table expected, but got " .. ta)
        end
        if user_args and user_args ~= "" then
            args = (args and args ~= "") and (args .. "&" .. user_args) or user_args
        end
        if state.headers_sent then
            error("attempt to call ngx.exec after sending out response headers", 2)
        end
        return yield("exec", path, args)  -- nil: no args at all ("?" alone gives "")
    end

    -- the bytes ngx_lua refuses in a URI it sets (%00-%08, %0A-%1F, %7F), and the URI
    -- shown as nginx's log escaping writes it
    local UNSAFE_URI = "[%z\1-\8\10-\31\127]"
    function rt.unsafe_uri_byte(uri)
        local at = uri:find(UNSAFE_URI)
        if not at then return nil end
        local shown = uri:gsub('[%z\1-\31"\\\127-\255]', function(c)
            return format("\\x%02X", c:byte())
        end)
        return format("0x%02x", uri:byte(at)), shown
    end

    function ngx.redirect(...)
        local n = select("#", ...)
        if n ~= 1 and n ~= 2 then error("expecting one or two arguments", 2) end
        local uri, status = ...
        if type(uri) == "number" then uri = tostring(uri) end
        if type(uri) ~= "string" then rt.argerror(1, "string expected, got " .. type(uri)) end
        if n == 2 then
            local code = tonumber(status)
            if code == nil then rt.argerror(2, "number expected, got " .. type(status)) end
            status = code >= 0 and math.floor(code) or -math.floor(-code)
        else
            status = 302
        end
        if status ~= 301 and status ~= 302 and status ~= 303 and status ~= 307
                and status ~= 308 then
            error("only ngx.HTTP_MOVED_TEMPORARILY, ngx.HTTP_MOVED_PERMANENTLY, "
                  .. "ngx.HTTP_PERMANENT_REDIRECT, ngx.HTTP_SEE_OTHER, and "
                  .. "ngx.HTTP_TEMPORARY_REDIRECT are allowed", 2)
        end
        local state = check(OUT)
        if state.headers_sent then
            error("attempt to call ngx.redirect after sending out the headers", 2)
        end
        local byte, shown = rt.unsafe_uri_byte(uri)
        if byte then
            error('unsafe byte "' .. byte .. '" in redirect uri "' .. shown .. '"', 2)
        end
        return yield("redirect", uri, status)
    end

    function ngx.send_headers()
        local state = check(OUT)
        if state.headers_sent and py.headers_sent() then return 1 end  -- sent: 1 all the same
        -- held HTTP/1.0 output: the header waits for it
        if state.http10 and py.http10_buffering(false) then return 1 end
        state.headers_sent = true
        return yield("send_headers")
    end

    function ngx.headers_sent_get()
        local state = rt.current()
        -- nginx marks the header sent in its own header filter, after the Lua one
        if state == nil or state.context == rt.CTX.header_filter then return false end
        return state.headers_sent or py.headers_sent()
    end

    local function is_content_length(name)
        return name:lower():gsub("_", "-") == "content-length"
    end

    -- Whether a read must see the header as ngx_lua sends it (status 200, default type):
    -- the handler has output; not in a header filter, which runs once that was done (a
    -- status it sets gets no default type). Output still waiting here goes down first:
    -- for ngx_lua the header went out with it, through the header filters (add_header,
    -- expires, charset), whose lines a read then sees.
    function rt.header_prepared(state)
        if not state.headers_sent or state.context == rt.CTX.header_filter then
            return false
        end
        if state.n > 0 and OUT[state.context] then yield("output") end
        return true
    end

    -- ngx.header: a proxy table (case-insensitive, "_" means "-")
    local header = setmetatable({}, {
        __index = function(_, k)
            local state = rt.check_ffi(HEADER_W)
            return py.header_get(tostring(k), rt.header_prepared(state))
        end,
        __newindex = function(_, k, v)
            local state = rt.check_ffi(HEADER_W)
            if state.context ~= rt.CTX.header_filter
                    and (state.headers_sent or py.headers_sent()) then
                py.log_error("attempt to set ngx.header.HEADER after sending out "
                             .. "response headers")
                return
            end
            local name = rt.escape_header(tostring(k), true)
            if type(v) == "table" then
                -- ngx_lua sets the values one by one: a Content-Length that is not all
                -- digits stops it there, the values before it set
                local vals, bad = {}, false
                local length = is_content_length(name)
                for i = 1, #v do
                    local s = rt.escape_header(tostring(v[i]))
                    if length and s:find("[^0-9]") then bad = true break end
                    vals[i] = s
                end
                if not (bad and #vals == 0) then py.header_set(name, vals) end
                if bad then error("failed to set header", 2) end
                return
            end
            v = v ~= nil and rt.escape_header(tostring(v)) or ""
            if v == "" then  -- an empty value removes the header, as nil does
                py.header_set(name, nil)
                return
            end
            -- nginx's Content-Length handler takes digits only (ngx_atoof)
            if v:find("[^0-9]") and is_content_length(name) then
                error("failed to set header", 2)
            end
            py.header_set(name, v)
        end,
    })
    rt.header = header
    ngx.header = header

    -- ngx.resp.get_headers: the response headers so far, as ngx.req.get_headers does the
    -- request's (the fields nginx writes itself first, then the header list); a C
    -- function, so `max` is checked as luaL_checkinteger does
    ngx.resp = {
        get_headers = function(max, raw)
            local state = check(HEADER_W)
            local n, err = rt.int_max(max)
            if not n then rt.argerror(1, err) end
            max = n
            local list, extra, hidden = py.resp_headers(rt.header_prepared(state))
            return rt.header_table(list, max, raw, extra, hidden)
        end,
    }

    function rt.status_get()
        local state = rt.check_ffi(STATUS)
        local status = py.status_get()
        -- output still on its way down sends the header with 200 (a status set to 0
        -- after the header went out stays 0)
        if status == 0 and state.headers_sent and not py.headers_sent() then
            return 200
        end
        return status
    end

    function rt.status_set(v)
        local state = rt.check_ffi(STATUS)
        if type(v) ~= "number" then v = tonumber(v) end
        if v == nil then  -- resty.core's setter hands tonumber(v) to the FFI as an int
            error("/usr/share/lua/5.1/resty/core/misc.lua:114: bad argument #2 to "
                  .. "'ngx_http_lua_ffi_set_resp_status' (cannot convert 'nil' to 'int')", 0)
        end
        -- (ngx_lua looks at r->header_sent alone: not set when the header filters failed)
        if state.context ~= rt.CTX.header_filter
                and (state.headers_sent or py.headers_sent()) and not py.header_failed() then
            py.log_error("attempt to set ngx.status after sending out response headers")
            return
        end
        -- the FFI takes a C int: truncated, and INT_MIN when out of its range (x86-64)
        v = v >= 0 and math.floor(v) or -math.floor(-v)
        if not (v >= -2147483648 and v < 2147483648) then v = -2147483648 end
        py.status_set(v)
    end
end
