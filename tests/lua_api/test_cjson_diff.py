"""Differential tests: cjson in our VM vs real OpenResty with Debian's lua-cjson 2.1.0.

Debian ships upstream lua-cjson 2.1.0, not OpenResty's 2.1.0.x fork, so the fork-only
features (empty_array, array_mt, ...) are covered by unit tests instead. Objects with
more than one key are compared after decoding, because key order follows each LuaJIT's
own table hash order.
"""

from __future__ import annotations

import pytest

from tests.lua_api.harness import normalize
from tests.oracle import requires_nginx

P = 'local c = require "cjson"; '
CASES = [
    P + 'return c.encode({1,2,3,nil,5}), c.encode({}), c.encode({a={}})',
    P + 'return c.encode("a/b\\"\\\\\\1\\127\\200")',
    P + 'return c.encode(0.1), c.encode(1/3), c.encode(1e15), c.encode(123456789012345)',
    P + 'return c.encode(-0), c.encode(2^53), c.encode(12.5), c.encode(-1e-7), c.encode(1e100)',
    P + 'return c.encode({"\\0", "\\31", "\\127", "\\195\\169", "\\\\", "\\b\\f\\n\\r\\t"})',
    P + 'return pcall(c.encode, {[1]=1,[100]=2})',
    P + 'return pcall(c.encode, {[1]=1,[11]=2})',
    P + 'return c.encode({[1]=1,[10]=2})',
    P + 'return pcall(c.encode, function() end)',
    P + 'return pcall(c.encode, {f=print})',
    P + 'return pcall(c.encode, 0/0)',
    P + 'return pcall(c.encode, {1/0})',
    P + 'return pcall(c.encode)',
    P + 'return pcall(c.encode, 1, 2)',
    P + 'return pcall(c.encode, {[true]=1})',
    P + 'return c.encode({[0]="a"}), c.encode({[1.5]=1}), c.encode({[-1]=1})',
    P + 'return c.encode({a=c.null}), c.encode(c.null), c.null == ngx.null',
    P + 'local t = {} local x = t for i=1,1001 do x[1] = {} x = x[1] end return pcall(c.encode, t)',
    P + 'local t = {} t[1] = t return pcall(c.encode, t)',
    P + 'return c.decode(c.encode({a=1,b={1,2,{c="d"}},e=true,f=false}))',
    P + 'return c.encode(c.decode("[1,\\"x\\",null,true,{}]"))',
    P + 'return c.encode_sparse_array(), c.encode_max_depth(), c.decode_max_depth()',
    P + 'return c.encode_number_precision(), c.encode_invalid_numbers(), c.decode_invalid_numbers()',
    P + 'c.encode_sparse_array(true); local r = c.decode(c.encode({[1]=1,[100]=2}));'
    ' c.encode_sparse_array(false); return r',
    P + 'c.encode_number_precision(3); local r = c.encode(math.pi); c.encode_number_precision(14);'
    ' return r',
    P + 'c.encode_invalid_numbers(true); local r = c.encode({1/0, -1/0});'
    ' c.encode_invalid_numbers(false); return r',
    P + 'c.encode_invalid_numbers("null"); local r = c.encode({1/0, -1/0, 0/0});'
    ' c.encode_invalid_numbers(false); return r',
    P + 'return pcall(c.encode_sparse_array, "x")',
    P + 'local c2 = c.new(); c2.encode_sparse_array(true);'
    ' return c.encode_sparse_array(), c2.encode_sparse_array()',
    P + 'return c.decode(\'{"a":[1,{"b":false}], "c": "\\\\u00e9\\\\/"}\')',
    P + 'return c.decode(\'"\\\\ud83d\\\\ude00"\'), c.decode(\'"\\\\u0000a"\')',
    P + 'return c.decode(\'"\\\\/\\\\b\\\\f\\\\n\\\\r\\\\t\\\\"\\\\\\\\"\')',
    P + 'return c.decode(" [ ] "), c.decode("null"), c.decode("{\\"a\\":null}")',
    P + 'return c.decode("01"), c.decode("0x10"), c.decode("1e5"), c.decode("+1"), c.decode("1.")',
    P + 'return c.decode("Infinity"), c.decode("-inf"), c.decode("0x1p3"), c.decode("-0")',
    P + 'return c.decode(123), c.decode("{\\"a\\":1,\\"a\\":2}")',
    P + 'return c.decode(string.rep("[", 1000) .. string.rep("]", 1000)) ~= nil',
]
ERRORS = ['', 'x', '{', '[1,', '[1 2]', '{"a" 1}', '{1:2}', '"abc', '"\\\\x"', '"\\\\u12"',
          '"\\\\ud800"', '"\\\\ud800x"', '"\\\\udc00"', '[1,]', '-', 'true x', 'tru', '1.5e',
          '.5', '+', '1e+', 'truex', 'infx', 'nanx', '-x', '- 1', '123abc', '[1,2,3',
          '{"a":1,}', '{"a":1 "b"}', '1\\0garbage', '"a\\0b"', '\\f1', '[1]]']
CASES += [P + f'return pcall(c.decode, "{e}")' for e in ERRORS]
CASES += [
    P + 'return pcall(c.decode, true)',
    P + 'return pcall(c.decode)',
    P + 'return pcall(c.decode, string.rep("[", 1001) .. string.rep("]", 1001))',
    'local c = require "cjson.safe"; return c.encode(print), c.decode("x")',
    'local c = require "cjson.safe"; return c.decode("[1")',
    'local c = require "cjson.safe"; return c.decode(true)',
    'local c = require "cjson.safe"; return pcall(c.decode)',
    'local c = require "cjson.safe"; return c.encode({a={1,2}}), c.decode("[1,2]")',
    P + 'return (require "cjson.safe").encode_sparse_array()',
]


@requires_nginx
@pytest.mark.parametrize("code", CASES)
def test_cjson_matches_oracle(oracle, vm, code: str) -> None:
    expected = normalize(oracle.run(code))
    got = normalize(vm.run(code))
    assert got == expected, f"\nsnippet: {code}\noracle:  {expected}\nours:    {got}"
