"""The directive table for Debian's nginx 1.22.1 build plus ngx_devel_kit and ngx_lua 0.10.23.

Pure data, in nginx's own terms: each row is one ``ngx_command_t`` of a module, written
as ``name contexts arity [flags]`` in a small text table per module (one family per
file). Other engine modules take their specs from here with :func:`module_specs` and
re-register them with behaviour attached (``dataclasses.replace(spec, modelled=True,
check=...)``).

Row syntax (see :func:`_rows`):

* contexts: letters for nginx's ``NGX_*_CONF`` bits: ``m`` MAIN, ``e`` EVENTS,
  ``h`` HTTP_MAIN, ``s`` HTTP_SRV, ``l`` HTTP_LOC, ``u`` HTTP_UPS, ``f`` HTTP_SIF,
  ``i`` HTTP_LIF, ``x`` HTTP_LMT; ``*`` is NGX_ANY_CONF (every context);
* arity: ``0`` NOARGS, ``1`` ... ``7`` TAKEn, ``12`` ``13`` ``23`` ``34`` ``123``
  ``1234`` ``01`` ``012`` the combined TAKE masks (exact counts, so TAKE13 is 1 or 3), ``+``
  1MORE, ``2+`` 2MORE, ``*`` ANY, ``F`` FLAG;
* flags: ``b`` NGX_CONF_BLOCK, ``m`` may repeat in one block (arrays, bitmasks, lists:
  no ``is duplicate``), ``A`` merged as an array (inner definitions replace the outer
  ones entirely: the ``add_header`` trap), ``N`` not inherited at all. Default merge is
  :attr:`Merge.INHERIT`.
"""

from __future__ import annotations

from functools import lru_cache

from ..directives import FLAG, Ctx, DirectiveSpec, DirectiveTable, Merge
from . import core, http, lua, upstreams

__all__ = ["build_table", "module_specs", "module_names", "all_specs", "DYNAMIC_MODULES",
           "CUSTOM_BLOCKS", "DUP_GROUPS"]

_CTX = {
    "m": Ctx.MAIN, "e": Ctx.EVENTS, "h": Ctx.HTTP, "s": Ctx.SRV, "l": Ctx.LOC,
    "u": Ctx.UPS, "f": Ctx.SIF, "i": Ctx.LIF, "x": Ctx.LMT,
}
_ALL = Ctx(0)
for _c in Ctx:
    _ALL |= _c

_ARITY: dict[str, object] = {
    "0": (0, 0), "01": frozenset({0, 1}), "012": (0, 2), "12": (1, 2), "13": frozenset({1, 3}),
    "23": (2, 3), "34": (3, 4), "123": (1, 3), "1234": (1, 4),
    "+": (1, None), "2+": (2, None), "*": (0, None), "F": FLAG,
}
for _n in range(1, 8):
    _ARITY[str(_n)] = (_n, _n)

#: Modules Debian builds as dynamic modules that are not installed/loaded on the
#: reference machine: nginx answers "unknown directive" for them, and so do we unless
#: ``build_table(include_dynamic=True)``.
DYNAMIC_MODULES = frozenset({"ngx_mail_module", "ngx_stream_module"})

#: Blocks whose content is read by a custom handler (``cf->handler`` in nginx), not by
#: directive lookup: every line is an entry, ``{`` is "unexpected".
CUSTOM_BLOCKS = frozenset({"types", "map", "geo", "split_clients", "charset_map"})

#: Directives that share one configuration slot, so any two of them in one block are
#: "duplicate" (ngx_lua keeps one handler per phase whatever form set it).
DUP_GROUPS: dict[str, str] = {}
for _phase in ("rewrite", "access", "content", "log", "header_filter", "body_filter",
               "init", "init_worker", "exit_worker", "balancer", "ssl_certificate",
               "ssl_client_hello", "ssl_session_store", "ssl_session_fetch",
               "server_rewrite"):
    for _form in ("_by_lua", "_by_lua_block", "_by_lua_file"):
        DUP_GROUPS[_phase + _form] = _phase + "_by_lua"


def _rows(module: str, table: str) -> list[DirectiveSpec]:
    """Turn one module's text table into specs (see the module docstring)."""
    specs = []
    for raw in table.strip().splitlines():
        line = raw.split("#", 1)[0].split()
        if not line:
            continue
        name, ctx_s, arity_s, *flags = line
        ctx = _ALL if ctx_s == "*" else Ctx(0)
        if ctx_s != "*":
            for ch in ctx_s:
                ctx |= _CTX[ch]
        merge = Merge.INHERIT
        if "A" in flags:
            merge = Merge.ARRAY
        elif "N" in flags:
            merge = Merge.NONE
        specs.append(DirectiveSpec(
            name=name, contexts=ctx, arity=_ARITY[arity_s],  # type: ignore[arg-type]
            block="b" in flags, merge=merge, module=module, modelled=False,
            multi="m" in flags,
        ))
    return specs


@lru_cache(maxsize=None)
def _modules() -> dict[str, tuple[DirectiveSpec, ...]]:
    out: dict[str, tuple[DirectiveSpec, ...]] = {}
    for family in (core, http, upstreams, lua):
        for module, table in family.MODULES.items():
            out[module] = tuple(_rows(module, table))
    return out


def module_names() -> list[str]:
    """Every module in the catalog, in nginx's module order within each family."""
    return list(_modules())


def module_specs(module_name: str) -> list[DirectiveSpec]:
    """The specs of one module, e.g. ``module_specs("ngx_http_rewrite_module")``."""
    try:
        return list(_modules()[module_name])
    except KeyError:
        raise KeyError(f"no module {module_name!r} in the catalog") from None


def all_specs(include_dynamic: bool = False) -> list[DirectiveSpec]:
    """Every spec, module by module."""
    return [s for m, specs in _modules().items()
            if include_dynamic or m not in DYNAMIC_MODULES for s in specs]


def build_table(include_dynamic: bool = False) -> DirectiveTable:
    """A fresh :class:`DirectiveTable` with the whole catalog (callers may add to it)."""
    table = DirectiveTable()
    table.register_all(all_specs(include_dynamic))
    return table
