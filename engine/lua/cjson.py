"""``cjson`` and ``cjson.safe`` (lua-cjson 2.1.0.x as bundled by OpenResty).

Why pure Lua (``engine/lua/cjson.lua``): encoding walks Lua tables and decoding builds
them, so a Python implementation would cross the lupa boundary per value; in Lua a whole
encode/decode costs no crossing at all. This module only loads the chunk and registers
``package.preload["cjson"]`` / ``["cjson.safe"]`` so ``require "cjson"`` works.

``cjson.null`` is the VM's ``ngx.null`` (in OpenResty both are the NULL light userdata,
so they compare equal). If ``ngx.null`` is not set yet, a stand-in userdata printing as
``userdata: NULL`` is created and stored as ``ngx.null``; install the runtime's own
``ngx.null`` before calling :func:`install` to keep one sentinel.

Known differences from the C library: object key order is this VM's ``pairs()`` order
(the C library emits ``lua_next()`` order of *its* LuaJIT, which seeds string hashes per
process: two starts of the same nginx already order keys differently);
``encode_keep_buffer`` is accepted but has no effect; decoding follows glibc ``strtod``
for number syntax as checked on the oracle (``+1``, ``0x10``, ``inf``, ``nan`` accepted).
"""

from __future__ import annotations

from typing import Any

from engine.lua._loader import load_chunk

_NULL_LUA = b"""
local ngx = ...
if ngx.null == nil then
    local null = newproxy(true)
    getmetatable(null).__tostring = function() return "userdata: NULL" end
    ngx.null = null
end
return ngx.null
"""


def install(lua: Any, ngx: Any) -> None:
    """Register ``cjson`` and ``cjson.safe`` in ``package.preload`` of this VM."""
    null = lua.execute(_NULL_LUA, ngx)
    factory = load_chunk(lua, "cjson")
    factory(ngx, null)
