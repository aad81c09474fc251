"""The app driven through Textual's pilot: tree, composer, trace, logs, reload, history."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from explorer.app import NgxExploreApp
from explorer.history import History, HistoryEntry
from explorer.widgets.composer import Composer
from explorer.widgets.config_tree import ConfigTree
from explorer.widgets.log_view import LEVEL_NUM, LogView
from explorer.widgets.lua_console import LuaConsole
from explorer.widgets.requests_list import RequestsList
from explorer.widgets.trace_view import TraceView
from textual.widgets import Input, RichLog, Static, TextArea


def plain(widget: Static) -> str:
    """What a Static shows, as text (colours dropped)."""
    out = Console(width=200, file=io.StringIO(), no_color=True, legacy_windows=False)
    out.print(widget.content)
    return out.file.getvalue()  # type: ignore[attr-defined]


def make_app(conf: Path) -> NgxExploreApp:
    return NgxExploreApp(str(conf), listen=False, watch=False, stable=True)


def tree_labels(node) -> list[str]:  # type: ignore[no-untyped-def]
    out = [str(node.label)]
    for child in node.children:
        out += tree_labels(child)
    return out


async def test_tree_shows_effective_directives(small_conf: Path, wait_for) -> None:  # type: ignore[no-untyped-def]
    app = make_app(small_conf)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        tree = app.main.query_one(ConfigTree)
        labels = tree_labels(tree.root)
        assert any(lbl.startswith("server example.com") for lbl in labels)
        node = next(n for n in tree._walk(tree.root) if str(n.label) == "location /api/")
        tree.move_cursor(node)
        await pilot.pause()
        source = plain(app.main.query_one("#source", Static))
        assert "add_header X-Api 1;" in source and "12" in source
        effective = plain(app.main.query_one("#effective", Static))
        assert "add_header X-Api 1;" in effective and "set here" in effective
        # the add_header trap: the http-level one is NOT inherited here
        assert "NOT inherited from http" in effective and "X-Http" in effective


async def test_send_request_shows_status_and_trace(small_conf: Path, wait_for) -> None:  # type: ignore[no-untyped-def]
    app = make_app(small_conf)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        await pilot.press("f4")
        app.main.query_one("#url", Input).value = "http://example.com:8080/api/x"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.served == 1)
        await pilot.pause()
        assert "HTTP/1.1 200 OK" in plain(app.main.query_one("#status", Static))
        labels = tree_labels(app.main.query_one(TraceView).root)
        assert any("server example.com on 0.0.0.0:8080" in lbl for lbl in labels)
        assert any('test location: "/api/"' in lbl for lbl in labels)
        assert any('using configuration "/api/"' in lbl for lbl in labels)
        assert app.main.query_one(RequestsList).total == 1


async def test_invalid_input_is_marked_and_kept(small_conf: Path, wait_for) -> None:  # type: ignore[no-untyped-def]
    app = make_app(small_conf)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        composer = app.main.query_one(Composer)
        app.main.query_one("#headers", TextArea).text = "X-Good: 1\nthis is not a header"
        await pilot.press("f4", "ctrl+s")
        await pilot.pause(0.1)
        assert app.served == 0
        assert app.main.query_one("#headers").has_class("-invalid")
        assert "line 2" in plain(app.main.query_one("#problem", Static))
        assert app.main.query_one("#headers", TextArea).text.endswith("not a header")
        app.main.query_one("#headers", TextArea).text = ""
        app.main.query_one("#url", Input).value = "ftp://x/"
        composer.action_send()
        await pilot.pause(0.1)
        assert app.served == 0 and app.main.query_one("#url").has_class("-invalid")
        assert app.main.query_one("#url", Input).value == "ftp://x/"


async def test_paste_curl_fills_the_form(small_conf: Path, wait_for) -> None:  # type: ignore[no-untyped-def]
    app = make_app(small_conf)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        url = app.main.query_one("#url", Input)
        url.focus()
        url.value = ""
        await pilot.pause()
        app.main.query_one(Composer)._load_curl(
            "curl -X POST 'http://example.com:8080/api/' \\\n -H 'X-A: 1' -d 'k=v'")
        await pilot.pause()
        assert url.value == "http://example.com:8080/api/"
        assert app.main.query_one("#method", Input).value == "POST"
        assert "X-A: 1" in app.main.query_one("#headers", TextArea).text
        assert app.main.query_one("#body", TextArea).text == "k=v"
        assert app.served == 0  # filling never sends


async def test_logs_filter_by_level(small_conf: Path, wait_for) -> None:  # type: ignore[no-untyped-def]
    app = make_app(small_conf)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        logs = app.main.query_one(LogView)
        logs.action_clear()
        for level in ("debug", "info", "warn", "error", "crit"):
            logs.add_line(level, f"2026/01/01 00:00:00 [{level}] 1#1: line {level}")
        logs.add_line("info", '127.0.0.1 - - "GET / HTTP/1.1" 200', access=True)
        logs.flush()
        assert len(logs.shown) == 6
        logs.level = LEVEL_NUM["error"]
        await pilot.pause()
        assert [e.line.split("line ")[-1] for e in logs.shown if not e.access] == [
            "error", "crit"]
        logs.source = "error"
        await pilot.pause()
        assert all(not e.access for e in logs.shown) and len(logs.shown) == 2
        logs.source = "all"
        logs.level = LEVEL_NUM["debug"]
        logs.search = "warn"
        await pilot.pause()
        assert [e.line.split("line ")[-1] for e in logs.shown] == ["warn"]


async def test_log_ring_is_bounded(small_conf: Path, wait_for) -> None:  # type: ignore[no-untyped-def]
    app = make_app(small_conf)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        logs = app.main.query_one(LogView)
        logs.limit = 100
        for i in range(250):
            logs.add_line("error", f"line {i}")
        logs.flush()
        assert len(logs.ring) == 100 and logs.ring[0].line == "line 150"
        assert logs.shown[-1].line == "line 249"


async def test_history_persisted_never_resent(small_conf: Path, state_dir: Path, wait_for) -> None:  # type: ignore[no-untyped-def]
    app = make_app(small_conf)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        app.main.query_one("#url", Input).value = "http://example.com:8080/api/one"
        await pilot.press("f4", "ctrl+s")
        await wait_for(pilot, lambda: app.served == 1)
    assert History().load().entries[-1] == HistoryEntry("GET", "http://example.com:8080/api/one")
    app = make_app(small_conf)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        await pilot.pause(0.2)
        assert app.served == 0  # loading history sends nothing
        url = app.main.query_one("#url", Input)
        url.value = "/"
        await pilot.press("f4", "up")
        assert url.value == "http://example.com:8080/api/one"


async def test_broken_reload_keeps_old_engine(small_conf: Path, wait_for) -> None:  # type: ignore[no-untyped-def]
    app = NgxExploreApp(str(small_conf), listen=False, watch=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        old = app.engine
        small_conf.write_text(small_conf.read_text().replace("add_header X-Http on;",
                                                             "add_headr X-Http on;"))
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: "FAILED" in app.sub_title)
        source = plain(app.main.query_one("#source", Static))
        assert f'nginx: [emerg] unknown directive "add_headr" in {small_conf}:3' in source
        assert "add_headr X-Http on;" in source  # the offending line is shown
        assert app.engine is old
        app.main.query_one("#url", Input).value = "http://example.com:8080/"
        await pilot.press("f4", "ctrl+s")
        await wait_for(pilot, lambda: app.served == 1)
        # fixing the file and reloading swaps in the new engine
        small_conf.write_text(small_conf.read_text().replace("add_headr", "add_header"))
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.engine is not old)


async def test_lua_console_and_help(small_conf: Path, wait_for) -> None:  # type: ignore[no-untyped-def]
    app = make_app(small_conf)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        await pilot.press("f9")
        await pilot.pause()
        app.main.query_one("#lua-input", TextArea).text = "return 1 + 1"
        await pilot.press("ctrl+s")
        out = app.main.query_one("#lua-output", RichLog)
        await wait_for(pilot, lambda: len(out.lines) >= 2)
        text = "\n".join(line.text for line in out.lines)
        assert "> return 1 + 1" in text
        assert ("2" in text.splitlines()[-1]) or "not available" in text
        assert app.main.query_one(LuaConsole).history == ["return 1 + 1"]
        await pilot.press("f1")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.press("f2", "f10")
        await pilot.pause()
        assert app.screen.maximized is not None
        await pilot.press("f10")
        assert app.screen.maximized is None


async def test_export_selected_request(small_conf: Path, wait_for) -> None:  # type: ignore[no-untyped-def]
    app = make_app(small_conf)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        app.main.query_one("#url", Input).value = "http://example.com:8080/api/x"
        await pilot.press("f4", "ctrl+s")
        await wait_for(pilot, lambda: app.served == 1)
        app.action_export("test-nginx")
        await pilot.pause()
        text = app.screen.query_one("#export-text", TextArea).text
        assert text.startswith("=== TEST 1: GET /api/x") and "--- error_code: 200" in text


async def test_live_listener_requests_are_listed(tmp_path: Path, wait_for) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\nhttp {\n server {\n  listen 127.0.0.1:%d;\n"
                    "  location / { return 200 \"live\\n\"; }\n }\n}\n" % port)
    app = NgxExploreApp(str(conf), listen=True, watch=False, stable=True)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        assert f"listening on 127.0.0.1:{port}" in app.sub_title
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        await writer.drain()
        data = await reader.read()
        writer.close()
        assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"live\n")
        requests = app.main.query_one(RequestsList)
        await wait_for(pilot, lambda: requests.exchanges)
        assert requests._origins[id(requests.exchanges[0])] == "listener"
        logs = app.main.query_one(LogView)
        await wait_for(pilot, lambda: any('"GET /x HTTP/1.1" 200' in e.line for e in logs.shown))


async def test_theme_is_remembered(small_conf: Path, wait_for) -> None:  # type: ignore[no-untyped-def]
    app = make_app(small_conf)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        assert app.theme == "ngx-dark"
        app.theme = "ngx-light"
        await pilot.pause(0.1)
    app = make_app(small_conf)
    async with app.run_test(size=(160, 50)) as pilot:
        assert app.theme == "ngx-light"


async def test_file_change_reloads(small_conf: Path, wait_for) -> None:  # type: ignore[no-untyped-def]
    app = NgxExploreApp(str(small_conf), listen=False, watch=True, stable=True)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        first = app.engine
        await pilot.pause(0.3)  # let the watcher start
        small_conf.write_text(small_conf.read_text().replace("location /api/", "location /v2/"))
        await wait_for(pilot, lambda: app.engine is not first, timeout=10)
        tree = app.main.query_one(ConfigTree)
        assert any(lbl == "location /v2/" for lbl in tree_labels(tree.root))


async def test_directives_the_engine_ignores_are_marked(tmp_path: Path, wait_for) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "conf").mkdir()
    conf = tmp_path / "conf" / "nginx.conf"
    conf.write_text("events {}\nhttp {\n    sendfile on;\n    server {\n        listen 8080;\n"
                    "        root html;\n    }\n}\n")
    app = make_app(conf)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        tree = app.main.query_one(ConfigTree)
        node = next(n for n in tree._walk(tree.root) if str(n.label).startswith("server"))
        tree.move_cursor(node)
        await pilot.pause()
        effective = plain(app.main.query_one("#effective", Static))
        assert "sendfile on;  (not modelled)" in effective
        assert "root html;  (not modelled)" not in effective and "root html;" in effective
