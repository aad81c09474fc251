"""The pid file and the signals, as nginx's master uses them.

``ngx-explore serve`` writes its pid where nginx would (the ``pid`` directive, else
``logs/nginx.pid`` under the prefix), and ``ngx-explore -s reload|stop|quit|reopen``
reads it back and sends nginx's signal, with nginx's messages when that fails.
"""

from __future__ import annotations

import os
import signal

from ..conf.ast import ParsedConfig

#: ``-s`` names → the signal nginx's master understands.
SIGNALS: dict[str, signal.Signals] = {
    "reload": signal.SIGHUP,
    "stop": signal.SIGTERM,
    "quit": signal.SIGQUIT,
    "reopen": signal.SIGUSR1,
}


class ControlError(Exception):
    """A failure nginx reports with ``nginx: [level] ...``; ``str()`` is that text."""

    def __init__(self, level: str, message: str) -> None:
        super().__init__(f"[{level}] {message}")


def pid_path(parsed: ParsedConfig) -> str:
    """Where the pid file lives for this configuration."""
    path = "logs/nginx.pid"
    for d in parsed.directives:
        if d.name == "pid" and d.args:
            path = d.args[0]
    return path if os.path.isabs(path) else os.path.join(parsed.prefix, path)


def write_pid(path: str) -> None:
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w") as fh:
            fh.write(f"{os.getpid()}\n")
    except OSError as exc:
        raise ControlError("emerg", f'open() "{path}" failed ({exc.errno}: {exc.strerror})') \
            from None


def remove_pid(path: str) -> None:
    try:
        with open(path) as fh:
            if fh.read().strip() != str(os.getpid()):
                return  # another instance owns it now
        os.unlink(path)
    except OSError:
        pass


def read_pid(path: str) -> int:
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError as exc:
        raise ControlError("error", f'open() "{path}" failed ({exc.errno}: {exc.strerror})') \
            from None
    value = text.strip()
    if not value.isdigit():
        raise ControlError("error", f'invalid PID number "{value}" in "{path}"')
    return int(value)


def send(name: str, pid: int) -> None:
    sig = SIGNALS[name]
    try:
        os.kill(pid, sig)
    except OSError as exc:
        raise ControlError("alert", f"kill({pid}, {int(sig)}) failed "
                                    f"({exc.errno}: {exc.strerror})") from None
