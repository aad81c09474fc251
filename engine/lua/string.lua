-- ngx.md5 / sha1 / crc32 / base64 / escape_uri / encode_args ... (ngx_http_lua_string.c,
-- lua-resty-core's hash, base64 and uri modules) for ngx-explore.
--
-- Why this shape: digests and base64 need C speed and come from Python (one crossing per
-- call); everything that is a byte-level rewrite (escaping, SQL quoting, query strings)
-- is plain Lua gsub/find, which costs no crossing. Argument coercion follows
-- lua-resty-core (nil/false -> "", other non-strings -> tostring) and the C functions'
-- error wording (checked on the oracle).

return function(ngx, py)
    local type, tostring, tonumber, pairs, error, select, floor =
        type, tostring, tonumber, pairs, error, select, math.floor
    local byte, char, sub, find, format, gsub = string.byte, string.char, string.sub,
        string.find, string.format, string.gsub
    local concat = table.concat
    local getinfo = debug and debug.getinfo

    local function argerror(n, fname, msg)
        -- as LuaJIT reports luaL_argerror() of a C function: caller position + call name
        local name = fname
        if getinfo then
            local info = getinfo(2, "n")
            name = info and info.name or "?"
        end
        error(format("bad argument #%d to '%s' (%s)", n, name, msg), 3)
    end

    -- error() level of the first caller outside the engine's own chunks: ngx_lua's C
    -- helpers raise at the position of the user's call, also when set_uri_args, ngx.exec
    -- or a subrequest (engine/lua/*.lua here) call encode_args for them
    local function user_level(level)
        while getinfo do
            local info = getinfo(level + 1, "S")
            if not info or sub(info.source, 1, 12) ~= "@engine/lua/" then break end
            level = level + 1
        end
        return level
    end

    local function coerce(s)
        if type(s) ~= "string" then
            if not s then return "" end
            return tostring(s)
        end
        return s
    end

    local py_md5, py_md5_bin, py_sha1_bin = py.md5, py.md5_bin, py.sha1_bin
    local py_crc32, py_hmac_sha1 = py.crc32, py.hmac_sha1
    local py_b64enc, py_b64dec = py.encode_base64, py.decode_base64

    function ngx.md5(s) return py_md5(coerce(s)) end
    function ngx.md5_bin(s) return py_md5_bin(coerce(s)) end
    function ngx.sha1_bin(s) return py_sha1_bin(coerce(s)) end
    function ngx.crc32_short(s) return py_crc32(coerce(s)) end
    function ngx.crc32_long(s) return py_crc32(coerce(s)) end

    function ngx.hmac_sha1(...)
        local n = select("#", ...)
        if n ~= 2 then error(format("expecting 2 arguments, but got %d", n), 2) end
        local key, data = ...
        local tk, td = type(key), type(data)
        if tk == "number" then key = tostring(key)
        elseif tk ~= "string" then argerror(1, "hmac_sha1", "string expected, got " .. tk) end
        if td == "number" then data = tostring(data)
        elseif td ~= "string" then argerror(2, "hmac_sha1", "string expected, got " .. td) end
        return py_hmac_sha1(key, data)
    end

    function ngx.encode_base64(s, no_padding)
        s = coerce(s)
        if no_padding and no_padding ~= true then
            error("bad no_padding: boolean expected, got " .. type(no_padding), 2)
        end
        return py_b64enc(s, no_padding == true)
    end

    function ngx.decode_base64(s)
        if type(s) ~= "string" then error("string argument only", 2) end
        return py_b64dec(s)
    end

    -- escape_uri types 0..6 (nginx's ngx_escape_uri tables): the bytes each type keeps
    local KEEP = {
        [0] = "!\"$&'()*+,-./0-9:;<=>@A-Z[\\]^_`a-z{|}~",
        [1] = "!\"$&'()*,-./0-9:;<=>@A-Z[\\]^_`a-z{|}~",
        [2] = "!'()*.0-9A-Z_a-z~-",
        [3] = "!$&()*+,-./0-9:;<=>?@A-Z[\\]^_`a-z{|}~",
        [4] = "!#$%&()*+,-./0-9:;<=>?@A-Z[\\]^_`a-z{|}~",
        [5] = "!\"#$&'()*+,-./0-9:;<=>?@A-Z[\\]^_`a-z{|}~\127-\255",
        [6] = "!\"#$&'()*+,-./0-9:;<=>?@A-Z[\\]^_`a-z{|}~\127-\255",
    }
    local HEX = {}
    for i = 0, 255 do HEX[char(i)] = format("%%%02X", i) end

    local ESC_PAT = {}
    -- a Lua pattern matching the bytes each type escapes ("a-b" in KEEP is a range)
    local function build_class(keep)
        local set = {}
        local i, n = 1, #keep
        while i <= n do
            local c = byte(keep, i)
            if i + 2 <= n and sub(keep, i + 1, i + 1) == "-" and c ~= 45 then
                for b = c, byte(keep, i + 2) do set[b] = true end
                i = i + 3
            else
                set[c] = true
                i = i + 1
            end
        end
        local out = {}
        for b = 1, 255 do
            if not set[b] then
                local ch = char(b)
                if find(ch, "%p") then ch = "%" .. ch end
                out[#out + 1] = ch
            end
        end
        return "[%z" .. concat(out) .. "]"
    end
    for t, keep in pairs(KEEP) do ESC_PAT[t] = build_class(keep) end

    function ngx.escape_uri(s, esc_type)
        s = coerce(s)
        if esc_type == nil then
            esc_type = 2
        else
            if type(esc_type) ~= "number" then error('"type" is not a number', 3) end
            if esc_type < 0 or esc_type > 6 then
                error('"type" ' .. esc_type .. " out of range", 3)
            end
            esc_type = floor(esc_type)
        end
        return (gsub(s, ESC_PAT[esc_type], HEX))
    end

    local UNHEX = {}
    for i = 0, 255 do
        local hi, lo = format("%x", floor(i / 16)), format("%x", i % 16)
        for _, h in pairs({ hi, hi:upper() }) do
            for _, l in pairs({ lo, lo:upper() }) do UNHEX["%" .. h .. l] = char(i) end
        end
    end

    local function unescape(s)
        if find(s, "+", 1, true) then s = gsub(s, "+", " ") end
        if find(s, "%", 1, true) then s = gsub(s, "%%%x%x", UNHEX) end
        return s
    end

    function ngx.unescape_uri(s)
        return unescape(coerce(s))
    end

    local SQL = { ["\0"] = "\\0", ["\b"] = "\\b", ["\n"] = "\\n", ["\r"] = "\\r",
                  ["\t"] = "\\t", ["\26"] = "\\Z", ["'"] = "\\'", ['"'] = '\\"',
                  ["\\"] = "\\\\" }

    function ngx.quote_sql_str(...)
        if select("#", ...) ~= 1 then error("expecting one argument", 2) end
        local s = ...
        local ts = type(s)
        if ts == "number" then s = tostring(s)
        elseif ts ~= "string" then argerror(1, "quote_sql_str", "string expected, got " .. ts) end
        return "'" .. gsub(s, "[%z\b\n\r\t\26'\"\\]", SQL) .. "'"
    end

    local esc_arg = ESC_PAT[2]

    local function arg_value(v)
        local tv = type(v)
        if tv == "string" then return (gsub(v, esc_arg, HEX)) end
        if tv == "number" then return (gsub(tostring(v), esc_arg, HEX)) end
        if tv == "boolean" then return v end
        -- luaL_error() of the C function: the position of encode_args' caller
        error("attempt to use " .. tv .. " as query arg value", user_level(4))
    end

    function ngx.encode_args(...)
        local n = select("#", ...)
        if n ~= 1 then error(format("expecting 1 argument but seen %d", n), 2) end
        local args = ...
        if type(args) ~= "table" then
            argerror(1, "encode_args", "table expected, got " .. type(args))
        end
        -- ngx_lua sizes its buffer counting every key's escapes, even for a key that
        -- emits no pair (false, {}, {false}); the mismatch is its "buffer error"
        local out, m, lost = {}, 0, 0
        for k, v in pairs(args) do
            if type(k) ~= "string" then
                error('attempt to use a non-string key in the "args" option table',
                      user_level(2))
            end
            local key = gsub(k, esc_arg, HEX)
            local before = m
            local function put(value)
                local ev = arg_value(value)
                if ev == true then
                    m = m + 1
                    out[m] = key
                elseif ev then
                    m = m + 1
                    out[m] = key .. "=" .. ev
                end
            end
            if type(v) == "table" then
                for _, e in pairs(v) do put(e) end
            else
                put(v)
            end
            if m == before then lost = lost + #key - #k end
        end
        local res = concat(out, "&", 1, m)
        if lost > 0 then
            error(format("buffer error: %d != %d", #res, #res + lost), user_level(2))
        end
        return res
    end

    local function add_arg(t, key, val)
        local old = t[key]
        if old == nil then
            t[key] = val
        elseif type(old) == "table" then
            old[#old + 1] = val
        else
            t[key] = { old, val }
        end
    end

    local function parse_segment(t, seg)
        local eq = find(seg, "=", 1, true)
        if eq then
            local key = unescape(sub(seg, 1, eq - 1))
            if key ~= "" then add_arg(t, key, unescape(sub(seg, eq + 1))) end
        elseif seg ~= "" then
            add_arg(t, unescape(seg), true)
        end
    end

    function ngx.decode_args(...)
        local n = select("#", ...)
        if n ~= 1 and n ~= 2 then
            error(format("expecting 1 or 2 arguments but seen %d", n), 2)
        end
        local s, max = ...
        local ts = type(s)
        if ts == "number" then s = tostring(s)
        elseif ts ~= "string" then argerror(1, "decode_args", "string expected, got " .. ts) end
        if n == 2 then
            local m = tonumber(max)
            if m == nil then
                argerror(2, "decode_args", "number expected, got " .. type(max))
            end
            max = m >= 0 and floor(m) or -floor(-m)
        else
            max = 100
        end
        local t, count, pos, len = {}, 0, 1, #s
        while true do
            local amp = find(s, "&", pos, true)
            if not amp then
                if pos <= len then parse_segment(t, sub(s, pos)) end
                return t
            end
            parse_segment(t, sub(s, pos, amp - 1))
            pos = amp + 1
            count = count + 1
            if max > 0 and count == max then return t, "truncated" end
        end
    end
end
