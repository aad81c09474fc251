-- ngx.location.capture and ngx.location.capture_multi (ngx_http_lua_subrequest.c) for
-- ngx-explore: the arguments are checked here, in ngx_lua's order and with its messages;
-- the subrequests run in Python (subrequest.py), which the handler yields to.

return function(ngx, rt)
    local type, tostring, select, error, pairs, unpack =
        type, tostring, select, error, pairs, unpack
    local check, yield = rt.check, rt.yield
    local getinfo = debug.getinfo
    local CAPTURE = rt.ctxset("rewrite", "access", "content", "server_rewrite")

    local location = {}
    ngx.location = location

    -- ngx_lua's checks of one {uri, opts} item, in its order, with its messages; `level`
    -- is where the caller's code is (luaL_error's position), the API function one below
    local function flag_option(opts, name, level)
        local v = opts[name]
        if v ~= nil and type(v) ~= "boolean" then
            error("Bad " .. name .. " option value", level + 1)
        end
        return v or false
    end

    -- `nargs`: the item's length when capture() made it (LuaJIT's length of {nil, opts})
    local function normalize(reqs, i, level, nargs)
        local req = reqs[i]
        local index = i - 1  -- ngx_lua numbers the items from 0 in its messages
        if req == nil then error("only array-like tables are allowed", level) end
        if type(req) ~= "table" then
            error("the query argument " .. index .. " is not a table, but a " .. type(req),
                  level)
        end
        nargs = nargs or #req
        if nargs ~= 1 and nargs ~= 2 then
            error("query argument " .. index .. " expecting one or two arguments", level)
        end
        local spec = { method = 2 }
        local extra
        if nargs == 2 then
            local opts = req[2]
            if type(opts) ~= "table" then
                error("expecting table as the 2nd argument for subrequest " .. index
                      .. ", but got " .. type(opts), level)
            end
            local args = opts.args
            local ta = type(args)
            if ta == "table" then
                for k in pairs(args) do
                    if type(k) ~= "string" then
                        error('attempt to use a non-string key in the "args" option table',
                              level)
                    end
                end
                extra = ngx.encode_args(args)
            elseif ta == "number" or ta == "string" then
                extra = tostring(args)
            elseif ta ~= "nil" then
                error("Bad args option value", level)
            end
            local vars = opts.vars
            if type(vars) == "table" then
                local flat = {}
                for k, v in pairs(vars) do
                    if type(k) ~= "string" then
                        error('attempt to use a non-string key in the "vars" option table',
                              level)
                    end
                    local tv = type(v)
                    if tv ~= "string" and tv ~= "number" then
                        error("attempt to use bad variable value type " .. tv, level)
                    end
                    flat[#flat + 1] = k
                    flat[#flat + 1] = tostring(v)
                end
                spec.vars = flat
            elseif vars ~= nil then
                error("Bad vars option value", level)
            end
            spec.share_all_vars = flag_option(opts, "share_all_vars", level)
            spec.copy_all_vars = flag_option(opts, "copy_all_vars", level)
            spec.always_forward_body = opts.always_forward_body and true or false
            local method = opts.method
            if type(method) == "number" then
                -- a C cast to ngx_uint_t: the fraction goes, a negative wraps around
                method = method >= 0 and math.floor(method) or -math.floor(-method)
                spec.method = method
            elseif method ~= nil then
                error("Bad http request method", level)
            end
            local ctx = opts.ctx
            if ctx ~= nil and type(ctx) ~= "table" then
                error("Bad ctx option value type " .. type(ctx) .. ", expected a Lua table",
                      level)
            end
            spec.ctx = ctx
            local body = opts.body
            local tb = type(body)
            if tb == "number" then
                body = tostring(body)
            elseif body ~= nil and tb ~= "string" then
                error("Bad http request body", level)
            end
            spec.body = body
        end
        local uri = req[1]
        if type(uri) == "number" then
            uri = tostring(uri)
        elseif type(uri) ~= "string" then  -- luaL_checklstring on the C stack's slot 3
            local info = getinfo(level - 1, "n")
            error("bad argument #3 to '" .. (info and info.name or "?")
                  .. "' (string expected, got " .. type(uri) .. ")", level)
        end
        local path, args = rt.parse_unsafe_uri(uri)
        if not path then
            error("unsafe uri in argument #1: " .. uri:match("^[^%z]*"), level)
        end
        if extra and extra ~= "" then  -- the uri's own args first, then the option's
            args = (args and args ~= "") and (args .. "&" .. extra) or extra
        end
        spec.uri = path
        spec.args = args or ""
        return spec
    end

    local function to_results(raw)
        local results = {}
        for i = 1, #raw do
            local r = raw[i]
            -- a plain table (no case folding), as ngx_lua builds it: the header list first,
            -- a repeated name gathering its values, then the fields nginx keeps apart
            local header = {}
            local list, nlist = r.headers, r.nlist
            for j = 1, #list, 2 do
                local k, v = list[j], list[j + 1]
                if j > nlist then
                    header[k] = v
                else
                    local old = header[k]
                    if old == nil then
                        header[k] = v
                    elseif type(old) == "table" then
                        old[#old + 1] = v
                    else
                        header[k] = { old, v }
                    end
                end
            end
            results[i] = { status = r.status, header = header, body = r.body,
                           truncated = r.truncated }
        end
        return results
    end

    -- `level`: where the caller's code is, for errors raised at it
    local function capture(reqs, level, nargs)
        local n = #reqs
        if n == 0 then error("at least one subrequest should be specified", level) end
        -- ngx_lua checks an item and issues its subrequest before it looks at the next
        -- one: a bad item is raised after the ones before it were issued (and refused,
        -- maybe, with their own error); `pending` tells the Python side one failed
        -- (level + 2: pcall's frame is between normalize and capture)
        -- always_forward_body is one C variable for the whole loop: an item without an
        -- options table keeps the value of the item before it
        local specs, failure, forward = {}, nil, false
        for i = 1, n do
            local ok, spec = pcall(normalize, reqs, i, level + 2, nargs)
            if not ok then
                failure = spec
                specs.pending = true
                break
            end
            if spec.always_forward_body == nil then
                spec.always_forward_body = forward
            end
            forward = spec.always_forward_body
            specs[i] = spec
        end
        if failure and #specs == 0 then error(failure, 0) end
        local raw = yield("capture", specs)
        -- a failure to issue one, or a subrequest that closed the connection (444, 499):
        -- nginx terminates the request and the handler never goes on
        if type(raw) == "string" then error(raw, level) end
        if raw == true then error(failure, 0) end
        if type(raw) == "number" then return yield("exit", raw) end
        return unpack(to_results(raw), 1, n)
    end

    function location.capture_multi(...)
        local n = select("#", ...)
        if n ~= 1 then error("only one argument is expected, but got " .. n, 2) end
        local reqs = ...
        if type(reqs) ~= "table" then
            rt.argerror(1, "table expected, got " .. type(reqs))
        end
        check(CAPTURE)
        -- not a tail call: errors raised at level 3 must reach capture_multi's caller
        local res = { capture(reqs, 3) }
        return unpack(res, 1, #reqs)
    end

    function location.capture(...)
        local n = select("#", ...)
        if n ~= 1 and n ~= 2 then error("expecting one or two arguments", 2) end
        check(CAPTURE)
        local uri, opts = ...
        local nargs = opts ~= nil and 2 or (uri ~= nil and 1 or 0)
        return (capture({ { uri, opts } }, 3, nargs))
    end
end
