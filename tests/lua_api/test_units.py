"""Unit tests for the API families that need no oracle: OpenResty-only cjson features,
shared-dict expiry/eviction/sharing with a controlled clock, the cached clock, and
regex behaviour that must never leak Python into Lua."""

from __future__ import annotations

import pytest

from engine.lua import shdict
from engine.lua.regex import _compile_template
from engine.lua.shdict import SharedDictZone, parse_size
from engine.lua.time import Clock, cookie_time, http_time, parse_http_time
from tests.lua_api.harness import VM


class FakeTime:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture()
def fake() -> FakeTime:
    return FakeTime(1_000_000.0)


@pytest.fixture()
def vm(fake: FakeTime) -> VM:
    return VM(Clock(fake))


# -- cjson (OpenResty fork features) ---------------------------------------------------
def test_cjson_fork_features(vm: VM) -> None:
    code = '''local c = require "cjson"
    return c.encode(c.empty_array), c.encode({a = c.empty_array}),
        c.encode(setmetatable({}, c.array_mt)), c.encode(setmetatable({1, 2}, c.array_mt)),
        c.encode(setmetatable({}, c.empty_array_mt)), c.encode(setmetatable({x = 1}, c.empty_array_mt))'''
    assert vm.run(code) == 'true "[]" "{\\"a\\":[]}" "[]" "[1,2]" "[]" "{\\"x\\":1}"'


def test_cjson_config_switches(vm: VM) -> None:
    code = '''local c = (require "cjson").new()
    c.encode_empty_table_as_object(false)
    local a = c.encode({})
    c.encode_escape_forward_slash(false)
    local b = c.encode("a/b")
    c.decode_array_with_array_mt(true)
    local t = c.decode("[]")
    return a, b, getmetatable(t) == c.array_mt, c.encode(t), (require "cjson").encode("a/b")'''
    assert vm.run(code) == 'true "[]" "\\"a/b\\"" true "[]" "\\"a\\\\/b\\""'


def test_cjson_null_is_ngx_null_and_round_trips(vm: VM) -> None:
    code = '''local c = require "cjson"
    local t = c.decode('{"a":null,"b":[null]}')
    return t.a == ngx.null, t.b[1] == c.null, tostring(c.null), c.encode(t.b)'''
    assert vm.run(code) == 'true true true "userdata: NULL" "[null]"'


def test_cjson_errors_are_lua_errors(vm: VM) -> None:
    out = vm.run('local c = require "cjson" return pcall(c.decode, "{")')
    assert out == 'true false "Expected object key string but found T_END at character 2"'
    out = vm.run('local c = require "cjson" local v = c.decode(true) return v')
    assert out == 'false "snippet:1: bad argument #1 to \'decode\' (string expected, got boolean)"'


# -- shared dicts -----------------------------------------------------------------------
def test_parse_size() -> None:
    assert parse_size("10m") == 10 * 1024 * 1024
    assert parse_size("512k") == 512 * 1024
    assert parse_size("4096") == 4096


def test_shdict_expiry_follows_engine_clock(vm: VM, fake: FakeTime) -> None:
    d = 'local d = ngx.shared.dogs '
    assert vm.run(d + 'return d:set("k", "v", 1.5)') == "true true nil false"
    fake.t += 1.0
    vm.clock.update()
    assert vm.run(d + 'return d:get("k"), d:ttl("k")') == 'true "v" 0.5'
    fake.t += 1.0
    vm.run(d + 'return 1')
    assert vm.run(d + 'return d:get("k")') == "true \"v\""  # clock not updated yet: cached
    vm.clock.update()
    assert vm.run(d + 'return d:get_stale("k")') == 'true "v" nil true'
    assert vm.run(d + 'return d:ttl("k")') == "true -0.5"
    # get (unlike get_stale) first drops up to two expired entries at the LRU tail
    assert vm.run(d + 'return d:get("k")') == "true"
    assert vm.run(d + 'return d:get_stale("k"), d:ttl("k")') == 'true nil nil "not found"'
    assert vm.run(d + 'return d:add("k", 1), d:get("k")') == "true true 1"
    assert vm.run(d + 'return d:incr("n", 1, 0, 2), d:ttl("n")') == "true 1 2"
    fake.t += 3
    vm.clock.update()
    assert vm.run(d + 'return d:incr("n", 1)') == 'true nil "not found"'
    assert vm.run(d + 'return d:incr("n", 1, 10), d:flush_expired()') == "true 11 0"
    vm.run(d + 'd:set("x", 1, 0.5)')
    fake.t += 1
    vm.clock.update()
    assert vm.run(d + 'return d:flush_expired(), d:get_keys()') == 'true 1 {[1]="k",[2]="n"}'


def test_shdict_lru_eviction_reports_forcible(vm: VM) -> None:
    code = '''local d = ngx.shared.cats
    local n = 0
    while true do
        local ok, err, forcible = d:set("k" .. n, string.rep("x", 3000))
        if forcible then return n, ok, err, d:get("k0"), d:get("k1") ~= nil end
        n = n + 1
    end'''
    out = vm.run(code)
    assert out.startswith("true 125 true nil nil true"), out


def test_shdict_safe_set_does_not_evict(vm: VM) -> None:
    code = '''local d = ngx.shared.cats
    for i = 1, 125 do d:set("k" .. i, string.rep("x", 3000)) end
    return d:safe_set("z", string.rep("x", 3000)), d:free_space()'''
    assert vm.run(code) == 'true false 0'


def test_shdict_is_shared_between_vms(fake: FakeTime) -> None:
    clock = Clock(fake)
    one = VM(clock)
    two = VM(clock)
    zones = one.zones
    # a second VM on the same zones object
    shdict.install(two.lua, two.ngx, zones, clock)
    one.run('ngx.shared.dogs:set("shared", 42)')
    assert two.run('return ngx.shared.dogs:get("shared")') == "true 42"
    assert two.run('return ngx.shared.dogs:incr("shared", 1)') == "true 43"
    assert one.run('return ngx.shared.dogs:get("shared")') == "true 43"


def test_shdict_zone_python_api() -> None:
    z = SharedDictZone("z", 1024 * 1024)
    assert z.free_space() == 1032192
    assert z.store(0, b"a", 4, b"x" * 100, 0, 0, now=0) == (True, None, False)
    assert z.get(b"a", False, now=0) == (b"x" * 100, 0, False)
    assert z.push(b"l", b"v", True, False, now=0) == (1,)
    assert z.pop(b"l", False, now=0) == (b"v",)
    assert z.llen(b"l", now=0) == (0,)


# -- time -----------------------------------------------------------------------------
def test_clock_is_cached_until_update(vm: VM, fake: FakeTime) -> None:
    fake.t = 1_290_079_655.1239
    vm.clock.update()
    assert vm.run("return ngx.now(), ngx.time()") == "true 1290079655.1229999 1290079655" \
        or vm.run("return ngx.now()").startswith("true 1290079655.12")
    fake.t += 5
    assert vm.run("return ngx.time()") == "true 1290079655"
    assert vm.run("ngx.update_time() return ngx.time()") == "true 1290079660"
    assert vm.run("return ngx.utctime()") == 'true "2010-11-18 11:27:40"'


def test_time_formats() -> None:
    assert http_time(1290079655) == b"Thu, 18 Nov 2010 11:27:35 GMT"
    assert cookie_time(2200000000) == b"Sun, 18-Sep-2039 23:06:40 GMT"
    assert parse_http_time(b"Sun Nov  6 08:49:37 1994") == 784111777
    assert parse_http_time(b"Sunday, 06-Nov-94 08:49:37 GMT") == 784111777
    assert parse_http_time(b"nonsense") is None


# -- regex ----------------------------------------------------------------------------
def test_template_parser() -> None:
    assert _compile_template(b"a$1b${2}$$") == [b"a", 1, b"b", 2, b"$"]
    assert _compile_template(b"${x}") is None
    assert _compile_template(b"$") is None


def test_regex_bytes_and_offsets_are_bytes(vm: VM) -> None:
    code = 'return ngx.re.find("\\195\\169t\\195\\169", "t", "u"), ngx.re.match("\\195\\169", ".", "u")[0]'
    assert vm.run(code) == 'true 3 "\xc3\xa9"'


def test_regex_never_leaks_python(vm: VM) -> None:
    for code in ('return pcall(ngx.re.match, {}, "a")', 'return pcall(ngx.re.match, "a", {})',
                 'return pcall(ngx.re.gsub, "a", "a", {})', 'return pcall(ngx.re.find, "a", "a", "",'
                 ' nil, "x")', 'return pcall(ngx.re.sub, "a", "(", "x")'):
        out = vm.run(code)
        assert "Traceback" not in out and "Error(" not in out and "python" not in out.lower(), out


def test_regex_compiles_once(vm: VM) -> None:
    vm.run('for i = 1, 50 do ngx.re.match("abc" .. i, "b(c)", "jo") end')
    vm.run('for i = 1, 50 do ngx.re.gsub("abc" .. i, "b(c)", "$1", "jo") end')
    assert len(vm.regex.codes) == 1
