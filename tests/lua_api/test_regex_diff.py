"""Differential tests: ngx.re.* in our VM vs real OpenResty (ngx_lua 0.10.23 + resty.core)."""

from __future__ import annotations

import pytest

from tests.lua_api.harness import normalize
from tests.oracle import requires_nginx

CASES = [
    # match: captures, unmatched groups, options
    'return ngx.re.match("hello, 1234", "([0-9])[0-9]+")',
    'return ngx.re.match("abc", "(b)(x)?")',
    'return ngx.re.match("abc", "x")',
    'return ngx.re.match("aXb", "x", "i")',
    'return ngx.re.match("a\\nb", "^b", "m"), ngx.re.match("a\\nb", "^b")',
    'return ngx.re.match("a\\nb", "a.b", "s"), ngx.re.match("a\\nb", "a.b")',
    'return ngx.re.match("ab", "a b # c", "x")',
    'return ngx.re.match("ab", "a", "jo"), ngx.re.match("xab", "a", "a")',
    'return ngx.re.match("aaa", "a+?", "d"), ngx.re.match("aaa", "(a)+?", "d")',
    'return ngx.re.match("abcabc", "(b)(c)", "d")',
    'return ngx.re.match(nil, "n")',
    'return ngx.re.match(123, "2")',
    'return ngx.re.match("", "^$")',
    'return ngx.re.match("\\226\\130\\172x", "^.", "u")',
    'return ngx.re.match("\\226\\130\\172x", "^.")',
    'return ngx.re.match("\\195\\169", "\\\\w", "u")',
    'return ngx.re.match("a\\255", "a.", "u")',
    'return ngx.re.match("a\\0b", "a\\0b")',
    # named captures
    'return ngx.re.match("abc", "(?<x>a)|(?<y>b)")',
    'return ngx.re.match("2024-05", "(?<y>\\\\d+)-(?<m>\\\\d+)")',
    'return ngx.re.match("ab", "(?<x>a)(?<x>b)", "D")',
    'return ngx.re.match("b", "(?<x>a)?(?<x>b)", "D")',
    'return ngx.re.match("b", "(?:(?<x>a)|(?<x>b))", "D")',
    'return ngx.re.match("ab", "(?P<first>a)(?\'second\'b)")',
    # ctx.pos and res table
    'local ctx={pos=2}; local m,e = ngx.re.match("abcb", "b", "a", ctx); return m,e,ctx.pos',
    'local ctx={pos=1}; local m,e = ngx.re.match("abcb", "b", "a", ctx); return m,e,ctx.pos',
    'local ctx={}; local m,e = ngx.re.match("abcb", "b", "", ctx); return m,e,ctx.pos',
    'local ctx={pos=10}; local m,e = ngx.re.match("abc", "b", nil, ctx); return m,e,ctx.pos',
    'local ctx={pos=4}; local m,e = ngx.re.match("abc", "", nil, ctx); return m,e,ctx.pos',
    'local ctx={pos=2}; local m,e = ngx.re.match("\\226\\130\\172x", ".", "u", ctx);'
    ' return m,e,ctx.pos',
    'local r={9,9,9,9,x=1}; local m = ngx.re.match("abc", "(a)(b)", "", nil, r);'
    ' return m==r, m',
    # errors
    'return ngx.re.match("abc", "(abc")',
    'return ngx.re.match("abc", "[a")',
    'return ngx.re.match("abc", "a{3,1}")',
    'return ngx.re.match("abc", "*a")',
    'return ngx.re.match("abc", "a)")',
    'return ngx.re.match("abc", "\\\\")',
    'return ngx.re.match("abc", "(?<1a>x)")',
    'return ngx.re.match("abc", "(?<x>a)(?<x>b)")',
    'return ngx.re.match("abc", "\\255", "u")',
    'return ngx.re.match("abc", "a", "z")',
    'return ngx.re.match("abc", nil)',
    'return ngx.re.match("abc", 12)',
    'return ngx.re.match("abc", "a", 1)',
    'return ngx.re.find("abc", "(abc")',
    'return ngx.re.gmatch("abc", "(abc")',
    'return ngx.re.sub("abc", "(abc", "x")',
    # find
    'return ngx.re.find("hello, 1234", "[0-9]+")',
    'return ngx.re.find("hello, 1234", "([0-9])([0-9]+)", "jo", nil, 2)',
    'return ngx.re.find("hello, 1234", "([0-9])([0-9]+)", "", nil, 3)',
    'return ngx.re.find("hello", "(x)?h", "", nil, 1)',
    'return ngx.re.find("hello", "h", "", nil, -1)',
    'return ngx.re.find("hello", "z")',
    'return ngx.re.find("", "")',
    'local ctx = {pos = 3}; return ngx.re.find("abab", "b", "", ctx), ctx.pos',
    # gmatch
    'local out = {} for m in ngx.re.gmatch("hello, world", "([a-z])[a-z]+") do'
    ' out[#out+1] = m end return out',
    'local out = {} for m in ngx.re.gmatch("abc", "") do out[#out+1] = m[0] end return out',
    'local out = {} for m in ngx.re.gmatch("aXbxc", "x", "i") do out[#out+1] = m[0] end'
    ' return out',
    'local it = ngx.re.gmatch("ab", "(?<c>.)"); return it(), it(), it(), it()',
    'local it = ngx.re.gmatch("ab", "a"); return type(it)',
    # sub / gsub with templates
    'return ngx.re.sub("hello, world", "([a-z])[a-z]+", "[$0,$1]")',
    'return ngx.re.gsub("hello, world", "([a-z])[a-z]+", "[$0,$1]")',
    'return ngx.re.gsub("hello, world", "([a-z])[a-z]+", "${1}00")',
    'return ngx.re.gsub("abc", "b", "$$")',
    'return ngx.re.gsub("abc", "(b)", "[$11]")',
    'return ngx.re.gsub("abc", "(b)", "[$2]")',
    'return ngx.re.gsub("abc", "(?<n>b)", "[${n}]")',
    'return ngx.re.gsub("abc", "(b)", "[$]")',
    'return ngx.re.gsub("abc", "(b)", "[${1]")',
    'return ngx.re.gsub("abc", "(b)", "$a")',
    'return ngx.re.gsub("abc", "", "-")',
    'return ngx.re.gsub("xab", "x*", "-")',
    'return ngx.re.gsub("abc", "x", "-")',
    'return ngx.re.gsub("a.b.c", "\\\\.", "")',
    'return ngx.re.sub("abc", "(b)", 12)',
    'return ngx.re.sub("abc", "(b)", nil)',
    'return ngx.re.gsub("\\195\\169t\\195\\169", "", "-", "u")',
    'return ngx.re.gsub(nil, "n", "N")',
    # function replacements
    'return ngx.re.gsub("hello, world", "([a-z])[a-z]+", function(m)'
    ' return "[" .. m[0] .. "," .. m[1] .. "]" end)',
    'return ngx.re.sub("abc", "(?<x>b)", function(m) return m.x .. m[1] end)',
    'return ngx.re.gsub("abc", "b", function(m) return nil end)',
    'return ngx.re.gsub("abc", "(b)|(c)", function(m) return tostring(m[1]) .. tostring(m[2])'
    ' end)',
    'return ngx.re.gsub("abc", "", function(m) return "." end)',
    # split
    'local s = require "ngx.re".split; return s("a,b,c,d", ",")',
    'local s = require "ngx.re".split; return s("a,b,c,d", "(,)")',
    'local s = require "ngx.re".split; return s("a,b,c,d", ",", nil, nil, 2)',
    'local s = require "ngx.re".split; return s("a,b,,,", ",")',
    'local s = require "ngx.re".split; return s(",a,,b", ",")',
    'local s = require "ngx.re".split; return s("abcd", "")',
    'local s = require "ngx.re".split; return s("abcd", "", nil, nil, 3)',
    'local s = require "ngx.re".split; return s("a1b22c", "\\\\d*")',
    'local s = require "ngx.re".split; return s("a,b,c", ",", nil, {pos = 3})',
    'local s = require "ngx.re".split; return s("a,b", ",", nil, nil, nil, {"x", "y", "z", "w"})',
    'local s = require "ngx.re".split; return s("a,b", "(", nil)',
    'local s = require "ngx.re".split; return s("", ",")',
    'local s = require "ngx.re".split; return s("a,b", ",", nil, nil, nil, "x")',
    'local s = require "ngx.re".split; return s("a-b_c", "(-)|(_)")',
    'local m = require "ngx.re"; return pcall(m.opt, "nope", 1)',
]


@requires_nginx
@pytest.mark.parametrize("code", CASES)
def test_regex_matches_oracle(oracle, vm, code: str) -> None:
    expected = normalize(oracle.run(code))
    got = normalize(vm.run(code))
    assert got == expected, f"\nsnippet: {code}\noracle:  {expected}\nours:    {got}"
