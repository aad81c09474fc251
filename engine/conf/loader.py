"""Reading a whole configuration: files, ``include``, ``-g``, and nginx's parse-time checks.

:func:`load` is the public entry point. It plays ``ngx_init_cycle``'s part of the work:
the ``-g`` string first (as ``command line``), then the main file, following every
``include`` at the moment nginx would (in the middle of the including block, in that
block's context). Each directive is validated as the parser shifts it, in the order of
``ngx_conf_handler``: context, ``;``/``{`` terminator, argument count, then the
handler's own checks (flags, duplicates, ``location``, ``listen``, ``log_format``...),
so the first error in file order is the one reported, with nginx's wording.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

from .ast import Comment, ConfigFile, Directive, ParsedConfig
from .catalog import CUSTOM_BLOCKS, DUP_GROUPS, build_table, checks, slots
from .catalog import merge_checks
from .catalog.misc_checks import misc_warnings
from .catalog.shm_zones import ShmZones
from .directives import Ctx, DirectiveSpec, DirectiveTable
from .errors import ConfigError
from .parser import Tok, parse_text

__all__ = ["load", "load_text", "default_prefix", "PostParseError", "BUNDLED_MIME_TYPES"]

#: Our copy of nginx's mime.types, used when ``include mime.types;`` finds no file.
BUNDLED_MIME_TYPES = str(Path(__file__).with_name("mime.types"))

COMMAND_LINE = "command line"


_MISS: Any = object()


class PostParseError(ConfigError):
    """An error nginx reports after ``syntax is ok`` (module init, e.g. no events)."""


_table_cache: DirectiveTable | None = None


def default_prefix(conf_path: str) -> str:
    """Our stand-in for nginx's compiled-in prefix (documented in docs/config.md).

    The parent of the conf file's directory when that directory is named ``conf`` (the
    nginx source layout, ``PREFIX/conf/nginx.conf``), else the conf file's directory.
    """
    conf_dir = os.path.dirname(os.path.abspath(conf_path))
    if os.path.basename(conf_dir) == "conf":
        return os.path.dirname(conf_dir)
    return conf_dir


class _Frame:
    """One open block while parsing: what nginx keeps in ``cf->cmd_type``/``cf->ctx``."""

    __slots__ = ("ctx", "kind", "seen", "directive", "locations", "loc", "servers", "types",
                 "listens", "cert", "certs", "keys", "exts", "ssl")

    def __init__(self, ctx: Ctx, kind: str, directive: Directive | None = None) -> None:
        self.ctx = ctx
        #: block name for custom-content blocks (types, map...), "" otherwise
        self.kind = kind
        #: duplicate-check slots already set in this block: slot -> directive name
        self.seen: dict[str, str] = {}
        self.directive = directive
        #: static/regex/named locations directly inside (for the duplicate check)
        self.locations: list[checks.Location] = []
        #: this frame's own location record, if it is a location
        self.loc: checks.Location | None = None
        #: for the http frame: the server frames, in order
        self.servers: list[_Frame] = []
        #: MIME types each ``*_types`` directive of this block listed so far
        self.types: dict[str, set[str]] = {}
        #: for the http frame: every listen address so far (ngx_http_add_addresses)
        self.listens = checks.ListenTable()
        #: ssl_certificate (or ssl_reject_handshake on) given in this block
        self.cert = False
        #: the ssl_certificate names and the number of ssl_certificate_key of this block
        self.certs: list[str] = []
        self.keys = 0
        #: the block's own deprecated ``ssl on|off``: (on, file, line)
        self.ssl: tuple[bool, str, int] | None = None
        #: extension -> MIME type of this block's ``types`` entries so far
        self.exts: dict[str, str] = {}


class _Loader:
    """The parser's sink: builds Directives, validates, follows includes."""

    def __init__(self, table: DirectiveTable, conf_prefix: str) -> None:
        self.table = table
        self.conf_prefix = conf_prefix
        self.frames: list[_Frame] = [_Frame(Ctx.MAIN, "")]
        self.files: dict[str, ConfigFile] = {}
        self.comments: list[Comment] = []
        self.file = ""
        self.reading: list[str] = []
        self.log_formats: set[str] = {"combined"}
        #: nginx's [warn] lines while parsing: (message, file, line)
        self.warnings: list[tuple[str, str | None, int]] = []
        #: (name, context) -> spec, or None for "not allowed here"
        self.spec_cache: dict[tuple[str, Ctx], DirectiveSpec | None] = {}
        self.shm_zones = ShmZones()

    # -- files -----------------------------------------------------------------------

    def read_file(self, path: str, where: tuple[str, int] | None) -> str:
        """Read one file as nginx does; errors carry the including directive's place."""
        file, line = where if where else (None, None)
        try:
            data = Path(path).read_bytes()
        except IsADirectoryError as e:
            raise ConfigError(f'pread() "{path}" failed ({e.errno}: {e.strerror})',
                              level="crit") from None
        except OSError as e:
            raise ConfigError(f'open() "{path}" failed ({e.errno}: {e.strerror})',
                              file, line) from None
        return data.decode("utf-8", "surrogateescape")

    def parse_file(self, path: str, where: tuple[str, int] | None) -> list[Directive]:
        if path in self.reading:
            file, line = where if where else (None, None)
            raise ConfigError(f'include cycle: "{path}" is already being read '
                              f'(included from {" -> ".join(self.reading)})', file, line)
        text = self.read_file(path, where)
        self.files.setdefault(path, ConfigFile(path, text))
        outer = self.file
        self.file = path
        self.reading.append(path)
        try:
            return parse_text(text, path, self, self.comments)
        finally:
            self.reading.pop()
            self.file = outer

    def include(self, d: Directive, line: int) -> None:
        """``include``: relative to the conf prefix; globs sorted; no match is fine."""
        pattern = d.args[0]
        path = pattern if os.path.isabs(pattern) else os.path.join(self.conf_prefix, pattern)
        where = (self.file, line)
        if any(c in pattern for c in "*?["):
            paths = sorted(glob.glob(path))
        else:
            paths = [path]
            if not os.path.exists(path) and os.path.basename(path) == "mime.types":
                paths = [BUNDLED_MIME_TYPES]
        d.block = []
        d.included = []
        for p in paths:
            d.included.append(p)
            d.block.extend(self.parse_file(p, where))

    # -- validation (ngx_conf_handler) ------------------------------------------------

    def _error(self, msg: str, line: int) -> ConfigError:
        if self.file == COMMAND_LINE:
            return ConfigError(msg, COMMAND_LINE, None)
        return ConfigError(msg, self.file, line)

    def find_spec(self, tok: Tok, block: bool) -> DirectiveSpec:
        """Context, terminator and arity checks, in ngx_conf_handler's order."""
        name = tok.args[0]
        line = tok.end_line
        key = (name, self.frames[-1].ctx)
        spec = self.spec_cache.get(key, _MISS)
        if spec is _MISS:
            spec = self.spec_cache[key] = self._lookup(name, key[1], line)
        if spec is None:
            raise self._error(f'"{name}" directive is not allowed here', line)
        if spec.block != block:
            if block:
                raise self._error(f'directive "{name}" is not terminated by ";"', line)
            raise self._error(f'directive "{name}" has no opening "{{"', line)
        nargs = len(tok.args) - 1
        if not spec.accepts(nargs) or (nargs > 7 and isinstance(spec.arity, tuple)
                                       and spec.arity[1] is not None):
            raise self._error(f'invalid number of arguments in "{name}" directive', line)
        return spec

    def _lookup(self, name: str, ctx: Ctx, line: int) -> DirectiveSpec | None:
        """The first spec of that name allowed in ``ctx`` (nginx walks modules in order)."""
        specs = self.table.lookup(name)
        if not specs:
            # nginx prints the name with %s: a NUL byte ends it
            raise self._error(f'unknown directive "{name.split(chr(0))[0]}"', line)
        for spec in specs:
            if spec.contexts & ctx:
                return spec
        return None

    def check_duplicate(self, spec: DirectiveSpec, name: str, line: int,
                        message: str | None = None) -> None:
        if spec.multi:
            return
        seen = self.frames[-1].seen
        slot = "root|alias" if name in ("root", "alias") else DUP_GROUPS.get(name, name)
        first = seen.get(slot)
        if first is None:
            seen[slot] = name
            return
        if message:
            raise self._error(message, line)
        if first != name and slot == "root|alias":
            raise self._error(f'"{name}" directive is duplicate, "{first}" directive was '
                              "specified earlier", line)
        raise self._error(f'"{name}" directive is duplicate', line)

    def handler_checks(self, spec: DirectiveSpec, d: Directive, line: int) -> None:
        """What each directive's handler rejects at parse time (nginx's wording)."""
        name = d.name
        if spec.arity == "flag":
            value = d.args[0].lower()
            if value not in ("on", "off"):
                raise self._error(f'invalid value "{d.args[0]}" in "{name}" directive, '
                                  'it must be "on" or "off"', line)
        if name == "location" and spec.module == "ngx_http_core_module":
            parent = self.frames[-1].loc
            loc = checks.location(d, parent, self.file, line)
            self.frames[-1].locations.append(loc)
            return
        if name == "alias" and spec.module == "ngx_http_core_module":
            loc = self.frames[-1].loc
            if loc is not None and loc.named:
                raise self._error('the "alias" directive cannot be used inside the named '
                                  "location", line)
        if name == "log_format":
            if d.args[0] in self.log_formats:
                raise self._error(f'duplicate "log_format" name "{d.args[0]}"', line)
            self.log_formats.add(d.args[0])
            return
        if name in checks.TYPES_DIRECTIVES:
            listed = self.frames[-1].types.setdefault(name, {"text/html"})
            for message in checks.duplicate_types(d.args, listed):
                self.warnings.append((message, self.file, line))
        msg = checks.handler_error(spec, d, self.log_formats, self.frames[-1].seen.keys())
        for message in misc_warnings(d) if msg is None else ():
            self.warnings.append((message, self.file, line))
        if msg is None and not spec.module.startswith(("ngx_stream", "ngx_mail")):
            msg = slots.slot_error(d)
            for message in slots.slot_warnings(d) if msg is None else ():
                self.warnings.append((message, self.file, line))
        if msg is None and name == "listen" and spec.module == "ngx_http_core_module":
            msg = self.frames[-2].listens.add(self.frames[-1], d.args)
        if name == "server_name" and spec.module == "ngx_http_core_module":
            found: list[str] = []
            msg = checks.server_names(d.args, found)
            self.warnings.extend((w, self.file, line) for w in found)
        if msg is None and spec.module.startswith("ngx_http"):
            msg = self.shm_zones.add(d)
        if msg:
            raise self._error(msg, line)
        if name == "ssl_certificate" or (name == "ssl_reject_handshake"
                                         and d.args[0].lower() == "on"):
            self.frames[-1].cert = True
        if name == "ssl" and spec.module == "ngx_http_ssl_module":
            self.warnings.append(('the "ssl" directive is deprecated, use the "listen ... '
                                  'ssl" directive instead', self.file, line))
            self.frames[-1].ssl = (d.args[0].lower() == "on", self.file, line)
        if name == "ssl_certificate":
            self.frames[-1].certs.append(d.args[0])
        elif name == "ssl_certificate_key":
            self.frames[-1].keys += 1
        if spec.check is not None:
            spec.check(d)

    def new_directive(self, tok: Tok) -> Directive:
        return Directive(tok.args[0], tok.args[1:], self.file, tok.line,
                         quoted=tok.quoted[1:], end_line=tok.end_line,
                         head_line=tok.end_line)

    # -- sink callbacks ----------------------------------------------------------------

    def directive(self, tok: Tok) -> Directive:
        frame = self.frames[-1]
        d = self.new_directive(tok)
        if frame.kind:
            self.custom_entry(frame, d, tok.end_line)
            return d
        spec = self.find_spec(tok, False)
        self.check_duplicate(spec, d.name, tok.end_line)
        self.handler_checks(spec, d, tok.end_line)
        if d.name == "include":
            self.include(d, tok.end_line)
        return d

    def custom_entry(self, frame: _Frame, d: Directive, line: int) -> None:
        msg = checks.custom_entry(frame.kind, d)
        if msg:
            raise self._error(msg, line)
        if frame.kind == "types" and d.name != "include":
            found: list[str] = []
            checks.types_entry(d, self.frames[-2].exts, found)
            self.warnings.extend((w, self.file, line) for w in found)
        if d.name == "include" and frame.kind in ("types", "map", "geo"):
            self.include(d, line)

    def block_start(self, tok: Tok) -> Directive:
        frame = self.frames[-1]
        if frame.kind:
            raise self._error('unexpected "{"', tok.end_line)
        spec = self.find_spec(tok, True)
        d = self.new_directive(tok)
        self.check_duplicate(spec, d.name, tok.end_line)
        self.handler_checks(spec, d, tok.end_line)
        child = _Frame(self.child_ctx(spec, frame), "", d)
        if d.name in CUSTOM_BLOCKS or spec.module in ("ngx_mail_module", "ngx_stream_module"):
            child.kind = d.name
        if d.name == "location" and frame.locations:
            child.loc = frame.locations[-1]
        if d.name == "server" and frame.ctx == Ctx.HTTP:
            frame.servers.append(child)
        self.frames.append(child)
        return d

    @staticmethod
    def child_ctx(spec: DirectiveSpec, parent: _Frame) -> Ctx:
        name = spec.name
        if name == "events":
            return Ctx.EVENTS
        if name == "http":
            return Ctx.HTTP
        if name == "server" and parent.ctx == Ctx.HTTP:
            return Ctx.SRV
        if name == "upstream":
            return Ctx.UPS
        if name == "location":
            return Ctx.LOC
        if name == "if":
            return Ctx.SIF if parent.ctx == Ctx.SRV else Ctx.LIF
        if name == "limit_except":
            return Ctx.LMT
        if name == "types":
            return Ctx.TYPES
        if name in CUSTOM_BLOCKS:
            return Ctx.MAP
        return Ctx(0)

    def block(self, children: list[Any]) -> Directive:
        d: Directive = children[0]
        end: Tok = children[-1]
        d.block = children[1:-1]
        d.end_line = end.line
        frame = self.frames.pop()
        if frame.kind == "split_clients":
            msg = checks.split_clients_total(d.block)
            if msg:
                raise self._error(msg, end.line)
        if d.name == "http":
            err = checks.duplicate_locations([s.locations for s in frame.servers])
            if err:
                raise ConfigError(*err)
            for srv in frame.servers:  # ngx_http_ssl_merge_srv_conf, server by server
                # each list is inherited on its own (ngx_conf_merge_ptr_value)
                certs, keys = srv.certs or frame.certs, srv.keys or frame.keys
                ssl = srv.ssl or frame.ssl
                if ssl and ssl[0]:  # "ssl on" names the directive where it was set
                    at = f'the "ssl" directive in {ssl[1]}:{ssl[2]}'
                    if not certs and not (srv.cert or frame.cert):
                        raise ConfigError(f'no "ssl_certificate" is defined for {at}')
                    if certs and not keys:
                        raise ConfigError(f'no "ssl_certificate_key" is defined for {at}')
                    if keys < len(certs):
                        raise ConfigError('no "ssl_certificate_key" is defined for '
                                          f'certificate "{certs[-1]}" and {at}')
                if certs and keys < len(certs):
                    raise ConfigError('no "ssl_certificate_key" is defined for certificate '
                                      f'"{certs[-1]}"', None, None)
            msg = merge_checks.merge_error(d)
            if msg:
                raise self._error(msg, end.line)
            for srv in frame.listens.ssl_defaults():
                if not (srv.cert or frame.cert):
                    where = srv.directive
                    raise ConfigError('no "ssl_certificate" is defined for the "listen ... '
                                      f'ssl" directive in {where.file}:{where.head_line}')
        return d

    def lua_start(self, tok: Tok) -> Directive:
        frame = self.frames[-1]
        if frame.kind:
            raise self._error('unexpected "{"', tok.end_line)
        self.find_spec(tok, True)
        d = self.new_directive(tok)
        self.frames.append(_Frame(Ctx(0), "", d))
        d.block = []
        return d

    def lua_body(self, tok: Tok) -> Tok:
        return tok

    def lua_block(self, children: list[Any]) -> Directive:
        d: Directive = children[0]
        body: Tok = children[1]
        self.frames.pop()
        d.lua_source = body.value
        d.end_line = body.end_line
        spec = self.table.get(d.name, self.frames[-1].ctx)
        if spec is not None:
            self.check_duplicate(spec, d.name, body.end_line, message="is duplicate")
        d.block = None
        return d


def load(conf_path: str, prefix: str | None = None, global_directives: str | None = None,
         table: DirectiveTable | None = None) -> ParsedConfig:
    """Parse and validate a configuration like ``nginx -t -c conf_path [-p prefix] [-g ...]``.

    ``conf_path`` relative to ``prefix`` when one is given (nginx resolves ``-c`` against
    ``-p``), else to the current directory. Includes resolve against the directory of
    the main file (nginx's conf prefix). Raises :class:`ConfigError`.
    """
    if prefix is not None:
        prefix = os.path.abspath(prefix)
        conf_abs = os.path.normpath(os.path.join(prefix, conf_path))
    else:
        conf_abs = os.path.abspath(conf_path)
        prefix = default_prefix(conf_abs)
    table = table if table is not None else _default_table()
    loader = _Loader(table, os.path.dirname(conf_abs))
    top: list[Directive] = []
    if global_directives is not None:
        loader.file = COMMAND_LINE
        top.extend(parse_text(global_directives, COMMAND_LINE, loader, None, cmdline=True))
    try:
        text = loader.read_file(conf_abs, None)
        loader.files[conf_abs] = ConfigFile(conf_abs, text)
        loader.file = conf_abs
        loader.reading.append(conf_abs)
        top.extend(parse_text(text, conf_abs, loader, loader.comments))
        if "events" not in loader.frames[0].seen:
            raise PostParseError('no "events" section in configuration')
    except ConfigError as e:
        e.warnings = loader.warnings  # nginx printed them before the error
        raise
    return ParsedConfig(conf_abs, prefix, top, loader.files, loader.comments,
                        loader.warnings)


def load_text(text: str, conf_path: str = "/virtual/conf/nginx.conf",
              prefix: str | None = None, table: DirectiveTable | None = None) -> ParsedConfig:
    """Parse configuration text that is not on disk (tests, the explorer's editor).

    Includes still resolve on disk relative to ``conf_path``'s directory.
    """
    conf_abs = os.path.abspath(conf_path)
    prefix = os.path.abspath(prefix) if prefix else default_prefix(conf_abs)
    loader = _Loader(table if table is not None else _default_table(),
                     os.path.dirname(conf_abs))
    loader.files[conf_abs] = ConfigFile(conf_abs, text)
    loader.file = conf_abs
    loader.reading.append(conf_abs)
    top = parse_text(text, conf_abs, loader, loader.comments)
    if "events" not in loader.frames[0].seen:
        raise PostParseError('no "events" section in configuration')
    return ParsedConfig(conf_abs, prefix, top, loader.files, loader.comments,
                        loader.warnings)


def _default_table() -> DirectiveTable:
    """The catalog table, built once (callers passing their own table bypass this)."""
    global _table_cache
    if _table_cache is None:
        _table_cache = build_table()
    return _table_cache
