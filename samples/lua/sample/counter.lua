-- Module state lives as long as the worker's Lua VM: every request served by this worker
-- sees the same `hits`. (With lua_code_cache off, each request would load it afresh.)
local util = require "sample.util"

local _M = {}
local hits = 0

function _M.bump()
    hits = hits + 1
    return hits
end

function _M.describe()
    return "kept in " .. util.worker_label()
end

return _M
