"""The directive catalog: data shape and a few facts checked against nginx's sources."""

from __future__ import annotations

import pytest

from engine.conf.catalog import DUP_GROUPS, all_specs, build_table, module_names, module_specs
from engine.conf.directives import FLAG, Ctx, Merge


def test_every_spec_is_data_only() -> None:
    specs = all_specs(include_dynamic=True)
    assert len(specs) > 550
    for s in specs:
        assert s.module.startswith(("ngx_", "ndk_")) and s.modelled is False and s.check is None


@pytest.mark.parametrize("name,module,ctx,arity,merge,multi", [
    ("rewrite", "ngx_http_rewrite_module", Ctx.SRV | Ctx.SIF | Ctx.LOC | Ctx.LIF, (2, 3), Merge.NONE, True),
    ("add_header", "ngx_http_headers_filter_module", Ctx.ANY_HTTP | Ctx.LIF, (2, 3), Merge.ARRAY, True),
    ("proxy_set_header", "ngx_http_proxy_module", Ctx.ANY_HTTP, (2, 2), Merge.ARRAY, True),
    ("root", "ngx_http_core_module", Ctx.ANY_HTTP | Ctx.LIF, (1, 1), Merge.INHERIT, False),
    ("sendfile", "ngx_http_core_module", Ctx.ANY_HTTP | Ctx.LIF, FLAG, Merge.INHERIT, False),
    ("content_by_lua_block", "ngx_http_lua_module", Ctx.LOC | Ctx.LIF, (0, 0), Merge.NONE, False),
    ("lua_shared_dict", "ngx_http_lua_module", Ctx.HTTP, (2, 2), Merge.INHERIT, True),
    ("allow", "ngx_http_access_module", Ctx.ANY_HTTP | Ctx.LMT, (1, 1), Merge.ARRAY, True),
])
def test_known_rows(name, module, ctx, arity, merge, multi) -> None:
    spec = next(s for s in module_specs(module) if s.name == name)
    assert (spec.contexts, spec.arity, spec.merge, spec.multi) == (ctx, arity, merge, multi)


def test_table_lookup_by_context() -> None:
    t = build_table()
    assert t.get("server", Ctx.HTTP).block and not t.get("server", Ctx.UPS).block
    assert t.get("keepalive_timeout", Ctx.UPS).module == "ngx_http_upstream_keepalive_module"
    assert "stream" not in t and "stream" in build_table(include_dynamic=True)
    assert t.get("content_by_lua_block", Ctx.SRV) is None


def test_lua_forms_share_a_slot() -> None:
    assert DUP_GROUPS["access_by_lua_file"] == DUP_GROUPS["access_by_lua_block"]


def test_module_names() -> None:
    names = module_names()
    assert "ngx_http_lua_module" in names and module_specs("ndk_http_module") == []
    with pytest.raises(KeyError):
        module_specs("ngx_nope")
