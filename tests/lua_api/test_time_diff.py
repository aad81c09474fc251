"""Differential tests: ngx time functions in our VM vs real OpenResty (fixed inputs only)."""

from __future__ import annotations

import pytest

from tests.lua_api.harness import normalize
from tests.oracle import requires_nginx

CASES = [
    'return ngx.http_time(0), ngx.http_time(1290079655), ngx.http_time(-1), ngx.http_time(1.9)',
    'return ngx.http_time(-62135596800), ngx.http_time(253402300799), ngx.http_time(951782400)',
    'return ngx.cookie_time(0), ngx.cookie_time(1290079655), ngx.cookie_time(2200000000),'
    ' ngx.cookie_time(4102444800), ngx.cookie_time(2145916800)',
    'return pcall(ngx.http_time, "12")',
    'return pcall(ngx.cookie_time, nil)',
    'return ngx.http_time("12")',
    'return ngx.parse_http_time("Thu, 18 Nov 2010 11:27:35 GMT"),'
    ' ngx.parse_http_time("Thursday, 18-Nov-10 11:27:35 GMT"),'
    ' ngx.parse_http_time("Thu Nov 18 11:27:35 2010")',
    'return ngx.parse_http_time("Thu Nov  8 11:27:35 2010"), ngx.parse_http_time("Thu, 18 Nov'
    ' 2010 11:27:35"), ngx.parse_http_time("Xyz, 18 Nov 2010 11:27:35 GMT")',
    'local r = {} for i, s in ipairs({"18 Nov 2010 11:27:35 GMT", "garbage", "",'
    ' "Thu, 31 Feb 2010 11:27:35 GMT", "Thu, 18 Nov 2010 25:27:35 GMT",'
    ' "Thu, 18 nov 2010 11:27:35 GMT", "Thu, 1 Nov 2010 11:27:35 GMT",'
    ' "Thu, 18-Nov-2010 11:27:35 GMT", "Thu, 29 Feb 2011 00:00:00 GMT",'
    ' "Thu, 29 Feb 2012 00:00:00 GMT", "Thu, 29 Feb 1900 00:00:00 GMT",'
    ' "Thu, 18 Nov 2010 11:60:35 GMT", "Thu, 18 Jun 2010 11:27:35 GMT",'
    ' "Thu, 18 Jul 2010 11:27:35 GMT", "Thu, 18 Aug 2010 11:27:35 GMT",'
    ' "Thu, 18 Apr 2010 11:27:35 GMT", "Thu, 18 Mar 2010 11:27:35 GMT",'
    ' "Thu, 18 May 2010 11:27:35 GMT", "Thu, 00 Jan 2010 00:00:00 GMT",'
    ' "Sunday, 06-Nov-69 08:49:37 GMT", "Sun Nov 6 08:49:37 1994"}) do'
    ' r[i] = ngx.parse_http_time(s) or false end return r',
    'return ngx.parse_http_time("Thu, 18 Nov 1969 11:27:35 GMT"),'
    ' ngx.parse_http_time("Fri, 31 Dec 9999 23:59:59 GMT"),'
    ' ngx.parse_http_time("Thu, 18 Nov 2010 11:27:35 GMTx")',
    'return pcall(ngx.parse_http_time, 12)',
    'return ngx.parse_http_time(nil)',
    'return type(ngx.now()), type(ngx.time()), #ngx.today(), #ngx.localtime(), #ngx.utctime(),'
    ' ngx.now() - ngx.time() < 1, ngx.now() >= ngx.time(), ngx.update_time()',
    # the cached clock is never ahead of the system's (a second may tick in between)
    'ngx.update_time() local d, u, l = os.date("%Y-%m-%d"), os.date("!%Y-%m-%d %H:%M:%S"),'
    ' os.date("%Y-%m-%d %H:%M:%S") return ngx.today() <= d, ngx.utctime() <= u,'
    ' ngx.localtime() <= l',
    'return ngx.parse_http_time(ngx.http_time(1234567890)), ngx.parse_http_time('
    'ngx.cookie_time(1234567890))',
]


@requires_nginx
@pytest.mark.parametrize("code", CASES)
def test_time_matches_oracle(oracle, vm, code: str) -> None:
    vm.clock.update()
    expected = normalize(oracle.run(code))
    got = normalize(vm.run(code))
    assert got == expected, f"\nsnippet: {code}\noracle:  {expected}\nours:    {got}"
