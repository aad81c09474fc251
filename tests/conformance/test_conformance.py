"""The differential scenarios of every area, over real sockets: real nginx + ngx_lua on
one side, ``ngx-explore serve``'s listener on the other, the same raw request bytes to
both, the replies compared (status, headers that matter, body); ports are normalised
since the two servers listen on different ones.

Areas reuse the scenario lists the in-process differential tests define, so a scenario
added there is checked here too.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

import pytest

from tests.core.conftest import with_mime_types
from tests.differential import Reply, Req, parse_reply
from tests.oracle import HAVE_NGINX, RealNginx
from tests.server.harness import Served



def _core() -> tuple[str, dict, list[Req]]:
    m = importlib.import_module("tests.core.test_core_diff")
    return m.CONF, with_mime_types(m.FILES), [req for _, req in m.CASES]


def _core_more() -> tuple[str, dict, list[Req]]:
    m = importlib.import_module("tests.core.test_core_more_diff")
    return m.CONF, with_mime_types(m.FILES), [req for _, req in m.CASES]


def _charset() -> tuple[str, dict, list[Req]]:
    m = importlib.import_module("tests.core.test_charset_diff")
    return m.CONF, with_mime_types(m.FILES), [req for _, req in m.CASES]


def _locations() -> tuple[str, dict, list[Req]]:
    m = importlib.import_module("tests.core.test_locations_diff")
    return m.CONF, {}, [req for _, req in m.CASES]


def _range() -> tuple[str, dict, list[Req]]:
    m = importlib.import_module("tests.core.test_range_diff")
    return m.CONF, with_mime_types(m.FILES), [req for _, req in m.CASES]


def _map() -> tuple[str, dict, list[Req]]:
    m = importlib.import_module("tests.core.test_map_diff")
    return m.CONF, {}, [req for _, req in m.CASES]


def _servers() -> tuple[str, dict, list[Req]]:
    m = importlib.import_module("tests.core.test_servers_diff")
    return m.CONF, dict(m.FILES), [req for _, req in m.CASES]


def _module(module: str) -> tuple[str, dict, list[Req]]:
    """A differential module of (name, Req) CASES, its CONF and FILES."""
    m = importlib.import_module(module)
    return m.CONF, with_mime_types(getattr(m, "FILES", {})), [req for _, req in m.CASES]


def _lua(module: str) -> tuple[str, dict, list[Req]]:
    m = importlib.import_module(module)
    from tests.lua.cases import request_for
    return m._conf(), {}, [request_for(i, c) for i, c in enumerate(m.CASES)]


AREAS = {
    "core": _core,
    "servers": _servers,
    "map": _map,
    "range": _range,
    "locations": _locations,
    "charset": _charset,
    "core-more": _core_more,
    "lua-output": lambda: _lua("tests.lua.test_lua_output_diff"),
    "lua-phases": lambda: _lua("tests.lua.test_lua_phases_diff"),
    "lua-more": lambda: _lua("tests.lua.test_lua_more_diff"),
    "lua-third": lambda: _lua("tests.lua.test_lua_third_diff"),
    "lua-libs": lambda: _lua("tests.lua.test_lua_libs_diff"),
    "lua-edge": lambda: _lua("tests.lua.test_lua_edge_diff"),
    "lua-http10": lambda: _lua("tests.lua.test_lua_http10_diff"),
    "lua-special": lambda: _lua("tests.lua.test_lua_special_diff"),
    "lua-fourth": lambda: _lua("tests.lua.test_lua_fourth_diff"),
    "lua-coroutine": lambda: _lua("tests.lua.test_lua_coroutine_diff"),
    "rewrite-script": lambda: _module("tests.core.test_rewrite_script_diff"),
    "user-agent": lambda: _module("tests.core.test_user_agent_diff"),
    "audit": lambda: _module("tests.core.test_audit_diff"),
    "auth-basic": lambda: _module("tests.core.test_auth_basic_diff"),
    "gzip": lambda: _module("tests.core.test_gzip_diff"),
    "sub-filter": lambda: _module("tests.core.test_sub_filter_diff"),
    "realip-geo": lambda: _module("tests.core.test_realip_geo_diff"),
}

def _params() -> list:
    out = []
    for area, make in AREAS.items():
        for i, _ in enumerate(make()[2]):
            out.append(pytest.param(area, i, id=f"{area}:{i}"))
    return out


_SERVERS: dict[str, tuple] = {}


@pytest.fixture(scope="module")
def servers():
    opened = []
    def get(area: str):  # type: ignore[no-untyped-def]
        if area not in _SERVERS:
            conf, files, reqs = AREAS[area]()
            real = RealNginx(conf, files).__enter__()
            ours = Served(conf, files).__enter__()
            _same_mtimes(real.prefix, ours.prefix, files)
            _SERVERS[area] = (real, ours, reqs)
            opened.append(area)
        return _SERVERS[area]
    yield get
    for area in opened:
        real, ours, _ = _SERVERS.pop(area)
        ours.__exit__(None, None, None)
        real.__exit__(None, None, None)


def _same_mtimes(real: Path, ours: Path, files: dict) -> None:
    """The two prefixes were written a moment apart: give our files and the directories
    holding them the real side's times, so Last-Modified, autoindex dates (a
    subdirectory's too) and conditionals cannot straddle a second."""
    paths = set()
    for rel in files:
        path = Path(rel)
        paths.add(path)
        paths.update(path.parents)
    paths.discard(Path("."))
    for path in paths:
        st = os.stat(real / path)
        os.utime(ours / path, (st.st_atime, st.st_mtime))


def _norm(reply: Reply, port: int) -> dict:
    """The reply with its server's port spelled {port} (where it is a number of its own,
    not digits inside a longer one, which a body may happen to hold)."""
    d = reply.comparable()
    p = re.compile(rf"(?<![0-9]){port}(?![0-9])")
    d["headers"] = [(k, p.sub("{port}", v)) for k, v in d["headers"]]
    d["body"] = re.compile(p.pattern.encode()).sub(b"{port}", d["body"])
    return d


@pytest.mark.skipif(not HAVE_NGINX, reason="real nginx with the Lua module is not installed")
@pytest.mark.parametrize("area,index", _params())
def test_conformance(servers, area: str, index: int) -> None:
    real, ours, reqs = servers(area)
    raw = reqs[index].raw()
    want = parse_reply(real.request(raw))
    got = parse_reply(ours.request(raw))
    assert _norm(got, ours.port) == _norm(want, real.port)
