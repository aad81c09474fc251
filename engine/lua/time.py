"""Cached time as nginx keeps it (``ngx_time_update``) and the ``ngx.*`` time functions.

Why a cache: nginx reads the system clock once per event-loop turn, so ``ngx.now()``
does not advance inside a handler unless ``ngx.update_time()`` is called. The engine
calls :meth:`Clock.update` once per loop turn; every worker VM installed with the same
``Clock`` sees the same time. ``ngx.now()`` is ``sec + msec / 1000.0`` (millisecond
resolution), as in ``ngx_http_lua_ffi_now``.

``ngx.req.start_time`` belongs to the request API (another module); it can read
:meth:`Clock.now` when the request is created.
"""

from __future__ import annotations

import time as _time
from typing import Any, Callable

from engine.lua._loader import load_chunk

from ..http.parse_time import parse_http_time

_WDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Clock:
    """The cached wall clock; ``source`` returns seconds (float), default ``time.time``.

    Tests may pass a fake source (or call :meth:`set`) to freeze or step time.
    """

    def __init__(self, source: Callable[[], float] | None = None) -> None:
        self.source = source or _time.time
        self.sec = 0
        self.msec = 0
        self.update()

    def update(self) -> None:
        """Re-read the source, truncating to milliseconds like ``ngx_time_update``."""
        ms = int(self.source() * 1000)
        self.sec, self.msec = divmod(ms, 1000)

    def set(self, seconds: float) -> None:
        """Pin the cached time (for tests and deterministic replays)."""
        ms = int(seconds * 1000)
        self.sec, self.msec = divmod(ms, 1000)

    def now(self) -> float:
        return self.sec + self.msec / 1000.0

    def time(self) -> int:
        return self.sec

    def today(self) -> bytes:
        return _time.strftime("%Y-%m-%d", _time.localtime(self.sec)).encode()

    def localtime(self) -> bytes:
        return _time.strftime("%Y-%m-%d %H:%M:%S", _time.localtime(self.sec)).encode()

    def utctime(self) -> bytes:
        return _time.strftime("%Y-%m-%d %H:%M:%S", _time.gmtime(self.sec)).encode()


def _gmtime(sec: float) -> _time.struct_time | None:
    try:
        # the FFI casts the Lua number to time_t; ngx_gmtime() treats negatives as 0
        return _time.gmtime(max(int(sec), 0))
    except (OverflowError, OSError, ValueError):
        return None


def http_time(sec: float) -> bytes:
    """``Thu, 18 Nov 2010 11:27:35 GMT`` (``ngx_http_time``; year padded with ``%4d``)."""
    tm = _gmtime(sec)
    if tm is None:
        return b""
    return ("%s, %02d %s %4d %02d:%02d:%02d GMT" % (
        _WDAYS[tm.tm_wday], tm.tm_mday, _MONTHS[tm.tm_mon - 1], tm.tm_year,
        tm.tm_hour, tm.tm_min, tm.tm_sec)).encode()


def cookie_time(sec: float) -> bytes:
    """``Thu, 18-Nov-10 11:27:35 GMT``; four-digit years after 2037 (``ngx_http_cookie_time``)."""
    tm = _gmtime(sec)
    if tm is None:
        return b""
    year = "%d" % tm.tm_year if tm.tm_year > 2037 else "%02d" % (tm.tm_year % 100)
    return ("%s, %02d-%s-%s %02d:%02d:%02d GMT" % (
        _WDAYS[tm.tm_wday], tm.tm_mday, _MONTHS[tm.tm_mon - 1], year,
        tm.tm_hour, tm.tm_min, tm.tm_sec)).encode()


def install(lua: Any, ngx: Any, clock: Clock) -> None:
    """Set ``ngx.now``, ``ngx.time``, ... on ``ngx``, all reading ``clock``."""
    py = lua.table_from({
        b"now": clock.now, b"time": clock.time, b"update": clock.update,
        b"today": clock.today, b"localtime": clock.localtime, b"utctime": clock.utctime,
        b"http_time": http_time, b"cookie_time": cookie_time,
        b"parse_http_time": parse_http_time,
    })
    load_chunk(lua, "time")(ngx, py)
