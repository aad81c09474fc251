"""nginx's ``ngx_parse_http_time`` (src/core/ngx_parse_time.c): the dates of
``If-Modified-Since``, ``If-Unmodified-Since``, ``If-Range`` and ``ngx.parse_http_time``.

nginx's own parser, not a general one: it is lenient where nginx is (a month known by a
letter or two, the weekday skipped unread, anything after the time ignored, day 0
accepted), so conditional requests agree with nginx where ``email.utils`` would not.
"""

from __future__ import annotations

_MDAY = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


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
