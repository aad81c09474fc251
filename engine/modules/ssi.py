"""ngx_http_ssi_filter_module: server-side include commands in response bodies.

Which responses: those of a block with ``ssi on`` whose Content-Type is in ``ssi_types``
(``text/html`` always, ``*`` for any) and whose Content-Length is not 0, whatever the
status (nginx's error pages too). The main request's header loses Content-Length and
Accept-Ranges (so a Range gets the whole body) and, unless ``ssi_last_modified on``
(which makes the ETag weak instead), Last-Modified and ETag. Subrequests are processed
when an SSI ``include`` made them (ngx.location.capture's are not: ngx_lua's capture
filter takes their body before any other filter).

The commands (``<!--# name param="value" -->``, scanned by ssi_parser across body
parts) are echo, set, config, if/elif/else/endif, block/endblock and include. Their
variables are SSI's own (``set``, the captures and named captures of an ``if`` regex,
kept for the whole main request) before nginx's. A failed command writes ``errmsg``
(``[an error occurred while processing the directive]``, or ``config errmsg``) unless
``ssi_silent_errors on``, and an ``[error]`` line. ``include`` runs a subrequest (``file``
is ``virtual`` with ``wait``) and puts its body, whatever its status, where the command
was; ``set`` keeps the body in a variable instead; ``stub`` outputs a block, through the
subrequest's own filters, when the subrequest fails or has an empty body.

Error-log lines written while a static file is being sent end in "while sending response
to client": the static handler leaves that log action on the connection, as nginx's.

Not modelled: nginx runs an include without ``wait`` after the parent's current buffer
(a variable it sets is not yet visible to a later ``echo``); here every include runs in
place, as with ``wait="yes"``. ``ssi_min_file_chunk`` and ``ssi_ignore_recycled_buffers``
change how buffers are passed on, not the bytes: they are accepted and checked only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..conf.values import size_arg
from ..http.phases import HttpModule
from ..http.response import content_type_matches, weak_etag
from ..http.subrequest import run_subrequest
from .ssi_parser import (AGAIN, MAX_PARAMS, OK, Parser, SsiError, condition, evaluate,
                         split_unsafe, text, url_escape)

if TYPE_CHECKING:
    from ..http.block import Block
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request

#: After sub_filter (600), before gzip (700): nginx's body chain runs sub, charset, ssi,
#: then postpone (which places subrequest output) and gzip.
ORDER = 650
_CTX = "ssi"
ERRMSG = b"[an error occurred while processing the directive]"
TIMEFMT = "%A, %d-%b-%Y %H:%M:%S %Z"
_NONE, _URL, _ENTITY = 0, 1, 2
_COND_IF, _COND_ELSE = 1, 2
#: NGX_HTTP_MAX_SUBREQUESTS: the depth at which ngx_http_subrequest refuses.
_MAX_DEPTH = 51
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
           "Dec")
_HTML = {0x3C: b"&lt;", 0x3E: b"&gt;", 0x26: b"&amp;", 0x22: b"&quot;"}


@dataclass(frozen=True, slots=True)
class Command:
    """ngx_http_ssi_command_t: its parameters (name, mandatory), context and flags."""

    params: tuple[tuple[str, bool], ...]
    conditional: int = 0
    block: bool = False


_COMMANDS = {
    "include": Command((("virtual", False), ("file", False), ("wait", False), ("set", False),
                        ("stub", False))),
    "echo": Command((("var", True), ("default", False), ("encoding", False))),
    "config": Command((("errmsg", False), ("timefmt", False))),
    "set": Command((("var", True), ("value", True))),
    "if": Command((("expr", True),)),
    "elif": Command((("expr", True),), _COND_IF),
    "else": Command((), _COND_IF),
    "endif": Command((), _COND_ELSE),
    "block": Command((("name", True),)),
    "endblock": Command((), 0, True),
}


@dataclass(frozen=True, slots=True)
class SsiConf:
    silent: bool
    last_modified: bool
    value_len: int
    #: Lowercased MIME types, None for ``*``.
    types: frozenset[str] | None


@dataclass(slots=True)
class Shared:
    """What nginx keeps in the main request's SSI context for every request of it."""

    variables: dict[str, str] = field(default_factory=dict)
    captures: list[str] = field(default_factory=list)
    #: (name, recorded text) in the order the blocks were opened.
    blocks: list[tuple[str, list[bytes]]] = field(default_factory=list)


class State:
    """One response's SSI context (ngx_http_ssi_ctx_t)."""

    def __init__(self, r: Request, conf: SsiConf, shared: Shared, filter_: Any) -> None:
        self.conf = conf
        #: The module's body filter: an include's parts go on to the filters after it.
        self.filter = filter_
        self.shared = shared
        self.parser = Parser(conf.value_len, lambda m: log(r, m))
        self.output = True
        self.output_chosen = False
        self.block = False
        self.conditional = 0
        self.encoding = _ENTITY
        self.timefmt = TIMEFMT
        self.errmsg = ERRMSG
        #: An include is running: its subrequest is SSI's (the filters apply to it).
        self.including = False


def log(r: Request, message: str) -> None:
    r.log("error", message)


def _shared(r: Request) -> Shared | None:
    st: State | None = r.main.ctx.get(_CTX)
    return st.shared if st is not None else None


def ssi_date(t: time.struct_time, zone: str, fmt: str = TIMEFMT) -> str:
    """``$date_local``/``$date_gmt`` in ``fmt`` (strftime in the C locale; the default
    is spelled out so that no locale can change it)."""
    if fmt == TIMEFMT:
        return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d}-{_MONTHS[t.tm_mon - 1]}-{t.tm_year} "
                f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {zone}")
    return time.strftime(fmt, time.struct_time((*t[:9], zone, t.tm_gmtoff or 0)))


def _date(r: Request, gmt: bool) -> str:
    """ngx_http_ssi_date_gmt_local_variable: this request's ``config timefmt``."""
    st: State | None = r.ctx.get(_CTX)
    fmt = st.timefmt if st is not None else TIMEFMT
    now = time.time()
    if fmt == "%s":
        return str(int(now))
    t = time.gmtime(now) if gmt else time.localtime(now)
    return ssi_date(t, "GMT" if gmt else (t.tm_zone or ""), fmt)


class SsiModule(HttpModule):
    name = "ngx_http_ssi_filter_module"
    directives = frozenset({"ssi", "ssi_types", "ssi_silent_errors", "ssi_value_length",
                            "ssi_last_modified", "ssi_min_file_chunk",
                            "ssi_ignore_recycled_buffers"})

    def init(self, engine: HttpEngine) -> None:
        engine.variables.add("date_local", lambda r: _date(r, False))
        engine.variables.add("date_gmt", lambda r: _date(r, True))
        engine.phases.add_header_filter("ssi", self.header_filter, order=ORDER,
                                        active=self._active)
        engine.phases.add_body_filter("ssi", self.body_filter, order=ORDER,
                                      active=self._active)

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        for block in cfg.blocks:
            for name in ("ssi_value_length", "ssi_min_file_chunk"):
                for d in block.get(name):
                    size_arg(d)
            if not block.flag("ssi", False):
                continue
            d = block.first("ssi_value_length")
            block.mod[self.name] = SsiConf(
                block.flag("ssi_silent_errors", False), block.flag("ssi_last_modified", False),
                size_arg(d) if d is not None else 255, _types(block))

    def _active(self, block: Block) -> bool:
        return self.name in block.mod

    def header_filter(self, r: Request) -> None:
        """ngx_http_ssi_header_filter: decide, and fix the main request's header."""
        conf: SsiConf | None = r.loc.mod.get(self.name)
        out = r.out
        if conf is None or out.content_length == 0 \
                or not content_type_matches(conf.types, out.content_type, r):
            return
        if r is r.main:
            shared = Shared()
        else:
            parent: State | None = r.parent.ctx.get(_CTX) if r.parent else None
            shared = _shared(r)
            if parent is None or not parent.including or shared is None:
                return  # not an SSI include: a Lua capture, an auth_request
        st = r.ctx[_CTX] = State(r, conf, shared, self.body_filter)
        if r is r.main:
            out.content_length = None
            out.headers.remove("content-length")
            r.ctx.pop("keep:allow_ranges", None)
            if conf.last_modified:
                weak_etag(r)
            else:
                out.last_modified = None
                out.headers.remove("last-modified")
                out.headers.remove("etag")
        r.trace.add("ssi", decision="on", silent_errors=conf.silent,
                    last_modified=conf.last_modified, value_length=st.parser.value_len)

    async def body_filter(self, r: Request, data: bytes, last: bool) -> tuple[bytes, bool]:
        """ngx_http_ssi_body_filter: copy text, run commands, keep state across parts."""
        st: State | None = r.ctx.get(_CTX)
        if st is None or r.header_only:  # nginx passes no body of a HEAD through filters
            return data, last
        out: list[Any] = []  # text, and includes to run (_Include)
        p = st.parser
        p.begin()
        while p.pos < len(data):
            rc = p.parse(data)
            if p.copy_start != p.copy_end:
                piece = data[p.copy_start:p.copy_end]
                if st.output:
                    out.append(p.saved_bytes() + piece)
                elif st.block and (p.saved or piece):
                    st.shared.blocks[-1][1].append(p.saved_bytes() + piece)
                p.saved = 0
            p.after_command()
            if rc == AGAIN:
                continue
            if rc == OK:
                try:
                    await self._command(r, st, out)
                    continue
                except SsiError:
                    pass
            r.trace.add("ssi", command=text(p.command), result="error")
            if not st.conf.silent:
                out.append(st.errmsg)
        p.saved = p.looked
        return await _run_pending(r, st, out), last

    async def _command(self, r: Request, st: State, out: list[Any]) -> None:
        """The part of the body filter that checks a command and runs it."""
        p = st.parser
        name = text(p.command)
        cmd = _COMMANDS.get(name)
        if cmd is None:
            if st.output:
                raise _fail(r, f'invalid SSI command: "{name}"')
            return
        if not st.output and not cmd.block:
            if st.block:  # inside a block: the command is kept as text
                params = "".join(f' {text(k)}="{text(v)}"' for k, v in p.params)
                st.shared.blocks[-1][1].append(f"<!--#{name}{params} -->".encode(
                    "utf-8", "surrogateescape"))
                return
            if not cmd.conditional:
                return
        if cmd.conditional and (not st.conditional or st.conditional > cmd.conditional):
            raise _fail(r, f'invalid context of SSI command: "{name}"')
        if len(p.params) > MAX_PARAMS:
            raise _fail(r, f'too many SSI command parameters: "{name}"')
        known = dict(cmd.params)
        args: dict[str, bytes] = {}
        for k, v in p.params:
            key = text(k)
            if key not in known:
                raise _fail(r, f'invalid parameter name: "{key}" in "{name}" SSI command')
            if key in args:
                raise _fail(r, f'duplicate "{key}" parameter in "{name}" SSI command')
            args[key] = bytes(v)
        for key, mandatory in cmd.params:
            if mandatory and key not in args:
                raise _fail(r, f'mandatory "{key}" parameter is absent in "{name}" SSI command')
        if r.trace.enabled:
            r.trace.add("ssi", command=name, params={k: text(v) for k, v in args.items()})
        if name == "include":
            await _include(r, st, args, out)
        elif name == "echo":
            _echo(r, st, args, out)
        elif name == "config":
            if "timefmt" in args:
                st.timefmt = text(args["timefmt"])
            if "errmsg" in args:
                st.errmsg = args["errmsg"]
        elif name == "set":
            value = evaluate(args["value"], lambda n: _lookup(r, n), lambda m: log(r, m))
            st.shared.variables[text(args["var"]).lower()] = value
        elif name in ("if", "elif"):
            _if(r, st, name, args["expr"])
        elif name == "else":
            st.output = not st.output_chosen
            st.conditional = _COND_ELSE
        elif name == "endif":
            st.output, st.output_chosen, st.conditional = True, False, 0
        elif name == "block":
            st.shared.blocks.append((text(args["name"]), []))
            st.output, st.block = False, True
        else:  # endblock
            st.output, st.block = True, False


def _fail(r: Request, message: str) -> SsiError:
    log(r, message)
    return SsiError()


def _types(block: Block) -> frozenset[str] | None:
    """ngx_http_types_slot: text/html plus the listed types, ``*`` for all."""
    types = {"text/html"}
    for d in block.get("ssi_types"):
        for arg in d.args:
            if arg == "*":
                return None
            types.add(arg.lower())
    return frozenset(types)


def _lookup(r: Request, name: str) -> str | None:
    """ngx_http_ssi_get_variable, then nginx's: a digit is an ``if`` capture, then the
    SSI variables, then the request's (None: not found)."""
    shared = _shared(r)
    if shared is not None:
        if len(name) == 1 and name.isdigit() and int(name) < len(shared.captures):
            return shared.captures[int(name)]
        value = shared.variables.get(name)
        if value is not None:
            return value
    return r.engine.variables.get(r, name)


def _echo(r: Request, st: State, args: dict[str, bytes], out: list[bytes]) -> None:
    """ngx_http_ssi_echo: the encoding chosen sticks for later echos of the response."""
    value = _lookup(r, text(args["var"]).lower())
    raw = value.encode("utf-8", "surrogateescape") if value is not None else \
        args.get("default", b"(none)")
    if not raw:
        return
    enc = args.get("encoding")
    if enc is not None:
        mode = {b"none": _NONE, b"url": _URL, b"entity": _ENTITY}.get(enc)
        if mode is None:
            log(r, f'unknown encoding "{text(enc)}" in the "echo" command')
        else:
            st.encoding = mode
    if st.encoding == _URL:
        raw = url_escape(raw)
    elif st.encoding == _ENTITY:
        raw = b"".join(_HTML.get(c, bytes((c,))) for c in raw)
    out.append(raw)


def _if(r: Request, st: State, name: str, expr: bytes) -> None:
    """ngx_http_ssi_if and elif: an ``if`` may not nest; after a true branch the later
    ones are not evaluated."""
    if name == "if" and st.conditional:
        raise _fail(r, 'the "if" command inside the "if" command')
    if st.output_chosen:
        st.output = False
        return
    true, captured = condition(expr, lambda v: _lookup(r, v), lambda m: log(r, m))
    if captured is not None:
        st.shared.captures, named = captured
        st.shared.variables.update(named)
    _choose(st, true)


def _choose(st: State, true: bool) -> None:
    st.output = true
    st.output_chosen = st.output_chosen or true
    st.conditional = _COND_IF


async def _include(r: Request, st: State, args: dict[str, bytes], out: list[Any]) -> None:
    """ngx_http_ssi_include: a subrequest whose body goes where the command was."""
    uri, file, wait = args.get("virtual"), args.get("file"), args.get("wait")
    set_, stub = args.get("set"), args.get("stub")
    if uri is not None and file is not None:
        raise _fail(r, f'inclusion may be either virtual="{text(uri)}" or file="{text(file)}"')
    if uri is None and file is None:
        raise _fail(r, 'no parameter in "include" SSI command')
    if set_ is not None and stub is not None:
        raise _fail(r, '"set" and "stub" cannot be used together in "include" SSI command')
    if wait is not None:
        if uri is None:
            raise _fail(r, f'"wait" cannot be used with file="{text(file or b"")}"')
        if wait.lower() not in (b"yes", b"no"):
            raise _fail(r, f'invalid value "{text(wait)}" in the "wait" parameter')
    prefix = r.uri[:r.uri.rfind("/") + 1]
    target = evaluate(uri if uri is not None else file or b"", lambda n: _lookup(r, n),
                      lambda m: log(r, m), prefix)
    path, query = split_unsafe(target)
    if path is None:
        raise _fail(r, f'unsafe URI "{query}" was detected')
    shared = st.shared
    found = None
    if stub is not None:
        found = next((b for n, b in shared.blocks if n == text(stub)), None)
        if found is None:
            raise _fail(r, f'"stub"="{text(stub)}" for "include" not found')
    depth, up = 0, r
    while up.parent is not None:
        depth, up = depth + 1, up.parent
    if depth + 1 >= _MAX_DEPTH:
        raise _fail(r, f'subrequests cycle while processing "{path}"')
    include = _Include(path, query, found)
    if set_ is None and (wait is None or wait.lower() != b"yes"):
        # posted: it runs once SSI has parsed the rest of this part (_run_pending)
        out.append(include)
        return
    # a waited include (set= waits too): the ones posted before run first, then this
    # one, and SSI goes on parsing only after it
    rest = await _run_pending(r, st, out)
    out.clear()
    if rest and set_ is None:
        await _downstream(r, st, rest)
    elif rest:
        out.append(rest)
    parts, failed = await _subrequest(r, st, include)
    if set_ is not None:
        shared.variables[text(set_).lower()] = "" if failed else text(b"".join(parts))
        return
    for part in parts:
        if part:
            await _downstream(r, st, part)


@dataclass(slots=True)
class _Include:
    """An include whose subrequest is posted: its URI, and the stub block to show
    instead of an empty or failed answer."""
    path: str
    query: str
    stub: list[bytes] | None


async def _subrequest(r: Request, st: State, include: _Include) -> tuple[list[bytes], bool]:
    """Run an include's subrequest: its body parts, and whether it failed."""
    st.including = True
    try:
        child = await run_subrequest(r, include.path, include.query, by="ssi include")
        parts = child.ctx.pop("keep:subrequest_body", [])
        failed = bool(getattr(child, "err_status", 0))
        if include.stub is not None and (failed or not b"".join(parts)):
            parts = [await _stub(r, child, b"".join(include.stub))]
    finally:
        st.including = False
    return parts, failed


async def _run_pending(r: Request, st: State, out: list[Any]) -> bytes:
    """nginx's posted subrequests: the includes of a part run after SSI has parsed it,
    in order, each sending on what came before it (an include flushes, cmd->flush), so
    they see the SSI variables as the whole part left them. The text after the last
    one is returned."""
    text_parts: list[bytes] = []
    for item in out:
        if isinstance(item, bytes):
            text_parts.append(item)
            continue
        if text_parts:
            await _downstream(r, st, b"".join(text_parts))
            text_parts.clear()
        parts, _ = await _subrequest(r, st, item)
        for part in parts:
            if part:
                await _downstream(r, st, part)
    return b"".join(text_parts)


async def _downstream(r: Request, st: State, data: bytes) -> None:
    """Pass ``data`` now to the body filters after SSI's: the postpone filter hands each
    part of an include to the main request's chain as it comes, so each is a chunk of
    its own on the wire (and in ``$body_bytes_sent``)."""
    await r.engine.next_body_filter(r, st.filter, data, False)


async def _stub(r: Request, child: Request, stub: bytes) -> bytes:
    """ngx_http_ssi_stub_output: the block, through the subrequest's own filters (its
    header, when it had none to send, with the parent's type)."""
    engine = r.engine
    if getattr(child, "err_status", 0):
        child.ctx.pop(_CTX, None)
        child.header_sent = False
        child.out.content_type = r.out.content_type
        child.out.content_length = None
        await engine.send_header(child)
    child.response_done = False
    await engine.output(child, stub, True)
    return b"".join(child.ctx.pop("keep:subrequest_body", ()))
