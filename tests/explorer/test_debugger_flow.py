"""The Lua debugger driven through the app (issue 8): breakpoints from the source pane and
the console, a pause seen in the Debug pane while the UI stays live, stepping, evaluation
and assignment in a frame, break on error, refusals, and breakpoints across a reload.

Lines are found by ``-- @name`` markers, never hard-coded.
"""

from __future__ import annotations

import asyncio
import io
import socket
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.widgets import Input, RichLog, Static, TextArea, Tree

from explorer.app import NgxExploreApp
from explorer.debugging import BreakSpec, ConsoleCommand, parse_break, parse_command
from explorer.widgets.debug_view import DebugView
from explorer.widgets.lua_console import LuaConsole
from explorer.widgets.response_view import ResponseView
from explorer.widgets.source_view import SourceView


def plain(widget: Static) -> str:
    """A Static's content as text, without colours."""
    console = Console(width=200, file=io.StringIO(), no_color=True)
    console.print(widget.content)
    return console.file.getvalue()  # type: ignore[attr-defined]

CONF = """\
events {}
http {
    lua_package_path "$prefix/lua/?.lua;;";
    server {
        listen 8080;
        location /t {
            access_by_lua_block {
                ngx.ctx.user = "alice"
            }
            content_by_lua_block {
                local mod = require "mod"
                local greeting = "hello"  -- @greeting

                local n = 1  -- @n
                ngx.say(mod.shout(greeting), " ", ngx.ctx.user, " ", n)  -- @say
            }
        }
        location /boom {
            content_by_lua_block {
                local x = nil
                ngx.say(x.field)  -- @boom
            }
        }
    }
}
"""

MOD = """\
local M = {}
function M.shout(s)
    return s:upper()  -- @shout
end
return M
"""


class Site:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "nginx.conf"
        (root / "lua").mkdir(parents=True)
        (root / "logs").mkdir()
        self.conf.write_text(CONF)
        (root / "lua" / "mod.lua").write_text(MOD)

    def line(self, name: str, text: str = CONF) -> int:
        return next(i for i, ln in enumerate(text.splitlines(), 1) if f"-- @{name}" in ln)

    def app(self) -> NgxExploreApp:
        return NgxExploreApp(str(self.conf), str(self.root), listen=False, watch=False,
                             stable=True)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path / "site")


def notes(app: NgxExploreApp) -> list[str]:
    return [n.message for n in app._notifications]


def var_labels(view: DebugView) -> list[str]:
    tree = view.query_one("#debug-vars", Tree)
    return [str(leaf.label) for node in tree.root.children for leaf in node.children]


async def loaded(pilot: Any, wait_for: Any) -> NgxExploreApp:
    app = pilot.app
    await wait_for(pilot, lambda: app.engine is not None)
    return app


async def toggle_in_source(pilot: Any, app: NgxExploreApp, path: Path, line: int) -> None:
    """Show the file, put the cursor on ``line`` and press b, as a user would."""
    main = app.main
    main.show_location(app.engine, str(path), line)
    source = main.query_one(SourceView)
    source.focus()
    await pilot.pause()
    source.action_cursor(line - (source.cursor or 0))
    assert source.cursor == line
    await pilot.press("b")


async def send(pilot: Any, app: NgxExploreApp, url: str) -> None:
    app.main.query_one("#url", Input).value = url
    await pilot.press("f4", "ctrl+s")


async def next_pause(pilot: Any, wait_for: Any, app: NgxExploreApp, line: int) -> Any:
    await wait_for(pilot, lambda: app.session.paused is not None
                   and app.session.paused.frames[0].file_line == line)
    return app.session.paused


async def test_breakpoint_step_inspect_assign_continue(site: Site, wait_for: Any) -> None:
    app = site.app()
    async with app.run_test(size=(160, 50)) as pilot:
        await loaded(pilot, wait_for)
        greeting = site.line("greeting")
        await toggle_in_source(pilot, app, site.conf, greeting)
        await wait_for(pilot, lambda: len(app.session.marks) == 1)
        assert app.session.marks[0].verified and app.session.marks[0].file == "nginx.conf"
        source = app.main.query_one(SourceView)
        assert f"{greeting}●" in plain(source.query_one("#source", Static))

        await send(pilot, app, "http://localhost:8080/t")
        info = await next_pause(pilot, wait_for, app, greeting)
        assert info.phase == "content" and info.reason == "breakpoint"
        view = app.main.query_one(DebugView)
        status = plain(view.query_one("#debug-status", Static))
        assert f"nginx.conf:{greeting}" in status and "phase content" in status
        assert "GET /t" in status and "engine paused — 0 other requests waiting" in status
        assert 'user = "alice"' in var_labels(view)  # ngx.ctx, set in the access phase
        assert source.paused_at == (str(site.conf), greeting)
        assert f"{greeting}▶" in plain(source.query_one("#source", Static))
        assert app.served == 0  # the request waits; the UI does not

        await pilot.press("n")  # step over, twice: to the blank-free next lines
        await next_pause(pilot, wait_for, app, site.line("n"))
        assert 'greeting = "hello"' in var_labels(view)
        await pilot.press("n")
        await next_pause(pilot, wait_for, app, site.line("say"))
        assert "n = 1" in var_labels(view)

        field = view.query_one("#debug-eval", Input)
        field.focus()
        for text in ("n * 10", "n = 41"):
            field.value = text
            await pilot.press("enter")
        await wait_for(pilot, lambda: "n = 41" in var_labels(view))
        output = "\n".join(str(line.text) for line in view.query_one(RichLog).lines)
        assert "10" in output
        field.value = "$uri"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "'/t'" in "\n".join(
            str(line.text) for line in view.query_one(RichLog).lines))

        view.query_one("#debug-stack").focus()
        await pilot.press("s")  # into mod.shout, in the Lua file
        shout = site.line("shout", MOD)
        info = await next_pause(pilot, wait_for, app, shout)
        assert info.frames[0].file == "lua/mod.lua" and len(info.frames) == 2
        assert source.file == str((site.root / "lua" / "mod.lua").resolve())
        await pilot.press("o")  # back out to the handler's line
        await next_pause(pilot, wait_for, app, site.line("say"))
        await pilot.press("c")
        await wait_for(pilot, lambda: app.served == 1)
        await pilot.pause()
        body = plain(app.main.query_one(ResponseView).query_one("#resp-body", Static))
        assert "HELLO alice 41" in body
        assert app.session.paused is None and source.paused_at is None


async def test_break_on_error_pauses_before_the_500(site: Site, wait_for: Any) -> None:
    app = site.app()
    async with app.run_test(size=(160, 50)) as pilot:
        await loaded(pilot, wait_for)
        await run_console(pilot, app, ":break-on-error on")
        await wait_for(pilot, lambda: app.session.break_on_error)
        await send(pilot, app, "http://localhost:8080/boom")
        info = await next_pause(pilot, wait_for, app, site.line("boom"))
        assert info.reason == "error" and "attempt to index" in (info.error or "")
        assert "x = nil" in var_labels(app.main.query_one(DebugView))
        assert app.served == 0  # paused before nginx answers 500
        assert not app.check_action("debug_step", ("over",))  # an error only continues
        app.main.query_one(DebugView).query_one("#debug-stack").focus()
        await pilot.press("c")
        await wait_for(pilot, lambda: app.served == 1)
        await pilot.pause()
        assert "500" in plain(app.main.query_one("#status", Static))


async def test_lines_without_code_are_refused(site: Site, wait_for: Any) -> None:
    app = site.app()
    async with app.run_test(size=(160, 50)) as pilot:
        await loaded(pilot, wait_for)
        blank = site.line("greeting") + 1
        await toggle_in_source(pilot, app, site.conf, blank)
        await wait_for(pilot, lambda: any("no Lua code" in n for n in notes(app)))
        assert any(f"nearby: {blank - 1}, {blank + 1}" in n for n in notes(app))
        await toggle_in_source(pilot, app, site.conf, 5)  # listen 8080;
        await wait_for(pilot, lambda: any("not inside a *_by_lua_block" in n
                                          for n in notes(app)))
        assert app.session.marks == ()


async def run_console(pilot: Any, app: NgxExploreApp, line: str) -> None:
    await pilot.press("f9")
    app.main.query_one("#lua-input", TextArea).text = line
    await pilot.press("ctrl+s")


def console_text(app: NgxExploreApp) -> str:
    return "\n".join(str(line.text) for line in app.main.query_one(LuaConsole)
                     .query_one("#lua-output", RichLog).lines)


async def test_console_commands_and_reload(site: Site, wait_for: Any) -> None:
    app = site.app()
    async with app.run_test(size=(160, 50)) as pilot:
        await loaded(pilot, wait_for)
        n = site.line("n")
        await run_console(pilot, app, f":break nginx.conf:{n} if n == nil")
        await run_console(pilot, app, ":break lua/mod.lua:1")
        await run_console(pilot, app, f":break lua/mod.lua:{site.line('shout', MOD)}")
        await wait_for(pilot, lambda: len(app.session.marks) == 3)
        await run_console(pilot, app, ":breaks")
        await wait_for(pilot, lambda: "break on error: off" in console_text(app))
        text = console_text(app)
        assert f"nginx.conf:{n} if n == nil" in text and "lua/mod.lua:3" in text
        await run_console(pilot, app, ":delete 2")
        await run_console(pilot, app, ":nope")
        await wait_for(pilot, lambda: 'unknown command ":nope"' in console_text(app))
        assert [m.id for m in app.session.marks] == [1, 3]

        # a reload keeps breakpoints whose line still holds code, shows the others
        old = app.engine
        site.conf.write_text(CONF.replace("local n = 1  -- @n", "-- n was here"))
        app.action_reload()
        await wait_for(pilot, lambda: app.engine is not old, timeout=10)
        await wait_for(pilot, lambda: any("not resolved after reload" in str(note.title)
                                          for note in app._notifications))
        marks = {m.id: m for m in app.session.marks}
        assert not marks[1].verified and marks[3].verified
        source = app.main.query_one(SourceView)
        app.main.show_location(app.engine, str(site.conf), n)
        await pilot.pause()
        assert f"{n}○" in plain(source.query_one("#source", Static))


async def _get(port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                 .encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    return data


async def test_listener_requests_wait_while_paused(site: Site, wait_for: Any) -> None:
    """A pause blocks the engine, not the UI: a composer request waits on the engine loop
    (counted), a new connection waits in the listen queue (said so); all are answered
    after continue."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    site.conf.write_text(CONF.replace("listen 8080;", f"listen 127.0.0.1:{port};"))
    app = NgxExploreApp(str(site.conf), str(site.root), listen=True, watch=False, stable=True)
    async with app.run_test(size=(160, 50)) as pilot:
        await loaded(pilot, wait_for)
        await run_console(pilot, app, f":break nginx.conf:{site.line('greeting')}")
        await wait_for(pilot, lambda: len(app.session.marks) == 1)
        first = asyncio.ensure_future(_get(port, "/t"))
        await next_pause(pilot, wait_for, app, site.line("greeting"))
        await run_console(pilot, app, ":delete 1")  # served on the paused thread
        await wait_for(pilot, lambda: not app.session.marks)
        second = asyncio.ensure_future(_get(port, "/t"))  # stays in the listen queue
        await send(pilot, app, f"http://localhost:{port}/t")  # waits on the engine loop
        view = app.main.query_one(DebugView)
        await wait_for(pilot, lambda: "1 other request waiting" in plain(
            view.query_one("#debug-status", Static)), timeout=5)
        status = plain(view.query_one("#debug-status", Static))
        assert "1 from the composer, 1 on the listener" in status
        assert "new connections wait in the listen queue" in status
        assert not first.done() and not second.done() and app.served == 0
        view.query_one("#debug-stack").focus()
        await pilot.press("c")
        replies = await asyncio.wait_for(asyncio.gather(first, second), 10)
        assert all(r.startswith(b"HTTP/1.1 200") and b"HELLO alice 1\n" in r for r in replies)
        await wait_for(pilot, lambda: app.served == 3)


async def test_run_to_cursor_then_quit_while_paused(site: Site, wait_for: Any) -> None:
    app = site.app()
    async with app.run_test(size=(160, 50)) as pilot:
        await loaded(pilot, wait_for)
        await run_console(pilot, app, f":break nginx.conf:{site.line('greeting')}")
        await wait_for(pilot, lambda: len(app.session.marks) == 1)
        await send(pilot, app, "http://localhost:8080/t")
        await next_pause(pilot, wait_for, app, site.line("greeting"))
        source = app.main.query_one(SourceView)
        source.focus()
        await pilot.pause()
        source.action_cursor(site.line("say") - (source.cursor or 0))
        await pilot.press("r")  # run to the cursor line
        info = await next_pause(pilot, wait_for, app, site.line("say"))
        assert info.reason == "run_to"
    assert app.session.paused is None and not app.host._thread.is_alive()


@pytest.mark.parametrize("text, expected", [
    ("nginx.conf:22", BreakSpec("nginx.conf", 22)),  # plain
    ("lua/auth.lua:10 if user == nil", BreakSpec("lua/auth.lua", 10, "user == nil")),
    ("nginx.conf:7 hit >= 2", BreakSpec("nginx.conf", 7, None, ">=2")),  # spaces dropped
    ("a.conf:3 hit %2 if x:len() > 1", BreakSpec("a.conf", 3, "x:len() > 1", "%2")),
    ("C:/x.lua:4", BreakSpec("C:/x.lua", 4)),  # the last colon is the line's
])
def test_parse_break(text: str, expected: BreakSpec) -> None:
    assert parse_break(text) == expected


@pytest.mark.parametrize("text", ["nginx.conf", "nginx.conf:x", ":22", "f:1 when x"])
def test_parse_break_refuses_with_the_usage(text: str) -> None:
    with pytest.raises(ValueError, match="usage: :break FILE:LINE"):
        parse_break(text)


def test_parse_command() -> None:
    assert parse_command(":Break  nginx.conf:1 ") == ConsoleCommand("break", "nginx.conf:1")
    assert parse_command("return 1") is None  # Lua, not a command
