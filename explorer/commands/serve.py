"""``ngx-explore serve``: run a configuration's listeners in the foreground, like nginx.

    ngx-explore serve [-c] CONF [-p PREFIX] [-g 'DIRECTIVES;'] [--port-offset N] [--trace]

The pid goes where nginx puts it (``pid`` or ``logs/nginx.pid``), so ``ngx-explore -s
reload|stop|quit|reopen`` works. Signals as nginx's master: HUP reloads (a broken new
configuration is logged and the old one keeps serving), QUIT stops gracefully, TERM and
INT stop at once, USR1 reopens the log files. Errors print ``nginx: [emerg] ...`` and
exit 1; there is never a Python traceback.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass
from typing import Sequence

USAGE = ("usage: ngx-explore serve [-c] CONF [-p PREFIX] [-g 'DIRECTIVES;'] "
         "[--port-offset N] [--trace]")


@dataclass
class ServeOptions:
    conf: str = ""
    prefix: str | None = None
    global_directives: str | None = None
    port_offset: int = 0
    trace: bool = False


def parse_args(argv: Sequence[str]) -> ServeOptions:
    opts = ServeOptions()
    args = list(argv)
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a in ("-c", "-p", "-g", "--port-offset"):
            if i >= len(args):
                raise ValueError(f'option "{a}" requires a value')
            value = args[i]
            i += 1
            if a == "-c":
                opts.conf = value
            elif a == "-p":
                opts.prefix = value
            elif a == "-g":
                opts.global_directives = value
            else:
                if not value.isdigit():
                    raise ValueError(f'invalid --port-offset "{value}"')
                opts.port_offset = int(value)
        elif a == "--trace":
            opts.trace = True
        elif a.startswith("-") or opts.conf:
            raise ValueError(f'invalid option: "{a}"')
        else:
            opts.conf = a
    if not opts.conf:
        opts.conf = "conf/nginx.conf"
    return opts


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _load(opts: ServeOptions):  # type: ignore[no-untyped-def]
    from engine import Engine
    return Engine.load(opts.conf, prefix=opts.prefix,
                       global_directives=opts.global_directives, trace=opts.trace)


def _without_level(err: Exception) -> tuple[str, str]:
    text = str(err)
    if text.startswith("[") and "] " in text:
        level, _, rest = text[1:].partition("] ")
        return level, rest
    return "emerg", text


async def _run(opts: ServeOptions, engine) -> int:  # type: ignore[no-untyped-def]
    from engine.server import BindError, Server
    from engine.server.control import ControlError, pid_path, remove_pid, write_pid

    server = Server(port_offset=opts.port_offset, notify=_err)
    try:
        await server.start(engine)
    except BindError as exc:
        _err(f"nginx: [emerg] {exc.strerror}")
        return 1
    pid = pid_path(engine.parsed)
    try:
        write_pid(pid)
    except ControlError as exc:
        _err(f"nginx: {exc}")
        await server.stop(False)
        return 1
    _err("ngx-explore: listening on " + ", ".join(f"{a}:{p}" for a, p in server.bound))
    loop = asyncio.get_running_loop()
    stopping: asyncio.Future[bool] = loop.create_future()
    reloading: list[asyncio.Task[None]] = []

    async def reload() -> None:
        current = server.engine
        current.http.log_global("notice", "signal 1 (SIGHUP) received, reconfiguring")
        try:
            new = await loop.run_in_executor(None, _load, opts)
            await server.reload(new)
        except BindError as exc:
            current.http.log_global("emerg", exc.strerror or str(exc))
            _err(f"nginx: [emerg] {exc.strerror}")
        except Exception as exc:  # ConfigError, or anything the loader raises
            if getattr(exc, "message", None) == "":
                return  # init_by_lua's error(nil): nginx reports nothing
            level, msg = _without_level(exc)
            current.http.log_global(level if level in ("emerg", "alert", "error") else "emerg",
                                    msg)
            _err(f"nginx: [{level}] {msg}")

    def on_signal(sig: signal.Signals) -> None:
        if sig == signal.SIGHUP:
            reloading.append(loop.create_task(reload()))
        elif sig == signal.SIGUSR1:
            server.engine.error_log.close()  # files reopen on the next line written
        elif not stopping.done():
            stopping.set_result(sig == signal.SIGQUIT)

    for sig in (signal.SIGHUP, signal.SIGQUIT, signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        graceful = await stopping
        await server.stop(graceful)
    finally:
        for sig in (signal.SIGHUP, signal.SIGQUIT, signal.SIGTERM, signal.SIGINT,
                    signal.SIGUSR1):
            loop.remove_signal_handler(sig)
        remove_pid(pid)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        opts = parse_args(sys.argv[1:] if argv is None else argv)
    except ValueError as exc:
        _err(f"nginx: {exc}\n{USAGE}")
        return 1
    try:
        engine = _load(opts)
        for warning in engine.warnings:
            _err(f"nginx: [warn] {warning}")
    except Exception as exc:  # ConfigError and anything else: never a traceback
        if getattr(exc, "message", None) == "":
            return 1  # init_by_lua's error(nil): nginx stops without a word
        level, msg = _without_level(exc)
        _err(f"nginx: [{level}] {msg}")
        return 1
    try:
        return asyncio.run(_run(opts, engine))
    except KeyboardInterrupt:
        return 0
    except Exception as exc:
        _err(f"nginx: [alert] {type(exc).__name__}: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
