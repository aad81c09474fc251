"""ngx_lua in Python: the Lua runtime and the ngx.* API families (one module per family)."""
