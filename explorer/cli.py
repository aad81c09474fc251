"""``ngx-explore``: the command line, shaped like nginx's own.

    ngx-explore [CONF]                      open the explorer (the bundled sample without CONF)
    ngx-explore -t|-T [-c FILE] [-p PREFIX] [-g DIRECTIVES]   test / dump the config, like nginx
    ngx-explore -v|-V                       version
    ngx-explore -s reload|stop|quit|reopen  signal a running ``serve``
    ngx-explore serve [-c] CONF ...         run the configuration's listeners
    ngx-explore request CONF 'GET /uri' ... one request through the engine, with its trace
    ngx-explore debug CONF 'GET /uri' --break FILE:LINE ...   the debugger's batch mode
    ngx-explore tour                        the samples, one concept each

Each subcommand lives in ``explorer/commands/<name>.py`` with a ``main(argv) -> int``.
"""

from __future__ import annotations

import importlib
import sys

SUBCOMMANDS = ("serve", "request", "debug", "tour")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] in SUBCOMMANDS:
            module = importlib.import_module(f"explorer.commands.{args[0]}")
            return int(module.main(args[1:]) or 0)
        if any(a in ("-t", "-T", "-v", "-V", "-q") or a.startswith(("-t", "-T")) for a in args):
            from .commands import check
            return int(check.main(args) or 0)
        if "-s" in args:
            from .commands import signal_cmd
            return int(signal_cmd.main(args) or 0)
        if any(a in ("-h", "--help", "-?") for a in args):
            print(__doc__.strip())
            return 0
        from .commands import app_cmd
        return int(app_cmd.main(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
