-- A helper module that sample.counter requires (concept 13: one module requiring another).
local _M = {}

function _M.worker_label()
    return "worker " .. ngx.worker.id() .. " of " .. ngx.worker.count()
end

return _M
