"""Configuration errors, worded exactly as ``nginx -t`` words them."""

from __future__ import annotations


class ConfigError(Exception):
    """An ``[emerg]`` while reading the configuration.

    ``str(err)`` is the text nginx prints after ``nginx: ``, e.g.
    ``[emerg] unknown directive "foo" in /etc/nginx/nginx.conf:12``.
    """

    def __init__(self, message: str, file: str | None = None, line: int | None = None,
                 level: str = "emerg") -> None:
        self.message = message
        self.file = file
        self.line = line
        self.level = level
        #: the [warn] lines (message, file, line) nginx printed before this error
        self.warnings: list[tuple[str, str | None, int]] = []
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.file is None:
            where = ""
        elif self.line is None:  # e.g. "in command line" for -g
            where = f" in {self.file}"
        else:
            where = f" in {self.file}:{self.line}"
        return f"[{self.level}] {self.message}{where}"
