-- lua-cjson 2.1.0.x (OpenResty's fork) re-implemented in plain Lua for ngx-explore.
--
-- Why Lua and not Python: encoding walks Lua tables and decoding builds them; doing
-- either from Python would cross the lupa boundary once per value. Behaviour follows
-- the C library: numbers as "%.14g", "/" escaped as "\/", DEL as \u007f, bytes >= 0x80
-- passed through, the sparse-array rule (ratio 2, safe 10), empty tables as "{}",
-- OpenResty's empty_array / array_mt / empty_array_mt, error texts such as
-- "Cannot serialise function: type not supported" and
-- "Expected value but found invalid token at character 1". Object keys come out in
-- this VM's pairs() order, as the C library emits lua_next() order.

return function(ngx, null)
    local type, tostring, tonumber, pairs, next, error, pcall, select =
        type, tostring, tonumber, pairs, next, error, pcall, select
    local getmetatable, setmetatable, rawget = getmetatable, setmetatable, rawget
    local byte, char, sub, find, format, gsub, lower =
        string.byte, string.char, string.sub, string.find, string.format, string.gsub,
        string.lower
    local concat = table.concat
    local floor, huge = math.floor, math.huge
    local getinfo = debug and debug.getinfo

    -- sentinels shared by every instance (cjson, cjson.safe, cjson.new())
    local empty_array = newproxy(true)
    getmetatable(empty_array).__tostring = function() return "userdata: 0x00000001" end
    local array_mt = { __name = "cjson.array" }
    local empty_array_mt = { __name = "cjson.empty_array" }
    array_mt.__name, empty_array_mt.__name = nil, nil


    local TOKEN_NAME = {
        ["{"] = "T_OBJ_BEGIN", ["}"] = "T_OBJ_END", ["["] = "T_ARR_BEGIN",
        ["]"] = "T_ARR_END", str = "T_STRING", num = "T_NUMBER", bool = "T_BOOLEAN",
        null = "T_NULL", [":"] = "T_COLON", [","] = "T_COMMA", ["end"] = "T_END",
    }
    local SIMPLE = { [123] = "{", [125] = "}", [91] = "[", [93] = "]", [58] = ":",
                     [44] = "," }
    local ESC = { [34] = '"', [92] = "\\", [47] = "/", [98] = "\b", [102] = "\f",
                  [110] = "\n", [114] = "\r", [116] = "\t" }

    local function utf8_char(cp)
        if cp < 0x80 then return char(cp) end
        if cp < 0x800 then
            return char(0xC0 + floor(cp / 64), 0x80 + cp % 64)
        end
        if cp < 0x10000 then
            return char(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
        end
        return char(0xF0 + floor(cp / 262144), 0x80 + floor(cp / 4096) % 64,
                    0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
    end

    -- strtod() as glibc reads a number prefix; returns value and the position after it
    local function strtod(s, p)
        local q = p
        local c = byte(s, q)
        local neg = false
        if c == 45 or c == 43 then
            neg = c == 45
            q = q + 1
        end
        local word = lower(sub(s, q, q + 7))
        if sub(word, 1, 3) == "inf" then
            local v = neg and -huge or huge
            if word == "infinity" then return v, q + 8 end
            return v, q + 3
        elseif sub(word, 1, 3) == "nan" then
            local e = q + 3
            if byte(s, e) == 40 then
                local close = find(s, "^[%w_]*%)", e + 1)
                if close then e = select(2, find(s, "^[%w_]*%)", e + 1)) + 1 end
            end
            return 0 / 0, e
        end
        local _, e
        if find(s, "^0[xX]", q) then
            _, e = find(s, "^0[xX]%x*%.?%x*", q)
            if e - q < 2 or not find(sub(s, q + 2, e), "%x") then
                return neg and -0.0 or 0, q + 1
            end
            local e2 = select(2, find(s, "^[pP][+-]?%d+", e + 1))
            if e2 then e = e2 end
        else
            _, e = find(s, "^%d*%.?%d*", q)
            if not find(sub(s, q, e), "%d") then return nil, p end
            local e2 = select(2, find(s, "^[eE][+-]?%d+", e + 1))
            if e2 then e = e2 end
        end
        local v = tonumber(sub(s, q, e))
        if neg then v = -v end
        return v, e + 1
    end

    local function is_invalid_number(s, p)
        local c = byte(s, p)
        if c == 48 then
            local c2 = byte(s, p + 1)
            return c2 ~= nil and (c2 == 120 or c2 == 88 or (c2 >= 48 and c2 <= 57))
        elseif c <= 57 then
            return false
        end
        local w = lower(sub(s, p, p + 2))
        return w == "inf" or w == "nan"
    end

    local function make_decoder(cfg, null, array_mt, argerror)
        local s, len

        -- one token at p: type, value, 1-based position for messages, next position
        local function token(p)
            p = find(s, "[^ \t\n\r]", p) or len + 1
            local c = byte(s, p)
            if c == nil or c == 0 then return "end", nil, p, p end
            local simple = SIMPLE[c]
            if simple then return simple, nil, p, p + 1 end
            if c == 34 then
                local parts, np = nil, 0
                local q = p + 1
                while true do
                    local k = find(s, '["\\%z]', q)
                    if not k then return "err", "unexpected end of string", len + 1 end
                    local kc = byte(s, k)
                    if kc == 0 then return "err", "unexpected end of string", k end
                    if kc == 34 then
                        if not parts then return "str", sub(s, p + 1, k - 1), p, k + 1 end
                        np = np + 1
                        parts[np] = sub(s, q, k - 1)
                        return "str", concat(parts, "", 1, np), p, k + 1
                    end
                    parts = parts or {}
                    np = np + 1
                    parts[np] = sub(s, q, k - 1)
                    local e = byte(s, k + 1)
                    local simple_esc = ESC[e]
                    if simple_esc then
                        np = np + 1
                        parts[np] = simple_esc
                        q = k + 2
                    elseif e == 117 then
                        local hex = sub(s, k + 2, k + 5)
                        local cp = find(hex, "^%x%x%x%x$") and tonumber(hex, 16)
                        if not cp or (cp >= 0xDC00 and cp <= 0xDFFF) then
                            return "err", "invalid unicode escape code", k
                        end
                        q = k + 6
                        if cp >= 0xD800 and cp <= 0xDBFF then
                            local lo = sub(s, k + 6, k + 7) == "\\u" and sub(s, k + 8, k + 11)
                            lo = lo and find(lo, "^%x%x%x%x$") and tonumber(lo, 16)
                            if not lo or lo < 0xDC00 or lo > 0xDFFF then
                                return "err", "invalid unicode escape code", k
                            end
                            cp = 0x10000 + (cp - 0xD800) * 1024 + (lo - 0xDC00)
                            q = k + 12
                        end
                        np = np + 1
                        parts[np] = utf8_char(cp)
                    else
                        return "err", "invalid escape code", k
                    end
                end
            end
            if c == 45 or c == 43 or (c >= 48 and c <= 57) then
                if not cfg.decode_invalid and is_invalid_number(s, p) then
                    return "err", "invalid number", p
                end
                local v, np = strtod(s, p)
                if v == nil then return "err", "invalid number", p end
                return "num", v, p, np
            end
            if c == 116 and sub(s, p, p + 3) == "true" then return "bool", true, p, p + 4 end
            if c == 102 and sub(s, p, p + 4) == "false" then
                return "bool", false, p, p + 5
            end
            if c == 110 and sub(s, p, p + 3) == "null" then return "null", null, p, p + 4 end
            if cfg.decode_invalid and is_invalid_number(s, p) then
                local v, np = strtod(s, p)
                if v ~= nil then return "num", v, p, np end
            end
            return "err", "invalid token", p
        end

        local function fail(expected, tt, v, pos)
            local found = tt == "err" and v or TOKEN_NAME[tt]
            error(format("Expected %s but found %s at character %d", expected, found, pos), 0)
        end

        local parse_value

        local function parse_array(p, pos, depth)
            depth = depth + 1
            if depth > cfg.decode_max_depth then
                error(format("Found too many nested data structures (%d) at character %d",
                             depth, pos), 0)
            end
            local t, n = {}, 0
            if cfg.array_with_mt then setmetatable(t, array_mt) end
            local tt, v, tp, np = token(p)
            if tt == "]" then return t, np end
            while true do
                v, np = parse_value(tt, v, tp, np, depth)
                n = n + 1
                t[n] = v
                tt, v, tp, np = token(np)
                if tt == "]" then return t, np end
                if tt ~= "," then fail("comma or array end", tt, v, tp) end
                tt, v, tp, np = token(np)
            end
        end

        local function parse_object(p, pos, depth)
            depth = depth + 1
            if depth > cfg.decode_max_depth then
                error(format("Found too many nested data structures (%d) at character %d",
                             depth, pos), 0)
            end
            local t = {}
            local tt, v, tp, np = token(p)
            if tt == "}" then return t, np end
            while true do
                if tt ~= "str" then fail("object key string", tt, v, tp) end
                local key = v
                tt, v, tp, np = token(np)
                if tt ~= ":" then fail("colon", tt, v, tp) end
                tt, v, tp, np = token(np)
                v, np = parse_value(tt, v, tp, np, depth)
                t[key] = v
                tt, v, tp, np = token(np)
                if tt == "}" then return t, np end
                if tt ~= "," then fail("comma or object end", tt, v, tp) end
                tt, v, tp, np = token(np)
            end
        end

        parse_value = function(tt, v, tp, np, depth)
            if tt == "str" or tt == "num" or tt == "bool" or tt == "null" then
                return v, np
            elseif tt == "{" then
                return parse_object(np, tp, depth)
            elseif tt == "[" then
                return parse_array(np, tp, depth)
            end
            fail("value", tt, v, tp)
        end

        return function(...)
            if select("#", ...) ~= 1 then argerror(1, "decode", "expected 1 argument") end
            local text = ...
            local tt = type(text)
            if tt == "number" then
                text = tostring(text)
            elseif tt ~= "string" then
                argerror(1, "decode", "string expected, got " .. tt)
            end
            s, len = text, #text
            if len >= 2 and (byte(text, 1) == 0 or byte(text, 2) == 0) then
                error("JSON parser does not support UTF-16 or UTF-32", 0)
            end
            local t1, v1, p1, n1 = token(1)
            local v, np = parse_value(t1, v1, p1, n1, 0)
            local t2, v2, p2 = token(np)
            if t2 ~= "end" then fail("the end", t2, v2, p2) end
            s = nil
            return v
        end
    end

    local function argerror(n, fname, msg, lvl)
        -- C library argument errors: LuaJIT prefixes the caller's position and names the
        -- function as it was called ('?' when called through pcall)
        lvl = lvl or 2
        local name = fname
        if getinfo then
            local info = getinfo(lvl, "n")
            name = info and info.name or "?"
        end
        error(format("bad argument #%d to '%s' (%s)", n, name, msg), lvl + 1)
    end

    local escapes = {
        ['"'] = '\\"', ["\\"] = "\\\\", ["/"] = "\\/", ["\b"] = "\\b", ["\f"] = "\\f",
        ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ["\127"] = "\\u007f",
    }
    for i = 0, 31 do
        local c = char(i)
        if not escapes[c] then escapes[c] = format("\\u%04x", i) end
    end

    local function new_instance(safe)
        local cfg = {
            sparse_convert = false, sparse_ratio = 2, sparse_safe = 10,
            encode_max_depth = 1000, decode_max_depth = 1000, precision = 14,
            keep_buffer = true, encode_invalid = false, decode_invalid = true,
            escape_slash = true, empty_as_object = true, array_with_mt = false,
        }
        local numfmt = "%.14g"
        local esc_pat = '[%c"\\/]'

        local function fmtnum(n)
            if n ~= n or n == huge or n == -huge then
                local inv = cfg.encode_invalid
                if inv == false then
                    error("Cannot serialise number: must not be NaN or Inf", 0)
                elseif inv == "null" then
                    return "null"
                end
                if n ~= n then return "nan" end
                return n > 0 and "inf" or "-inf"
            end
            if cfg.precision == 14 then return tostring(n) end
            return format(numfmt, n)
        end

        local function quote(s)
            if find(s, esc_pat) then
                return '"' .. gsub(s, esc_pat, escapes) .. '"'
            end
            return '"' .. s .. '"'
        end

        local encode_value

        local function array_length(t)
            local max, items = 0, 0
            for k in pairs(t) do
                if type(k) == "number" and k > 0 and floor(k) == k then
                    if k > max then max = k end
                    items = items + 1
                else
                    return -1
                end
            end
            if cfg.sparse_ratio > 0 and max > items * cfg.sparse_ratio
                    and max > cfg.sparse_safe then
                if not cfg.sparse_convert then
                    error("Cannot serialise table: excessively sparse array", 0)
                end
                return -1
            end
            return max
        end

        local function encode_array(t, len, depth, buf, n)
            n = n + 1
            buf[n] = "["
            for i = 1, len do
                if i > 1 then
                    n = n + 1
                    buf[n] = ","
                end
                n = encode_value(t[i], depth, buf, n)
            end
            n = n + 1
            buf[n] = "]"
            return n
        end

        local function encode_table(t, depth, buf, n)
            depth = depth + 1
            if depth > cfg.encode_max_depth then
                error(format("Cannot serialise, excessive nesting (%d)", depth), 0)
            end
            local mt = getmetatable(t)
            if mt ~= nil and mt == array_mt then
                return encode_array(t, #t, depth, buf, n)
            end
            local len = array_length(t)
            if len > 0 or (len == 0 and not cfg.empty_as_object) then
                return encode_array(t, len, depth, buf, n)
            end
            if len == 0 and mt ~= nil and mt == empty_array_mt then
                n = n + 1
                buf[n] = "[]"
                return n
            end
            n = n + 1
            buf[n] = "{"
            local first = true
            for k, v in pairs(t) do
                local tk = type(k)
                local key
                if tk == "string" then
                    key = quote(k)
                elseif tk == "number" then
                    key = '"' .. fmtnum(k) .. '"'
                else
                    error("Cannot serialise " .. tk .. ": table key must be a number or string",
                          0)
                end
                n = n + 1
                buf[n] = first and key .. ":" or "," .. key .. ":"
                first = false
                n = encode_value(v, depth, buf, n)
            end
            n = n + 1
            buf[n] = "}"
            return n
        end

        encode_value = function(v, depth, buf, n)
            local tv = type(v)
            n = n + 1
            if tv == "string" then
                buf[n] = quote(v)
            elseif tv == "number" then
                buf[n] = fmtnum(v)
            elseif tv == "table" then
                return encode_table(v, depth, buf, n - 1)
            elseif tv == "boolean" then
                buf[n] = v and "true" or "false"
            elseif v == nil or v == null then
                buf[n] = "null"
            elseif v == empty_array then
                buf[n] = "[]"
            else
                error("Cannot serialise " .. tv .. ": type not supported", 0)
            end
            return n
        end

        local function encode(...)
            if select("#", ...) ~= 1 then argerror(1, "encode", "expected 1 argument") end
            local v = ...
            local tv = type(v)
            if tv == "string" then return quote(v) end
            if tv == "number" then return fmtnum(v) end
            local buf = {}
            local n = encode_value(v, 0, buf, 0)
            return concat(buf, "", 1, n)
        end

        local decode = make_decoder(cfg, null, array_mt, argerror)

        local M = { _NAME = "cjson", _VERSION = "2.1.0.11", null = null,
                    empty_array = empty_array, array_mt = array_mt,
                    empty_array_mt = empty_array_mt }

        if safe then
            M.encode = function(...)
                if select("#", ...) ~= 1 then
                    argerror(1, "encode", "expected 1 argument")
                end
                local ok, res = pcall(encode, ...)
                if ok then return res end
                return nil, res
            end
            M.decode = function(...)
                if select("#", ...) ~= 1 then
                    argerror(1, "decode", "expected 1 argument")
                end
                local ok, res = pcall(decode, ...)
                if ok then return res end
                return nil, res
            end
        else
            M.encode, M.decode = encode, decode
        end

        -- configuration functions: cjson.encode_sparse_array([convert[, ratio[, safe]]]) ...
        local function bool_opt(i, v, fname, options)
            if v == nil then return nil end
            if type(v) == "boolean" then return v end
            if options then
                for _, o in pairs(options) do
                    if v == o then return v end
                end
            end
            argerror(i, fname, format("invalid option '%s'", tostring(v)), 3)
        end
        local function int_opt(i, v, lo, hi, fname)
            if v == nil then return nil end
            local n = tonumber(v)
            if not n or n ~= floor(n) or n < lo or n > hi then
                argerror(i, fname, format("expected integer between %d and %d", lo, hi), 3)
            end
            return n
        end
        local INT_MAX = 2147483647
        function M.encode_sparse_array(convert, ratio, safe_)
            local c = bool_opt(1, convert, "encode_sparse_array")
            local r = int_opt(2, ratio, 0, INT_MAX, "encode_sparse_array")
            local s = int_opt(3, safe_, 0, INT_MAX, "encode_sparse_array")
            if c ~= nil then cfg.sparse_convert = c end
            if r then cfg.sparse_ratio = r end
            if s then cfg.sparse_safe = s end
            return cfg.sparse_convert, cfg.sparse_ratio, cfg.sparse_safe
        end
        function M.encode_max_depth(d)
            d = int_opt(1, d, 1, INT_MAX, "encode_max_depth")
            if d then cfg.encode_max_depth = d end
            return cfg.encode_max_depth
        end
        function M.decode_max_depth(d)
            d = int_opt(1, d, 1, INT_MAX, "decode_max_depth")
            if d then cfg.decode_max_depth = d end
            return cfg.decode_max_depth
        end
        function M.encode_number_precision(p)
            p = int_opt(1, p, 1, 16, "encode_number_precision")
            if p then
                cfg.precision = p
                numfmt = "%." .. p .. "g"
            end
            return cfg.precision
        end
        function M.encode_keep_buffer(v)
            v = bool_opt(1, v, "encode_keep_buffer")
            if v ~= nil then cfg.keep_buffer = v end
            return cfg.keep_buffer
        end
        function M.encode_invalid_numbers(v)
            v = bool_opt(1, v, "encode_invalid_numbers", { "null" })
            if v ~= nil then cfg.encode_invalid = v end
            return cfg.encode_invalid
        end
        function M.decode_invalid_numbers(v)
            v = bool_opt(1, v, "decode_invalid_numbers")
            if v ~= nil then cfg.decode_invalid = v end
            return cfg.decode_invalid
        end
        function M.encode_escape_forward_slash(v)
            v = bool_opt(1, v, "encode_escape_forward_slash")
            if v ~= nil then
                cfg.escape_slash = v
                esc_pat = v and '[%c"\\/]' or '[%c"\\]'
            end
            return cfg.escape_slash
        end
        function M.encode_empty_table_as_object(v)
            v = bool_opt(1, v, "encode_empty_table_as_object", { "on", "off" })
            if v == "on" then v = true elseif v == "off" then v = false end
            if v ~= nil then cfg.empty_as_object = v end
            return cfg.empty_as_object
        end
        function M.decode_array_with_array_mt(v)
            v = bool_opt(1, v, "decode_array_with_array_mt")
            if v ~= nil then cfg.array_with_mt = v end
            return cfg.array_with_mt
        end
        function M.new()
            return new_instance(false)
        end
        return M
    end

    local cjson = new_instance(false)
    local cjson_safe = new_instance(true)
    cjson_safe.new = function() return new_instance(true) end
    package.preload["cjson"] = function() return cjson end
    package.preload["cjson.safe"] = function() return cjson_safe end
    package.loaded["cjson"] = nil
    package.loaded["cjson.safe"] = nil
    return cjson, cjson_safe
end
