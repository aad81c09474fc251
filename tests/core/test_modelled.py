"""Every directive of nginx's build is known (checked and shown); the engine says which
ones some module acts on, so the explorer can mark the rest as not modelled."""

from pathlib import Path

from engine import Engine
from engine.conf.catalog import build_table

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "conf" / "nginx.conf"


def test_modules_declare_what_they_model() -> None:
    engine = Engine.load(str(SAMPLE))
    for name in ("root", "try_files", "rewrite", "allow", "add_header", "access_log",
                 "proxy_pass", "least_conn", "content_by_lua_block", "lua_shared_dict",
                 "ssl_certificate", "limit_rate"):
        assert engine.is_modelled(name), name
    for name in ("open_file_cache", "ssl_stapling", "sendfile", "worker_connections"):
        assert not engine.is_modelled(name), name


def test_what_is_modelled_is_in_the_directive_table() -> None:
    engine = Engine.load(str(SAMPLE))
    table = build_table()
    modelled = set().union(*(m.directives for m in engine.http.modules))
    assert modelled and all(name in table for name in modelled)
