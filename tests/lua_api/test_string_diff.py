"""Differential tests: ngx string/hash/encoding helpers in our VM vs real OpenResty."""

from __future__ import annotations

import pytest

from tests.lua_api.harness import normalize
from tests.oracle import requires_nginx

ALL = 'local s = "" for i = 0, 255 do s = s .. string.char(i) end '
CASES = [
    ALL + 'return ngx.escape_uri(s)',
    ALL + 'return ngx.escape_uri(s, 0)',
    ALL + 'return ngx.escape_uri(s, 1), ngx.escape_uri(s, 2)',
    ALL + 'return ngx.escape_uri(s, 3), ngx.escape_uri(s, 4)',
    ALL + 'return ngx.escape_uri(s, 5), ngx.escape_uri(s, 6)',
    'return pcall(ngx.escape_uri, "a", 7)',
    'return pcall(ngx.escape_uri, "a", "x")',
    'return ngx.escape_uri(nil), ngx.escape_uri(12), ngx.escape_uri(false), ngx.escape_uri()',
    'return ngx.unescape_uri("a%20b+c%2g%zz%%41%e9%2B%2b%C3%a9+%"), ngx.unescape_uri("%4")',
    'return ngx.unescape_uri(nil), ngx.unescape_uri(12)',
    ALL + 'return ngx.unescape_uri(ngx.escape_uri(s)) == s',
    'return ngx.md5("hello"), ngx.md5(""), ngx.md5(nil), ngx.md5(12), ngx.md5(false)',
    'return ngx.encode_base64(ngx.md5_bin("x")), ngx.encode_base64(ngx.sha1_bin("abc"))',
    'return ngx.crc32_short("hello"), ngx.crc32_long("hello"), ngx.crc32_short(""),'
    ' ngx.crc32_long(nil), ngx.crc32_long(string.rep("x", 1000))',
    'return ngx.encode_base64(ngx.hmac_sha1("key", "data")), ngx.hmac_sha1(12, 34) =='
    ' ngx.hmac_sha1("12", "34")',
    'return pcall(ngx.hmac_sha1, nil, "x")',
    'return pcall(ngx.hmac_sha1, "k")',
    'return ngx.encode_base64("hello"), ngx.encode_base64("hello", true), ngx.encode_base64(""),'
    ' ngx.encode_base64(nil), ngx.encode_base64(12), ngx.encode_base64("x", false)',
    'return pcall(ngx.encode_base64, "x", 1)',
    'return ngx.decode_base64("aGVsbG8="), ngx.decode_base64("aGVsbG8"), ngx.decode_base64("aGVsbG"),'
    ' ngx.decode_base64("a"), ngx.decode_base64("!!!!"), ngx.decode_base64("")',
    'return ngx.decode_base64("aGVs bG8="), ngx.decode_base64("aGVsbG8=="), ngx.decode_base64("a-_b")',
    'return ngx.decode_base64("aGVsbG8=x"), ngx.decode_base64("aGVsbA="), ngx.decode_base64("aGVsbB==")',
    'return ngx.decode_base64("===="), ngx.decode_base64("a==="), ngx.decode_base64("ab=c")',
    'return pcall(ngx.decode_base64, nil)',
    'return ngx.decode_base64(12)',
    'return ngx.quote_sql_str("a\'b\\"c\\\\d\\0e\\n\\r\\t\\26f\\8"), ngx.quote_sql_str(12)',
    'return pcall(ngx.quote_sql_str, nil)',
    'return pcall(ngx.quote_sql_str)',
    'return ngx.quote_sql_str({})',
    'return ngx.encode_args({a = 1}), ngx.encode_args({a = {1, 2, "x y"}}), ngx.encode_args({})',
    'return ngx.encode_args({a = true, b = false}), ngx.encode_args({["a b"] = "c&d=e"})',
    'return ngx.encode_args({a = {true, false}}), ngx.encode_args({a = {}}),'
    ' ngx.encode_args({a = "\\0\\255"}), ngx.encode_args({c = 1e20}), ngx.encode_args({b = -0})',
    'return ngx.encode_args({a = {n = "x"}})',
    'return pcall(ngx.encode_args, {a = function() end})',
    'return pcall(ngx.encode_args, {a = {{}}})',
    'return pcall(ngx.encode_args, {a = ngx.null})',
    'return pcall(ngx.encode_args, {[1] = "x"})',
    'return pcall(ngx.encode_args, {[true] = "x"})',
    'return pcall(ngx.encode_args, nil)',
    'return pcall(ngx.encode_args)',
    'return ngx.decode_args(ngx.encode_args({x = "1 2", y = {"a", "b"}, z = true}))',
    'return ngx.decode_args("a=1&b=2&a=3&c&d=&=e&f=x%20y+z")',
    'return ngx.decode_args("a=1&b=2&c=3", 2)',
    'return ngx.decode_args(""), ngx.decode_args("&&&"), ngx.decode_args("a=1&&b")',
    'return ngx.decode_args("a=1;b=2"), ngx.decode_args("a==b"), ngx.decode_args("a%3Db=c%26d")',
    'return ngx.decode_args("a=1&a&a="), ngx.decode_args("a+b=c+d"), ngx.decode_args("a=%zz&b=%4")',
    'return ngx.decode_args("&&&a=1", 2)',
    'return ngx.decode_args("=x&a=1&b=2", 2)',
    'return ngx.decode_args("a=1&b=2", 2), ngx.decode_args("a=1&b=2&", 2)',
    'return ngx.decode_args("a&=&b", 2), ngx.decode_args("=&a", 1)',
    'return ngx.decode_args("a=1&b=2", 0), ngx.decode_args("a=1&b=2", -1),'
    ' ngx.decode_args("a=1&b=2", 1.5)',
    'local s = {} for i = 1, 150 do s[#s+1] = "k" .. i .. "=" .. i end'
    ' local t, e = ngx.decode_args(table.concat(s, "&")) local n = 0'
    ' for _ in pairs(t) do n = n + 1 end return n, e',
    'return pcall(ngx.decode_args, nil)',
    'return pcall(ngx.decode_args, "a=1", "x")',
    'return pcall(ngx.decode_args)',
    'return ngx.decode_args(12.5)',
]


@requires_nginx
@pytest.mark.parametrize("code", CASES)
def test_string_matches_oracle(oracle, vm, code: str) -> None:
    expected = normalize(oracle.run(code))
    got = normalize(vm.run(code))
    assert got == expected, f"\nsnippet: {code}\noracle:  {expected}\nours:    {got}"
