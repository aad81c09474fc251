"""``ngx-explore -t`` / ``-T`` / ``-v`` / ``-V``: nginx's own config-test command line.

Same options, same output, same exit codes as ``nginx -t``:

    ngx-explore -t [-q] [-c FILE] [-p PREFIX] [-g 'DIRECTIVES;']
    ngx-explore -T ...          test, then dump every file read ("# configuration file X:")
    ngx-explore -v | -V         version (ours, with the nginx/ngx_lua versions modelled)

Messages go to stderr prefixed ``nginx: `` exactly as nginx prints them, so scripts and
muscle memory carry over; the dump goes to stdout. Nothing here ever shows a Python
traceback: an unexpected failure is reported as an ``[alert]`` and exit status 1.

Without ``-c`` the file is ``conf/nginx.conf`` under the prefix (or the current
directory): nginx's default for a source build, since we have no compiled-in path.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Sequence, TextIO

__all__ = ["Options", "parse_args", "run_test", "run_version", "main", "VERSION_LINE"]

VERSION = "0.1.0"
VERSION_LINE = f"nginx version: ngx-explore/{VERSION} (nginx/1.22.1 + ngx_lua 0.10.23 model)"


@dataclass
class Options:
    """The subset of nginx's command line that ``-t``/``-T``/``-v``/``-V`` use."""

    test: bool = False
    dump: bool = False
    quiet: bool = False
    version: bool = False
    version_full: bool = False
    conf: str | None = None
    prefix: str | None = None
    global_directives: str | None = None


class UsageError(Exception):
    """A command line nginx would reject (its own wording)."""


def parse_args(argv: Sequence[str]) -> Options:
    """Parse like ``ngx_get_options``: flags may be grouped (``-tq``), values attached
    (``-cFILE``) or separate (``-c FILE``)."""
    opts = Options()
    i = 0
    args = list(argv)
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            raise UsageError(f'invalid option: "{arg}"')
        j = 1
        while j < len(arg):
            ch = arg[j]
            j += 1
            if ch in "tTqvV":
                opts.test |= ch in "tT"
                opts.dump |= ch == "T"
                opts.quiet |= ch == "q"
                opts.version |= ch in "vV"
                opts.version_full |= ch == "V"
                continue
            if ch in "cpg":
                if j < len(arg):
                    value = arg[j:]
                elif i < len(args):
                    value = args[i]
                    i += 1
                else:
                    raise UsageError(f'option "-{ch}" requires '
                                     + {"c": "file name", "p": "prefix",
                                        "g": "parameter"}[ch])
                if ch == "c":
                    opts.conf = value
                elif ch == "p":
                    opts.prefix = value
                else:
                    opts.global_directives = value
                break
            raise UsageError(f'invalid option: "{arg[j - 1:]}"')
    return opts


def _conf_path(opts: Options) -> str:
    conf = opts.conf or "conf/nginx.conf"
    base = os.path.abspath(opts.prefix) if opts.prefix else os.getcwd()
    return os.path.normpath(os.path.join(base, conf))


def run_version(argv: Sequence[str] | Options = (), err: TextIO | None = None) -> int:
    """``-v``/``-V``: our version line; ``-V`` adds what the model covers."""
    err = err or sys.stderr
    opts = argv if isinstance(argv, Options) else parse_args(argv)
    print(VERSION_LINE, file=err)
    if opts.version_full:
        from engine.conf.catalog import DYNAMIC_MODULES, module_names
        mods = [m for m in module_names() if m not in DYNAMIC_MODULES]
        print(f"built with Python {sys.version.split()[0]}", file=err)
        print("modules in the directive catalog: " + " ".join(mods), file=err)
    return 0


def run_test(argv: Sequence[str] | Options, out: TextIO | None = None,
             err: TextIO | None = None) -> int:
    """``-t``/``-T``: load the configuration like ``nginx -t``; 0 if it is valid."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        opts = argv if isinstance(argv, Options) else parse_args(argv)
    except UsageError as e:
        print(f"nginx: {e}", file=err)
        return 1
    conf = _conf_path(opts)
    try:
        from engine.conf import ConfigError, PostParseError, load
    except Exception as e:  # pragma: no cover - broken install
        print(f"nginx: [alert] cannot import the engine: {e}", file=err)
        return 1
    ok_lines = [f"nginx: the configuration file {conf} syntax is ok",
                f"nginx: configuration file {conf} test is successful"]

    def failed(message: str, warnings: Sequence[tuple[str, str | None, int]] = (),
               after_reading: bool = False) -> int:
        """nginx's lines for a configuration that fails: the warnings printed while
        reading, "syntax is ok" when the error was found after the file was read (unless
        -q), the error, then "test failed"."""
        _print_warnings(list(warnings), err)
        if after_reading and not opts.quiet:
            print(ok_lines[0], file=err)
        print(f"nginx: {message}", file=err)
        print(f"nginx: configuration file {conf} test failed", file=err)
        return 1

    try:
        parsed = load(conf, prefix=opts.prefix, global_directives=opts.global_directives)
    except ConfigError as e:
        return failed(str(e), e.warnings, isinstance(e, PostParseError))
    except RecursionError:
        return failed("[emerg] configuration nested too deeply")
    except Exception as e:  # never a traceback on the command line
        return failed(f"[alert] internal error: {type(e).__name__}: {e}")
    try:  # what nginx checks while its modules initialise: variables, regexes, log formats
        from engine import Engine  # (-t runs no init_by_lua: ngx_lua skips it when testing)
        engine = Engine(parsed, options={"lua_watchdog": 5.0, "test_config": True})
    except ConfigError as e:
        return failed(str(e), parsed.warnings, isinstance(e, PostParseError))
    except Exception as e:  # never a traceback on the command line
        return failed(f"[alert] internal error: {type(e).__name__}: {e}")
    try:  # nginx loads the certificates while it reads the configuration
        from engine.server.tls import TlsError, load_certificates
        load_certificates(engine)
    except TlsError as e:
        return failed(f"[emerg] {e}")
    from engine.conf.catalog.value_checks import cycle_error
    msg = cycle_error(parsed.directives)  # what ngx_init_cycle checks after reading
    if msg:
        return failed(f"[emerg] {msg}", parsed.warnings, after_reading=True)
    for warning in engine.warnings:  # -q keeps them, as nginx does
        print(f"nginx: [warn] {warning}", file=err)
    if not opts.quiet:
        for line in ok_lines:
            print(line, file=err)
    if opts.dump:
        err.flush()
        _dump(parsed.files.values(), out)
    return 0


def _print_warnings(warnings: list[tuple[str, str | None, int]], err: TextIO) -> None:
    """The ``[warn]`` lines nginx printed while reading, before the error that stopped it."""
    for msg, file, line in warnings:
        where = f" in {file}" if file in (None, "command line") else f" in {file}:{line}"
        print(f"nginx: [warn] {msg}{where if file else ''}", file=err)


def _dump(files: object, out: TextIO) -> None:
    """``-T``: every file once, in the order read, bytes as they are on disk."""
    buf = getattr(out, "buffer", None)
    for f in files:  # type: ignore[attr-defined]
        chunk = f"# configuration file {f.path}:\n{f.text}\n"
        if buf is not None:
            out.flush()
            buf.write(chunk.encode("utf-8", "surrogateescape"))
        else:
            out.write(chunk)
    out.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch as nginx does: ``-v``/``-V`` print the version and stop unless ``-t``."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        opts = parse_args(args)
    except UsageError as e:
        print(f"nginx: {e}", file=sys.stderr)
        return 1
    if opts.version:
        run_version(opts)
        if not opts.test:
            return 0
    if opts.test:
        return run_test(opts)
    print("nginx: nothing to do: use -t, -T, -v or -V", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
