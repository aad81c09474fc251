"""ngx_http_rewrite_module: ``set``, ``rewrite``, ``return``, ``if`` and ``break``.

nginx compiles these directives into a little script per server and per location and
runs it in the server-rewrite and rewrite phases; an ``if`` whose condition holds switches
the request to the ``if`` block's configuration and runs the block's script in place.
Other modules add script directives of their own (ngx_lua's ``set_by_lua*`` through NDK)
with :meth:`RewriteModule.register_script`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from ..conf.ast import Directive
from ..conf.errors import ConfigError
from ..http.block import Block
from ..http.find_config import update_location_config
from ..http.location import LocationConf
from ..http.phases import DECLINED, DONE, HttpModule, Phase
from ..http.regex import Regex
from ..http.request_body import discard_request_body
from ..http.uri import escape_args, quoted_path, unescape_redirect
from ..http.variables import ComplexValue, VarRef, compile_value
from .rewrite_if import compile_condition, keep_captures, log_match
from .rewrite_vars import capture_sites, declare_set

if TYPE_CHECKING:
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

REDIRECT_PREFIXES = ("http://", "https://", "$scheme")
_REDIRECT_CODES = {301, 302, 303, 307, 308}

#: A compiled script step: returns None to go on, or a phase return code to stop with.
Step = Callable[["Request"], Awaitable[int | None]]
ScriptCompiler = Callable[["HttpEngine", Directive], Step]


@dataclass
class Script:
    steps: list[tuple[Directive, Any]] = field(default_factory=list)
    #: ``rewrite_log``: regex tests and rewrites are logged at notice level. nginx reads
    #: it when the script starts, so an ``if`` block's inner script follows its location.
    log: bool = False


class _Break(Exception):
    pass


@dataclass(slots=True)
class _Run:
    """One run of a script (nginx's ngx_http_script_engine_t for it)."""

    log: bool  # rewrite_log of the block the run started in
    #: Captures in ``set`` values are escaped for a quoted request path: on at the start,
    #: off once a rewrite has matched and carried on.
    quote: bool = True


class RewriteModule(HttpModule):
    name = "ngx_http_rewrite_module"
    #: The directives whose behaviour this module models (the rest are only checked).
    directives = frozenset({
        "break", "if", "return", "rewrite", "rewrite_log", "set",
        "uninitialized_variable_warn",
    })

    def __init__(self) -> None:
        self.extra: dict[str, ScriptCompiler] = {}

    def register_script(self, directive: str, compiler: ScriptCompiler) -> None:
        """Let another module's directive run inside the rewrite script, in config order."""
        self.extra[directive] = compiler

    def init(self, engine: HttpEngine) -> None:
        engine.services["rewrite"] = self
        engine.phases.add(Phase.SERVER_REWRITE, "rewrite", self.handler, order=0,
                          active=self._active)
        engine.phases.add(Phase.REWRITE, "rewrite", self.location_handler, order=0,
                          active=self._active)

    def declare(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        captures = set(capture_sites(cfg)) if cfg.http is not None else set()
        for name in captures:
            engine.variables.declare(name)
        for block in cfg.blocks:
            for d in block.items:
                if d.name == "set" and len(d.args) == 2:
                    declare_set(engine, d, captures)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        for block in cfg.blocks:
            if block.kind in ("server", "location"):
                script = self._compile(engine, block)
                script.log = block.flag("rewrite_log", False)
                if script.steps:
                    block.mod[self.name] = script

    def _compile(self, engine: HttpEngine, block: Block) -> Script:
        script = Script()
        for d in block.items:
            step = self._compile_directive(engine, block, d)
            if step is not None:
                script.steps.append((d, step))
        return script

    def _compile_directive(self, engine: HttpEngine, block: Block, d: Directive) -> Any:
        name = d.name
        if name == "set":
            return ("set", d.args[0][1:].lower(), _value(engine, d, d.args[1]))
        if name == "return":
            return _compile_return(engine, d)
        if name == "rewrite":
            return _compile_rewrite(engine, d)
        if name == "break":
            return ("break",)
        if name == "if":
            ifloc = _find_if_block(block, d)
            cond = compile_condition(engine, d)
            return ("if", cond, self._compile(engine, ifloc), ifloc)
        if name in self.extra:
            return ("extra", self.extra[name](engine, d))
        return None

    def _active(self, block: Block) -> bool:
        return block.mod.get(self.name) is not None

    async def location_handler(self, r: Request) -> int:
        """The location rewrite phase: a URI no location matched (a ``last`` to "rel/x")
        is left in the server's configuration, whose directives nginx does not run twice
        ("skipping location rewrite phase for server null location")."""
        if r.loc is r.server:
            return DECLINED
        return await self.handler(r)

    async def handler(self, r: Request) -> int:
        script: Script | None = r.loc.mod.get(self.name)
        if script is None:
            return DECLINED
        try:
            rc = await self._run(r, script, _Run(script.log))
        except _Break:
            return DECLINED
        return DECLINED if rc is None else rc

    async def _run(self, r: Request, script: Script, e: _Run) -> int | None:
        tr = r.trace
        for d, step in script.steps:
            op = step[0]
            if op == "set":
                value = _expand(r, step[2], e.quote, False)
                r.engine_vars.set(r, step[1], value)
                tr.add("script", op="set", variable=f"${step[1]}", value=value,
                       file=d.file, line=d.line)
            elif op == "return":
                return await _run_return(r, d, step)
            elif op == "rewrite":
                rc = await _run_rewrite(r, d, step, e)
                if rc is not None:
                    return rc
            elif op == "break":
                tr.add("script", op="break", file=d.file, line=d.line)
                if r.uri_changed:  # ngx_http_script_break_code
                    r.valid_location = False
                    r.uri_changed = False
                raise _Break
            elif op == "if":
                _, cond, inner, ifloc = step
                ok = cond(r, e.log)
                tr.add("script", op="if", condition=" ".join(d.args), result=bool(ok),
                       file=d.file, line=d.line)
                if ok:
                    r.loc = ifloc
                    update_location_config(r)
                    rc = await self._run(r, inner, e)
                    if rc is not None:
                        return rc
            elif op == "extra":
                rc = await step[1](r)
                if rc is not None:
                    return rc
        return None


def _value(engine: HttpEngine, d: Directive, text: str) -> ComplexValue:
    return compile_value(text, engine.variables, d.file, d.line)


def _find_if_block(block: Block, d: Directive) -> LocationConf:
    """The nameless location HttpConfig made of this ``if`` directive."""
    assert isinstance(block, LocationConf)
    for candidate in block.nameless:
        if candidate.directive is d:
            return candidate
    raise ConfigError('"if" block could not be compiled', d.file, d.line)


# --- return ------------------------------------------------------------------------------


def _compile_return(engine: HttpEngine, d: Directive) -> tuple:
    args = d.args
    if not args[0].isdigit():
        if len(args) == 1 and args[0].startswith(REDIRECT_PREFIXES):
            return ("return", 302, _value(engine, d, args[0]))
        raise ConfigError(f'invalid return code "{args[0]}"', d.file, d.line)
    code = int(args[0])
    if code > 999:
        raise ConfigError(f'invalid return code "{args[0]}"', d.file, d.line)
    text = _value(engine, d, args[1]) if len(args) > 1 else None
    return ("return", code, text)


async def _run_return(r: Request, d: Directive, step: tuple) -> int:
    _, code, text = step
    if code >= 400 and text is None:  # finalized with the code: no header status set
        if r.trace.enabled:
            r.trace.add("script", op="return", code=code, text=None, file=d.file, line=d.line)
        return code
    r.out.status = code  # nginx has set it when the text is evaluated ($status)
    # ngx_http_send_response discards the body before it evaluates the text: a chunked
    # body's $content_length is 0 by then
    discard_request_body(r)
    value = text.evaluate(r) if text is not None else None
    if r.trace.enabled:
        r.trace.add("script", op="return", code=code, text=value, file=d.file, line=d.line)
    if code in _REDIRECT_CODES:
        r.out.location = value or ""
        return code
    return await send_response(r, code, (value or "").encode("utf-8", "surrogateescape"))


async def send_response(r: Request, status: int, body: bytes) -> int:
    """ngx_http_send_response: a status with a short body and the default content type."""
    r.out.status = status
    r.engine.services["set_content_type"](r)
    r.out.content_length = len(body)
    await r.engine.send_header(r)
    if not body and r.main is not r:  # a subrequest's empty body: not even its last buffer
        return DONE
    await r.engine.output(r, body if r.method != "HEAD" else b"", True)
    return DONE


# --- rewrite -----------------------------------------------------------------------------


def _compile_rewrite(engine: HttpEngine, d: Directive) -> tuple:
    repl = d.args[1]
    if not repl:
        raise ConfigError("empty replacement", d.file, d.line)
    regex = Regex.for_directive(d.args[0], False, d.file, d.line)
    flag = d.args[2] if len(d.args) > 2 else None
    if flag not in (None, "last", "break", "redirect", "permanent"):
        raise ConfigError(f'invalid parameter "{flag}"', d.file, d.line)
    redirect = flag in ("redirect", "permanent") or repl.startswith(REDIRECT_PREFIXES)
    keep_args = not repl.endswith("?")
    if not keep_args:
        repl = repl[:-1]
    # nginx splits an internal rewrite's result at the replacement's first literal "?"
    # (its start-args code), not at a "?" a capture or variable brings in
    path, mark, query = repl.partition("?")
    split = (_value(engine, d, path), _value(engine, d, query) if mark else None)
    return ("rewrite", regex, _value(engine, d, repl), flag, redirect, keep_args, split)


async def _run_rewrite(r: Request, d: Directive, step: tuple, e: _Run) -> int | None:
    _, regex, repl, flag, redirect, keep_args, split = step
    caps = regex.exec(r.uri)
    tr = r.trace
    log = e.log
    if log:
        log_match(r, regex, r.uri, caps is not None)
    keep_captures(r, regex, caps)
    if caps is None:
        tr.add("script", op="rewrite", regex=regex.pattern, uri=r.uri, matched=False,
               file=d.file, line=d.line)
        return None
    if redirect:
        value = _expand(r, repl, True, True)
    else:
        uri = _expand(r, split[0], False, False)
        new_args = None if split[1] is None else _expand(r, split[1], True, False)
        value = uri if new_args is None else f"{uri}?{new_args}"
    tr.add("script", op="rewrite", regex=regex.pattern, uri=r.uri, matched=True,
           result=value, flag=flag or "", file=d.file, line=d.line)
    if redirect:
        value = unescape_redirect(value)
        if keep_args and r.args:
            # "&" only when the replacement itself has a "?" (nginx's compiled args mark)
            value += ("&" if split[1] is not None else "?") + r.args
        if log:
            r.log("notice", f'rewritten redirect: "{value}"')
        r.out.location = value
        return 301 if flag == "permanent" else 302
    if new_args is not None:
        r.args = new_args + ("&" + r.args if keep_args and r.args else "")
    elif not keep_args:
        r.args = ""
    if log:
        r.log("notice", f'rewritten data: "{uri}", args: "{r.args}"')
    if not uri:
        r.log("error", "the rewritten URI has a zero length")
        return 500
    e.quote = False
    r.set_uri(uri)
    r.internal = True
    if flag == "break":
        r.uri_changed = False
        r.valid_location = False
        raise _Break
    r.uri_changed = True
    if flag == "last":
        return DECLINED_STOP
    return None


def _expand(r: Request, cv: ComplexValue, quote: bool, args_mark: bool) -> str:
    """A script value. Captures are decoded text: when the request's path came with
    ``%`` escapes or a ``+``, nginx escapes them again (NGX_ESCAPE_ARGS) while its script
    engine "quotes" — in a redirect, after a rewrite replacement's ``?`` (``args_mark``),
    and in ``set`` until a rewrite has matched (the engine starts quoting and a matched
    rewrite's end resets it)."""
    if cv.static is not None or not quoted_path(r.unparsed_uri):
        return cv.evaluate(r)
    out = []
    escaping = quote
    caps = r.captures or []
    for part in cv.parts:
        if isinstance(part, str):
            out.append(part)
            escaping = escaping or (args_mark and "?" in part)
        elif isinstance(part, VarRef):
            out.append(r.engine_vars.get(r, part.name) or "")
        elif part.index < len(caps):
            cap = caps[part.index] or ""
            out.append(escape_args(cap) if escaping else cap)
    return "".join(out)


#: "rewrite ... last": stop this script; the post-rewrite phase finds a new location.
DECLINED_STOP = DECLINED
