-- ngx.socket.udp (ngx_http_lua_socket_udp.c) for ngx-explore: argument checks here,
-- the datagram socket in Python (socket_udp.py); setpeername, send and receive yield a
-- "socket" operation the driver carries out on the event loop.

return function(ngx, rt, py)
    local type, tonumber, select, error, setmetatable, unpack, floor =
        type, tonumber, select, error, setmetatable, unpack, math.floor
    local argerr, request_context, io, payload =
        rt.socket_argerr, rt.socket_check, rt.socket_io, rt.socket_payload

    local function results(res) return unpack(res, 2, res.n) end

    local mt = {}
    mt.__index = mt

    function mt.setpeername(self, ...)
        local n = select("#", ...) + 1
        if n ~= 2 and n ~= 3 then
            error("ngx.socket.udp setpeername: expecting 2 or 3 arguments (including the "
                  .. "object), but seen " .. n, 2)
        end
        request_context()
        local host, port = ...
        local th = type(host)
        if th ~= "string" and th ~= "number" then argerr(2, "string expected, got " .. th) end
        if n == 3 then
            port = tonumber(port)
            if port == nil then argerr(3, "number expected, got " .. type((select(2, ...)))) end
            port = floor(port)
            if port < 0 or port > 65535 then return nil, "bad port number: " .. port end
        end
        if self[1] == nil then self[1] = py.udp_new() end
        return results(io("udp_connect", self[1], tostring(host), port))
    end

    function mt.send(self, ...)
        local n = select("#", ...) + 1
        if n ~= 2 then
            error("expecting 2 arguments (including the object), but got " .. n, 2)
        end
        if self[1] == nil then return py.udp_never("send") end
        local data, err = payload((...))
        if data == nil then argerr(2, err) end
        request_context()
        return results(io("udp_send", self[1], data))
    end

    function mt.receive(self, ...)
        local n = select("#", ...) + 1
        if n ~= 1 and n ~= 2 then
            error("expecting 1 or 2 arguments (including the object), but got " .. n, 2)
        end
        local size = 0
        if n == 2 then
            size = tonumber((...))
            if size == nil then argerr(2, "number expected, got " .. type((...))) end
            size = floor(size)
        end
        if self[1] == nil then return py.udp_never("receive") end
        request_context()
        return results(io("udp_receive", self[1], size, self[2] or 0))
    end

    function mt.settimeout(self, ...)
        local n = select("#", ...) + 1
        if n ~= 2 then
            error("ngx.socket settimout: expecting at least 2 arguments (including the "
                  .. "object) but seen " .. n, 2)
        end
        self[2] = floor(tonumber((...)) or 0)
    end

    function mt.close(self, ...)
        local n = select("#", ...) + 1
        if n ~= 1 then
            error("expecting 1 argument (including the object) but seen " .. n, 2)
        end
        if self[1] == nil then return nil, "closed" end
        return py.udp_close(self[1])
    end

    function ngx.socket.udp(...)
        local n = select("#", ...)
        if n ~= 0 then error("expecting zero arguments, but got " .. n, 2) end
        request_context()
        return setmetatable({}, mt)
    end
end
