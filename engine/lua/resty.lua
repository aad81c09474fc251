-- lua-resty-core as ngx-explore provides it: `require "resty.core"` and its sub-modules
-- load (the API they install in OpenResty is already in ngx.*), plus the small ngx.*
-- modules of lua-resty-core that user code requires (ngx.base64, ngx.resp, ngx.req,
-- ngx.process, ngx.errlog, ngx.pipe's refusal), the `ndk` global and ngx.get_phase.

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

    preload["ngx.req"] = function()
        return {
            version = core.version,
            add_header = function(name, value) rt.set_req_header(name, value, false) end,
        }
    end

    -- Debian's nginx lacks the patch ngx.pipe needs; it says so as the module loads
    preload["ngx.pipe"] = function()
        error("pipe API is not supported due to either a platform issue or lack of the "
              .. "HAVE_SOCKET_CLOEXEC_PATCH patch", 2)
    end

    -- ngx_lua's `ndk` global: Debian's build has no module with set_var directives
    -- (set-misc is not packaged), so every name is refused as resty.core's ndk.lua does
    rawset(_G, "ndk", {
        set_var = setmetatable({}, {
            __index = function(_, name)
                error('ndk.set_var: directive "' .. tostring(name)
                      .. '" not found or does not use ndk_set_var_value', 2)
            end,
        }),
    })

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
