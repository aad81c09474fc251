"""``ngx-explore debug CONF 'GET /t' --break FILE:LINE [--break 'FILE:LINE if EXPR']...``.

The debugger's batch form: one request through the engine, in-process, with breakpoints
in its Lua handlers. At each pause it prints where the handler stopped (``paused at
nginx.conf:23 in content_by_lua(nginx.conf:22) GET /t``) and the value of every
``--eval`` expression in the paused frame, then lets the handler go on; at the end it
prints the response as ``curl -i`` does. Options:

    --break FILE:LINE [if EXPR] [hit N|>=N|%N]   a breakpoint (config file or Lua file)
    --eval EXPR                                  evaluated at every pause (repeatable)
    --break-on-error                             pause where a handler fails, with its stack
    --stack                                      print the call stack at every pause
    -H 'Name: value', -d BODY, -p PREFIX, -g DIRECTIVES   as for ``request``

Exit status: 2 when a breakpoint does not resolve to a line of Lua code (the message says
which and why; the request still runs), 1 for bad input, 0 otherwise.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import IO, Any, Sequence

USAGE = ("usage: ngx-explore debug CONF 'METHOD /uri' --break FILE:LINE [if EXPR] "
         "[--break ...] [--eval EXPR]... [--break-on-error] [--stack] [-H 'Name: value']... "
         "[-d BODY] [-p PREFIX] [-g DIRECTIVES]")


class Usage(Exception):
    pass


@dataclass
class BreakSpec:
    file: str
    line: int
    condition: str | None = None
    hits: str | None = None

    @property
    def label(self) -> str:
        return f"{self.file}:{self.line}" + (f" if {self.condition}" if self.condition else "")


@dataclass
class Options:
    breaks: list[BreakSpec] = field(default_factory=list)
    evals: list[str] = field(default_factory=list)
    on_error: bool = False
    stack: bool = False
    request_args: list[str] = field(default_factory=list)  # passed to request's parser


def parse_break(spec: str, extra: list[str]) -> BreakSpec:
    """``FILE:LINE``, then optional ``if EXPR`` / ``hit COND`` (in the same argument or in
    the following ones, which ``extra`` holds and this consumes)."""
    loc, _, rest = spec.strip().partition(" ")
    file, sep, line = loc.rpartition(":")
    if not sep or not file or not line.isdigit() or int(line) < 1:
        raise Usage(f'invalid breakpoint "{spec}" (expected FILE:LINE, e.g. nginx.conf:23)')
    words = rest.split(None, 1) if rest.strip() else []
    if not words and extra and extra[0] in ("if", "hit"):
        words = [extra.pop(0)] + ([extra.pop(0)] if extra else [])
    bp = BreakSpec(file, int(line))
    while words:
        keyword, value = words[0], words[1] if len(words) > 1 else ""
        if keyword == "if" and value.strip():
            bp.condition = value.strip()
            break
        if keyword == "hit" and value.strip():
            count, _, tail = value.strip().partition(" ")
            bp.hits = count
            words = tail.split(None, 1) if tail.strip() else []
            if not words and extra and extra[0] == "if":
                words = [extra.pop(0)] + ([extra.pop(0)] if extra else [])
            continue
        raise Usage(f'invalid breakpoint "{spec}" (expected FILE:LINE [hit N] [if EXPR])')
    return bp


def parse_args(argv: Sequence[str]) -> Options:
    opts = Options()
    args = list(argv)
    while args:
        a = args.pop(0)
        if a in ("--break", "-b", "--eval", "-e"):
            if not args:
                raise Usage(f'option "{a}" requires a value')
            value = args.pop(0)
            if a in ("--break", "-b"):
                opts.breaks.append(parse_break(value, args))
            else:
                opts.evals.append(value)
        elif a == "--break-on-error":
            opts.on_error = True
        elif a == "--stack":
            opts.stack = True
        elif a == "--json":
            raise Usage('"--json" is not supported by debug')
        else:
            opts.request_args.append(a)
            if a in ("-H", "-d", "-p", "-g", "-c") and args:
                opts.request_args.append(args.pop(0))
    if not opts.breaks and not opts.on_error:
        raise Usage("nothing to stop at: give --break FILE:LINE or --break-on-error")
    return opts


def print_pause(state: Any, opts: Options, out: IO[str]) -> None:
    out.write(state.where + (f": {state.error}" if state.error else "") + "\n")
    if state.note:
        out.write(f"  note: {state.note}\n")
    if opts.stack or state.reason == "error":
        for f in state.frames:
            out.write(f"  #{f.index} {f.where} in {f.function} ({f.chunk}:{f.line})\n")
    for expr in opts.evals:
        ok, value = state.eval(expr)
        out.write(f"  {expr} = {value}\n" if ok else f"  {expr}: error: {value}\n")


def print_response(x: Any, out: IO[str]) -> None:
    r = x.response
    if not r.sent:
        out.write(f"(connection closed without a response: {r.status})\n")
        return
    out.write(f"HTTP/1.1 {r.status} {r.reason}\n")
    out.writelines(f"{k}: {v}\n" for k, v in r.headers)
    out.write("\n" + r.text)
    if r.body and not r.text.endswith("\n"):
        out.write("\n")


def main(argv: Sequence[str] | None = None) -> int:
    from . import request as request_cmd
    try:
        opts = parse_args(sys.argv[1:] if argv is None else argv)
        req_opts = request_cmd.parse_args(opts.request_args)
    except (Usage, request_cmd.Usage) as exc:
        print(f"nginx: {exc}\n{USAGE}", file=sys.stderr)
        return 1
    from engine.lua.debugger import Command, Debugger
    engine = request_cmd.load_engine(req_opts, trace=False)
    if engine is None:
        return 1
    out = sys.stdout

    def on_pause(state: Any) -> Command:
        print_pause(state, opts, out)
        return Command.cont()

    debugger = Debugger(on_pause, break_on_error=opts.on_error)
    status = 0
    try:
        engine.debugger = debugger
    except ValueError as exc:
        print(f"nginx: [emerg] {exc}", file=sys.stderr)
        return 1
    for spec in opts.breaks:
        try:
            bp = debugger.add_breakpoint(spec.file, spec.line, spec.condition, spec.hits)
        except ValueError as exc:
            print(f"breakpoint {spec.label}: {exc}", file=sys.stderr)
            return 1
        if not bp.verified:
            print(f"breakpoint {spec.label} not set: {bp.message}", file=sys.stderr)
            status = 2
    exchange = request_cmd.send_once(engine, request_cmd.build_request(req_opts))
    if exchange is None:
        return 1
    try:
        print_response(exchange, out)
        out.flush()
    except BrokenPipeError:
        sys.stdout = None  # type: ignore[assignment]
    return status


if __name__ == "__main__":
    sys.exit(main())
