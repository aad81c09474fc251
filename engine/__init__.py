"""ngx-explore's engine: nginx + ngx_lua modelled in Python, one traced request at a time."""
