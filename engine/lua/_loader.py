"""Loading this package's Lua sources into a lupa runtime.

Why a helper: every API family ships part of itself as Lua (to keep per-call work on
the Lua side of the boundary), and the chunks must be loaded with a stable chunk name
(``@engine/lua/NAME.lua``) so error positions look like library locations, never like
user code. The runtime is created with ``encoding=None``, so sources go in as bytes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def lua_source(name: str) -> bytes:
    """The bytes of ``engine/lua/<name>.lua`` (cached: read once per process)."""
    return (_HERE / f"{name}.lua").read_bytes()


def load_chunk(lua: Any, name: str) -> Any:
    """Compile ``engine/lua/<name>.lua`` in ``lua`` and return the chunk's return value.

    The chunk is expected to return a factory function; callers pass it the ``ngx`` table
    and the Python callables it closes over (kept as upvalues, never stored where user
    code can reach them through plain table access).
    """
    loader = lua.eval(b"function(src, name) return assert(loadstring(src, name))() end")
    return loader(lua_source(name), f"@engine/lua/{name}.lua".encode())
