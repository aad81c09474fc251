-- lua-resty-core as ngx-explore provides it: `require "resty.core"` and its sub-modules
-- load (the API they install in OpenResty is already in ngx.*), plus the small ngx.*
-- modules of lua-resty-core that user code requires (ngx.base64, ngx.resp, ngx.process,
-- ngx.errlog) and ngx.get_phase.

return function(ngx, rt)
    local preload = package.preload
    local CTX_PHASE = {}
    for name, bit in pairs(rt.CTX) do CTX_PHASE[bit] = name end

    function ngx.get_phase()
        local state = rt.current()
        if state == nil then return "init" end
        return CTX_PHASE[state.context] or "init"
    end

    local core = { version = "0.1.25", _VERSION = "0.1.25" }
    preload["resty.core"] = function() return core end
    for _, name in ipairs({ "base", "regex", "hash", "uri", "time", "var", "ctx",
                            "request", "response", "shdict", "exit", "misc", "phase",
                            "worker", "ndk", "base64", "utils", "socket", "coroutine",
                            "param", "errlog" }) do
        preload["resty.core." .. name] = function()
            return { version = core.version }
        end
    end

    preload["ngx.base64"] = function()
        return {
            encode_base64url = function(s)
                return (ngx.encode_base64(s, true):gsub("+", "-"):gsub("/", "_"))
            end,
            decode_base64url = function(s)
                s = s:gsub("-", "+"):gsub("_", "/")
                local pad = #s % 4
                if pad > 0 then s = s .. string.rep("=", 4 - pad) end
                return ngx.decode_base64(s)
            end,
        }
    end

    preload["ngx.resp"] = function()
        return {
            add_header = function(name, value)
                local old = ngx.header[name]
                if old == nil then
                    ngx.header[name] = value
                elseif type(old) == "table" then
                    old[#old + 1] = value
                    ngx.header[name] = old
                else
                    ngx.header[name] = { old, value }
                end
            end,
        }
    end

    preload["ngx.balancer"] = function() return rt.balancer end

    preload["ngx.process"] = function()
        return {
            type = function() return "worker" end,
            get_master_pid = function() return ngx.worker.pid() end,
            enable_privileged_agent = function() return nil, "not modelled by ngx-explore" end,
        }
    end

    preload["ngx.errlog"] = function()
        return {
            raw_log = function(level, msg) ngx.log(level, msg) end,
            get_sys_filter_level = function() return ngx.ERR end,
            set_filter_level = function() return true end,
            get_logs = function() return {} end,
        }
    end
end
