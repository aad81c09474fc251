"""``ngx-explore -s reload|stop|quit|reopen [-c CONF] [-p PREFIX] [-g ...]``.

As ``nginx -s``: read the configuration to find the pid file, read the pid, send the
signal. Failures are nginx's messages (``nginx: [error] open() ".../logs/nginx.pid"
failed (2: No such file or directory)``) with exit status 1.
"""

from __future__ import annotations

import sys
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    name = conf = prefix = globals_ = None
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a in ("-s", "-c", "-p", "-g"):
            if i >= len(args):
                print(f'nginx: option "{a}" requires '
                      + {"-s": "parameter", "-c": "file name", "-p": "prefix",
                         "-g": "parameter"}[a], file=sys.stderr)
                return 1
            value = args[i]
            i += 1
            if a == "-s":
                name = value
            elif a == "-c":
                conf = value
            elif a == "-p":
                prefix = value
            else:
                globals_ = value
        else:
            print(f'nginx: invalid option: "{a}"', file=sys.stderr)
            return 1
    from engine.server.control import SIGNALS, ControlError, pid_path, read_pid, send
    if name not in SIGNALS:
        print(f'nginx: invalid option: "-s {name}"', file=sys.stderr)
        return 1
    try:
        from engine.conf import load
        parsed = load(conf or "conf/nginx.conf", prefix=prefix, global_directives=globals_)
        send(name, read_pid(pid_path(parsed)))
    except ControlError as exc:
        print(f"nginx: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # ConfigError worded like nginx; never a traceback
        text = str(exc) if str(exc).startswith("[") else f"[emerg] {exc}"
        print(f"nginx: {text}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
