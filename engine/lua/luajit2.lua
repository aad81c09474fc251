-- The extensions of OpenResty's LuaJIT 2.1 fork (the libluajit2 that Debian's ngx_lua
-- links) that upstream LuaJIT, which lupa embeds, lacks: the modules table.nkeys,
-- table.isarray, table.isempty, table.clone and thread.exdata. Like the fork's, they are
-- loaded with require (they are not fields of `table`).

return function(rt)
    local pairs, next, type = pairs, next, type
    local preload = package.preload

    -- (each function checks its argument itself: rt.argerror names its caller)
    preload["table.nkeys"] = function()
        return function(t)
            if type(t) ~= "table" then rt.argerror(1, "table expected, got " .. type(t)) end
            local n = 0
            for _ in pairs(t) do n = n + 1 end
            return n
        end
    end

    -- positive integer keys only (holes allowed: {1, nil, 3} is one; {} too)
    preload["table.isarray"] = function()
        return function(t)
            if type(t) ~= "table" then rt.argerror(1, "table expected, got " .. type(t)) end
            for k in pairs(t) do
                if type(k) ~= "number" or k < 1 or k % 1 ~= 0 then return false end
            end
            return true
        end
    end

    preload["table.isempty"] = function()
        return function(t)
            if type(t) ~= "table" then rt.argerror(1, "table expected, got " .. type(t)) end
            return next(t) == nil
        end
    end

    -- a shallow copy (the metatable is not copied)
    preload["table.clone"] = function()
        return function(t)
            if type(t) ~= "table" then rt.argerror(1, "table expected, got " .. type(t)) end
            local c = {}
            for k, v in pairs(t) do c[k] = v end
            return c
        end
    end

    -- a pointer kept per coroutine: the NULL cdata until one is set
    preload["thread.exdata"] = function()
        local ffi = require "ffi"
        local NULL = ffi.cast("void *", nil)
        local data = setmetatable({}, { __mode = "k" })
        return function(...)
            local co = coroutine.running() or data
            if select("#", ...) == 0 then return data[co] or NULL end
            local p = ...
            if type(p) ~= "cdata" and type(p) ~= "userdata" then
                rt.argerror(1, "cdata expected, got " .. type(p))
            end
            data[co] = p
        end
    end
end
