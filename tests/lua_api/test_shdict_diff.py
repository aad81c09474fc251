"""Differential tests: ngx.shared.DICT conventions in our VM vs real OpenResty.

Every snippet starts from an empty ``cats`` (512k) or ``dogs`` (1m) zone, so the cases
are independent of order. Expiry is covered by unit tests with a controlled clock.
"""

from __future__ import annotations

import pytest

from tests.lua_api.harness import normalize
from tests.oracle import requires_nginx

C = 'local d = ngx.shared.cats; d:flush_all(); d:flush_expired(); '
D = 'local d = ngx.shared.dogs; d:flush_all(); d:flush_expired(); '
CASES = [
    D + 'return d:capacity(), d:free_space(), ngx.shared.cats:capacity()',
    C + 'return d:free_space()',
    D + 'local n = 0 while true do local ok, err, forcible = d:set("k" .. n, string.rep("x", 100))'
    ' if forcible or not ok then return n, ok, err, forcible, d:free_space() end n = n + 1 end',
    D + 'return d:set("big", string.rep("x", 2000000))',
    D + 'return d:safe_set("big", string.rep("x", 2000000))',
    C + 'return d:set("a", 1, 0, 7), d:get("a")',
    C + 'return d:set("b", true), d:get("b"), d:set("c", "s", 0, 1), d:get("c"), d:get("zz")',
    C + 'return d:set("f", 1.5), d:get("f"), d:set("n", nil), d:get("n"), d:set("i", 1/0), d:get("i")',
    C + 'return d:set("f", "v", 0, 3), d:get("f"), d:get_stale("f"), d:set("g", "v", 0, 0), d:get("g")',
    C + 'return d:set("x", {})',
    C + 'return d:set(nil, 1)',
    C + 'return d:set("", 1)',
    C + 'return d:get(nil)',
    C + 'return d:get("")',
    C + 'return d:set(string.rep("k", 65536), 1)',
    C + 'return d:set(12, 1), d:get(12), d:get("12")',
    C + 'return pcall(d.set, d, "t", 1, -1)',
    C + 'return pcall(d.get, "x")',
    C + 'return d:add("a", 1), d:add("a", 2)',
    C + 'return d:replace("zz", 1)',
    C + 'd:add("a", 1) return d:replace("a", 3), d:get("a"), d:safe_add("a", 1)',
    C + 'd:set("a", 1) return d:safe_set("b", 2), d:delete("a"), d:delete("nope"), d:get("a")',
    C + 'return d:incr("c", 1)',
    C + 'return d:incr("c", 1, 10), d:incr("c", 5), d:incr("c", 1.5, 0, 100), d:ttl("c")',
    C + 'd:set("s", "x") return d:incr("s", 1)',
    C + 'return d:incr("nope", "2", 0)',
    C + 'return pcall(d.incr, d, "c", 1, "x")',
    C + 'return pcall(d.incr, d, "c", 1, nil, 10)',
    C + 'return d:lpush("l", 1), d:rpush("l", "b"), d:lpush("l", "a"), d:llen("l"), d:lpop("l"),'
    ' d:rpop("l"), d:llen("l"), d:lpop("l"), d:lpop("l"), d:llen("l"), d:get("l")',
    C + 'd:set("s", 1) return d:lpush("s", 1)',
    C + 'd:set("s", 1) return d:llen("s")',
    C + 'd:set("s", 1) return d:lpop("s")',
    C + 'return d:rpop("nope"), d:llen("nope")',
    C + 'd:lpush("L", 1) return d:get("L")',
    C + 'd:lpush("L", 1) return d:incr("L", 1)',
    C + 'd:lpush("L", 1) return d:get_stale("L")',
    C + 'return d:lpush("x", {})',
    C + 'return d:lpush("x", true)',
    C + 'return d:lpush(nil, 1)',
    C + 'return d:lpush("", 1)',
    C + 'return pcall(d.lpush, d, "a")',
    C + 'return pcall(d.llen, d)',
    C + 'd:set("a", 1) d:set("b", 2) d:set("c", 3) d:get("a")'
    ' return d:get_keys(), d:get_keys(2), d:get_keys(0)',
    C + 'd:set("a", 1, 0, 5) d:flush_all() return d:get("a"), d:get_stale("a"), d:get_keys(),'
    ' d:ttl("a"), d:flush_expired()',
    C + 'return d:ttl("nope")',
    C + 'return d:set("t", 1, 100), d:ttl("t"), d:set("u", 1), d:ttl("u"), d:expire("u", 5),'
    ' d:ttl("u"), d:expire("u", 0), d:ttl("u")',
    C + 'return d:expire("nope", 1)',
    C + 'return pcall(d.expire, d, "u")',
    C + 'return pcall(d.get_keys, d, "x")',
    C + 'return pcall(d.flush_expired, d, "x")',
    C + 'd:set("a", 1) d:set("a", nil) return d:get("a"), d:get_keys()',
    C + 'return ngx.shared.nope, type(ngx.shared.cats), ngx.shared.cats == ngx.shared.cats',
    C + 'return d:set("a", "x", 0, 2^31), d:get("a")',
    D + 'd:set("a", 1) local f0 = d:free_space() for i = 1, 100 do d:set("k" .. i,'
    ' string.rep("x", 1000)) end return f0 - d:free_space()',
    # flush_all leaves most entries in place, expired: expire finds one and revives it;
    # get (not get_stale), llen, lpop and rpop first drop up to two expired entries at
    # the LRU tail, as writes do
    *[C + 'for i = 1, 6 do d:set("k" .. i, i) end d:flush_all()'
      f' local r = {{d:expire("k6", 0), d:get_stale("k4"), {op}}}'
      ' for i = 1, 6 do r[#r + 1] = d:get_stale("k" .. i) or "-" end'
      ' r[#r + 1] = d:ttl("k6") return unpack(r)'
      for op in ('d:get("k6")', 'd:get_stale("k6")', 'd:llen("x")', 'd:lpop("x")',
                 'd:rpop("x")', 'd:ttl("x")', 'd:expire("k5", 5)')],
    # an entry too big: the write drops two expired entries, then evicts the rest by
    # force (forcible is true) and still finds no room
    C + 'for i = 1, 6 do d:set("k" .. i, i) end d:flush_all()'
    ' local ok, err, forcible = d:add("big", string.rep("v", 600000))'
    ' return ok, err, forcible, d:get_stale("k6")',
    # a new list's node is allocated without evicting anything (set would evict)
    C + 'local n = 0 while d:safe_set("k" .. n, string.rep("v", 300)) do n = n + 1 end'
    ' local ok, err = d:lpush(string.rep("L", 1500), 1) local left = 0'
    ' for i = 0, n - 1 do if d:get_stale("k" .. i) then left = left + 1 end end'
    ' return ok, err, n - left',
]


@requires_nginx
@pytest.mark.parametrize("code", CASES)
def test_shdict_matches_oracle(oracle, vm, code: str) -> None:
    expected = normalize(oracle.run(code))
    got = normalize(vm.run(code))
    assert got == expected, f"\nsnippet: {code}\noracle:  {expected}\nours:    {got}"
