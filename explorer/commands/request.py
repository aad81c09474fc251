"""``ngx-explore request CONF 'METHOD /uri' [-H 'Name: value']... [-d BODY] [--json]``.

One request through the engine, no sockets: the response as ``curl -i`` shows it, then
the trace (what nginx did and why, nested hops indented), then the log lines. ``--json``
prints ``Exchange.to_dict()`` instead, for scripts. Options ``-p PREFIX`` and ``-g
DIRECTIVES`` are nginx's. Bad input gets an nginx-style message and exit status 1.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, Sequence

USAGE = ("usage: ngx-explore request CONF 'METHOD /uri [HTTP/1.x]' [-H 'Name: value']... "
         "[-d BODY] [-p PREFIX] [-g DIRECTIVES] [--json]")
_METHOD_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ_-")


class Usage(Exception):
    pass


def parse_args(argv: Sequence[str]) -> dict[str, Any]:
    opts: dict[str, Any] = {"headers": [], "body": b"", "json": False, "prefix": None,
                            "globals": None, "positional": []}
    args = list(argv)
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "--json":
            opts["json"] = True
        elif a in ("-H", "-d", "-p", "-g", "-c"):
            if i >= len(args):
                raise Usage(f'option "{a}" requires a value')
            value = args[i]
            i += 1
            if a == "-H":
                name, sep, val = value.partition(":")
                if not sep or not name or any(c in name for c in " \t\r\n"):
                    raise Usage(f'invalid header "{value}" (expected "Name: value")')
                opts["headers"].append((name, val.strip()))
            elif a == "-d":
                opts["body"] = value.encode("utf-8", "surrogateescape")
            elif a == "-p":
                opts["prefix"] = value
            elif a == "-g":
                opts["globals"] = value
            else:
                opts["positional"].insert(0, value)
        elif a.startswith("-") and len(a) > 1:
            raise Usage(f'invalid option: "{a}"')
        else:
            opts["positional"].append(a)
    if len(opts["positional"]) != 2:
        raise Usage("a configuration and a request line are required")
    conf, line = opts["positional"]
    parts = line.split()
    if len(parts) == 1 and parts[0].startswith("/"):
        parts = ["GET", parts[0]]
    if len(parts) not in (2, 3) or not set(parts[0]) <= _METHOD_CHARS \
            or not parts[1].startswith("/"):
        raise Usage(f'invalid request line "{line}" (expected "METHOD /uri")')
    version = parts[2] if len(parts) == 3 else "HTTP/1.1"
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise Usage(f'invalid version "{version}"')
    opts.update(conf=conf, method=parts[0], target=parts[1], version=version)
    return opts


def _print_exchange(x: Any, out: Any) -> None:
    r = x.response
    if r.sent:
        out.write(f"HTTP/1.1 {r.status} {r.reason}\n")
        for k, v in r.headers:
            out.write(f"{k}: {v}\n")
        out.write("\n")
        out.write(r.text)
        if r.body and not r.text.endswith("\n"):
            out.write("\n")
    else:
        out.write(f"(connection closed without a response: {r.status})\n")
    out.write("\n--- trace ---\n")
    _print_events(x.trace, out, 0)
    if x.logs:
        out.write("\n--- log ---\n")
        for rec in x.logs:
            out.write(rec.line + "\n")


def _print_events(events: list[Any], out: Any, depth: int) -> None:
    pad = "  " * depth
    for ev in events:
        phase = f"[{ev.phase}] " if ev.phase else ""
        out.write(f"{pad}{phase}{ev.describe()}\n")
        if ev.children:
            _print_events(ev.children, out, depth + 1)


def load_engine(opts: dict[str, Any], trace: bool) -> Any:
    """The engine for ``opts``, or None after printing nginx's error (shared with ``debug``)."""
    from engine import Engine
    try:
        return Engine.load(opts["conf"], prefix=opts["prefix"],
                           global_directives=opts["globals"], trace=trace)
    except Exception as exc:  # ConfigError is worded like nginx; anything else too
        text = str(exc) if str(exc).startswith("[") else f"[emerg] {exc}"
        print(f"nginx: {text}", file=sys.stderr)
        return None


def build_request(opts: dict[str, Any]) -> Any:
    """The HttpRequest the options describe, with the Host and Content-Length curl adds."""
    from engine import HttpRequest
    headers = list(opts["headers"])
    if not any(k.lower() == "host" for k, _ in headers) and opts["version"] == "HTTP/1.1":
        headers.insert(0, ("Host", "localhost"))
    if opts["body"] and not any(k.lower() == "content-length" for k, _ in headers):
        headers.append(("Content-Length", str(len(opts["body"]))))
    return HttpRequest(opts["method"], opts["target"], opts["version"], headers, opts["body"])


def send_once(engine: Any, req: Any) -> Any:
    """Start the engine, send ``req``, let timers it started (due within a second) run,
    stop; the Exchange, or None after printing an alert (shared with ``debug``)."""

    async def run() -> Any:
        await engine.start()
        try:
            exchange = await engine.request(req)
            timers = engine.http.services["lua"].timers
            for _ in range(100):
                if not (timers.pending or timers.running):
                    break
                await asyncio.sleep(0.01)
            return exchange
        finally:
            await engine.stop(True)

    try:
        return asyncio.run(run())
    except Exception as exc:
        print(f"nginx: [alert] {type(exc).__name__}: {exc}", file=sys.stderr)
        return None


def main(argv: Sequence[str] | None = None) -> int:
    try:
        opts = parse_args(sys.argv[1:] if argv is None else argv)
    except Usage as exc:
        print(f"nginx: {exc}\n{USAGE}", file=sys.stderr)
        return 1
    engine = load_engine(opts, trace=True)
    if engine is None:
        return 1
    exchange = send_once(engine, build_request(opts))
    if exchange is None:
        return 1
    try:
        if opts["json"]:
            json.dump(exchange.to_dict(), sys.stdout, ensure_ascii=False)
            sys.stdout.write("\n")
        else:
            _print_exchange(exchange, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: the reader left, which is not an error
        sys.stdout = None  # type: ignore[assignment]
    return 0


if __name__ == "__main__":
    sys.exit(main())
