"""What nginx learns from ``User-Agent`` (ngx_http_process_user_agent).

nginx classifies the browser once per request with a few substring tests; the flags
steer core behaviour a config can observe: the padding of error pages for MSIE and
Chrome (``msie_padding``), ``msie_refresh``, ``keepalive_disable msie6|safari`` and the
``$msie`` variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Browser:
    msie: bool = False
    #: MSIE 4 and 5, and 6 without "SV1" (the one without XP SP2's fixes).
    msie6: bool = False
    opera: bool = False
    gecko: bool = False
    chrome: bool = False
    safari: bool = False
    konqueror: bool = False


UNKNOWN = Browser()


@lru_cache(maxsize=256)
def browser(user_agent: str | None) -> Browser:
    """nginx's tests, in its order: "MSIE " (with at least three characters after it),
    "Opera" cancels MSIE, then "Gecko/", "Chrome/", "Safari/" with "Mac OS X", and
    "Konqueror" for the rest."""
    if not user_agent:
        return UNKNOWN
    ua = user_agent
    msie = msie6 = False
    at = ua.find("MSIE ")
    if at >= 0 and at + 7 < len(ua):
        msie = True
        if ua[at + 6] == ".":
            major = ua[at + 5]
            if major in "45":
                msie6 = True
            elif major == "6" and "SV1" not in ua[at + 8:]:
                msie6 = True
    opera = "Opera" in ua
    if opera:
        msie = msie6 = False
    gecko = chrome = safari = konqueror = False
    if not msie and not opera:
        if "Gecko/" in ua:
            gecko = True
        elif "Chrome/" in ua:
            chrome = True
        elif "Safari/" in ua and "Mac OS X" in ua:
            safari = True
        elif "Konqueror" in ua:
            konqueror = True
    return Browser(msie, msie6, opera, gecko, chrome, safari, konqueror)
