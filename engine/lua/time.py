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

_WDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MDAY = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


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


def _digits(v: bytes, p: int, n: int) -> int | None:
    chunk = v[p:p + n]
    if len(chunk) != n or not chunk.isdigit():
        return None
    return int(chunk)


def parse_http_time(value: bytes) -> int | None:
    """nginx's ``ngx_parse_http_time``: RFC 822, RFC 850 and asctime dates; None if bad.

    Follows the C parser step by step (it is lenient in the same places: the weekday is
    skipped unread, anything after the seconds is ignored, a zero day is accepted).
    """
    end = len(value)
    v = value + b"\0" * 32  # the C code peeks past the end inside its NUL-terminated buffer
    fmt = "rfc"
    p = 0
    while p < end:
        if v[p] == 0x2C:
            break
        if v[p] == 0x20:
            fmt = "isoc"
            break
        p += 1
    p += 1
    while p < end and v[p] == 0x20:
        p += 1
    if end - p < 18:
        return None
    day = 0
    if fmt != "isoc":
        day = _digits(v, p, 2)
        if day is None:
            return None
        p += 2
        if v[p] == 0x20:
            if end - p < 18:
                return None
            fmt = "rfc822"
        elif v[p] == 0x2D:
            fmt = "rfc850"
        else:
            return None
        p += 1
    c = chr(v[p])
    if c == "J":
        month = 0 if v[p + 1] == ord("a") else 5 if v[p + 2] == ord("n") else 6
    elif c == "M":
        month = 2 if v[p + 2] == ord("r") else 4
    elif c == "A":
        month = 3 if v[p + 1] == ord("p") else 7
    else:
        month = {"F": 1, "S": 8, "O": 9, "N": 10, "D": 11}.get(c, -1)
        if month < 0:
            return None
    p += 3
    if (fmt == "rfc822" and v[p] != 0x20) or (fmt == "rfc850" and v[p] != 0x2D):
        return None
    p += 1
    year = 0
    if fmt == "rfc822":
        year = _digits(v, p, 4)
        if year is None:
            return None
        p += 4
    elif fmt == "rfc850":
        year = _digits(v, p, 2)
        if year is None:
            return None
        year += 2000 if year < 70 else 1900
        p += 2
    if fmt == "isoc":
        if v[p] == 0x20:
            p += 1
        d1 = _digits(v, p, 1)
        if d1 is None:
            return None
        day = d1
        p += 1
        if v[p] != 0x20:
            d2 = _digits(v, p, 1)
            if d2 is None:
                return None
            day = day * 10 + d2
            p += 1
        if end - p < 14:
            return None
    if v[p] != 0x20:
        return None
    p += 1
    hour = _digits(v, p, 2)
    if hour is None or v[p + 2] != 0x3A:
        return None
    p += 3
    minute = _digits(v, p, 2)
    if minute is None or v[p + 2] != 0x3A:
        return None
    p += 3
    sec = _digits(v, p, 2)
    if sec is None:
        return None
    p += 2
    if fmt == "isoc":
        if v[p] != 0x20:
            return None
        p += 1
        year = _digits(v, p, 4)
        if year is None:
            return None
    if hour > 23 or minute > 59 or sec > 59:
        return None
    if day == 29 and month == 1:
        if (year & 3) or (year % 100 == 0 and year % 400 != 0):
            return None
    elif day > _MDAY[month]:
        return None
    month -= 1
    if month <= 0:
        month += 12
        year -= 1
    days = (365 * year + year // 4 - year // 100 + year // 400 + 367 * month // 12 - 30
            + day - 1 - 719527 + 31 + 28)
    return days * 86400 + hour * 3600 + minute * 60 + sec


def install(lua: Any, ngx: Any, clock: Clock) -> None:
    """Set ``ngx.now``, ``ngx.time``, ... on ``ngx``, all reading ``clock``."""
    py = lua.table_from({
        b"now": clock.now, b"time": clock.time, b"update": clock.update,
        b"today": clock.today, b"localtime": clock.localtime, b"utctime": clock.utctime,
        b"http_time": http_time, b"cookie_time": cookie_time,
        b"parse_http_time": parse_http_time,
    })
    load_chunk(lua, "time")(ngx, py)
