-- The pitfall of concept 13: callers get a reference to this module's table. Binding a
-- new table to their own variable leaves this one untouched; clear it in place instead.
local _M = {}
local entries = {}

function _M.add(entry)
    table.insert(entries, entry)
end

function _M.entries()
    return entries
end

function _M.clear()
    while #entries > 0 do
        table.remove(entries)
    end
end

return _M
