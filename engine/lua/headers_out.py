"""``ngx.header`` and ``ngx.resp.get_headers``: the response header list as ngx_lua writes
nginx's ``headers_out`` (ngx_http_lua_headers_out.c).

nginx keeps most response headers as elements of one list, and a pointer to the element
of some of them (Server, Date, ETag, Location...); ngx_lua writes through those pointers,
empties elements rather than removing them, and lists the fields nginx writes itself
(type, length, connection) before the list. These calls are part of the bridge the
Lua wrappers call (:class:`~.bridge.Bridge` is a :class:`HeadersOut`).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from ..http.api import wire_bytes
from ..http.parse_time import parse_http_time
from ..http.response import http_date
from ..modules.headers import CACHE_CONTROL_ARRAY, EXPIRES_EMPTIED

if TYPE_CHECKING:
    from ..http.request import Request
    from .runtime import LuaWorker

#: Response headers nginx keeps one pointer for (ngx_lua's builtin handlers): a table
#: value sets the same field again and again, so its last value is the one left.
_SINGLE_FIELDS = {"server", "date", "content-encoding", "refresh", "last-modified",
                  "content-range", "accept-ranges", "www-authenticate", "expires", "etag",
                  "e-tag", "content-length", "content-type"}
#: The fields ngx_lua sets through nginx's pointer to their element (not Content-Type,
#: which has none; not Location, whose pointer ngx_lua drops again): a set writes the
#: element's name as Lua spelled it, a clear empties that element, and a later set fills
#: it again where it stands.
_POINTER_FIELDS = _SINGLE_FIELDS - {"content-type"}
#: r.ctx keys: how many elements of nginx's header list Lua emptied (hash 0: no one writes
#: or reads them, but ngx.resp.get_headers counts them against its limit), and where the
#: emptied elements of the fields nginx points to stand (name -> (index in the
#: list, name as spelled, order made)).
HIDDEN = "keep:lua_hidden_headers"
HIDDEN_SLOTS = "keep:lua_hidden_slots"
#: The fields with an emptied element kept in place (see _set_listed), and the r.ctx key
#: saying Location's pointer is set.
_SLOT_FIELDS = _POINTER_FIELDS | {"cache-control", "location"}
LOCATION_POINTER = "keep:lua_location_pointer"
#: The order slots are made in (slots at one place stand in that order).
_MADE = itertools.count()
#: r.ctx key: Lua set or cleared Content-Length, so nginx's content_length field exists
#: (a cleared one stays, unsized): HTTP/1.0 held output then gets no computed length.
LUA_CL_FIELD = "keep:lua_content_length_field"


def as_str(b: Any) -> str:
    """A Lua string (bytes) as the engine's text (UTF-8, surrogateescape)."""
    if isinstance(b, bytes):
        return b.decode("utf-8", "surrogateescape")
    return str(b)


def as_bytes(s: str | None) -> bytes | None:
    """The engine's text as a Lua string."""
    return None if s is None else s.encode("utf-8", "surrogateescape")


class HeadersOut:
    """The response-header calls of the bridge."""

    worker: LuaWorker
    r: Any  # (the bridge's: the request whose Lua code is running, or None)

    def py_header_get(self, name: bytes, output_started: bool = False) -> Any:
        """``output_started``: as for py_var_get, the header reads as sent."""
        r = self.r
        if r is None:
            return None
        if output_started and not r.header_sent:
            self.worker.service.prepare_headers(r)
        key = _response_header_name(r, name).lower()
        out = r.out
        if key == "content-type":
            return as_bytes(out.content_type)
        if key == "content-length":
            return as_bytes(str(out.content_length)) if out.content_length is not None else None
        if key == "last-modified":  # ngx_lua formats last_modified_time, whatever the list
            return as_bytes(http_date(out.last_modified)) if out.last_modified is not None else None
        values = out.headers.get_all(key)
        if not values:
            return as_bytes(out.location) if key == "location" else None
        if len(values) == 1:
            return as_bytes(values[0])
        return self.worker.lua.table_from([as_bytes(v) for v in values])

    def py_resp_headers(self, output_started: bool = False) -> tuple[Any, int, int]:
        """name, value, name, value... of the response headers as ngx_lua lists them, how
        many leading pairs are the fields nginx writes itself (they never count against
        ngx.resp.get_headers' limit alone), and how many emptied elements the list holds
        (they count against it). ``output_started``: as py_var_get's."""
        r = self.r
        if r is not None and output_started and not r.header_sent:
            self.worker.service.prepare_headers(r)
        flat: list[bytes | None] = []
        if r is None:
            return self.worker.lua.table_from(flat), 0, 0
        out = r.out
        listed = {k.lower() for k, _ in out.headers.items}
        if out.content_type:
            flat += [b"content-type", as_bytes(out.content_type)]
        if out.content_length is not None and "content-length" not in listed:
            flat += [b"content-length", as_bytes(str(out.content_length))]
        if out.location and "location" not in listed:
            flat += [b"location", as_bytes(out.location)]
        # ngx_lua adds the connection's fate, and chunked once the header filter chose it
        conn = b"upgrade" if out.status == 101 else \
            b"keep-alive" if getattr(r, "keepalive", False) else b"close"
        flat += [b"connection", conn]
        if r.header_sent and r.chunked:
            flat += [b"transfer-encoding", b"chunked"]
        extra = len(flat) // 2
        for k, v in out.headers.items:
            flat += [as_bytes(k), as_bytes(v)]
        hidden = r.ctx.get(HIDDEN, 0) + len(r.ctx.get(HIDDEN_SLOTS, ()))
        return self.worker.lua.table_from(flat), extra, hidden

    def py_header_set(self, name: bytes, value: Any) -> None:
        r = self.r
        if r is None:
            return
        header = _response_header_name(r, name)
        key = header.lower()
        out = r.out
        if isinstance(value, bytes) or value is None:
            text = as_str(value) if value is not None else None
            r.ctx["lua_headers_set"] = True
            if key == "cache-control":  # (see engine/modules/headers.py)
                r.ctx[CACHE_CONTROL_ARRAY] = True
            if key in ("server", "date", "content-length"):  # nil: no line at all
                r.ctx["keep:cleared_" + key] = text is None
            if key == "content-type":
                out.content_type = text
                # the type is ngx_lua's (how nginx compares it: kept with the header);
                # ctx->mime_set (even to nil: no default type then) goes with the Lua
                # ctx at an internal redirect
                r.ctx["keep:lua_mime_set"] = r.ctx["lua_mime_set"] = True
            elif key == "content-length":
                # ngx_lua keeps it in the header list (written in list order) and in
                # content_length_n (which decides between Content-Length and chunked)
                out.content_length = int(text) if text and text.isdigit() else None
                _set_listed(r, header, key, text)
                r.ctx[LUA_CL_FIELD] = True
            elif key == "location" and out.location is not None and "location" not in out.headers:
                # nginx's own Location (return, error_page) is an element of the list that
                # ngx_lua overwrites in place, name included, then no longer special: it
                # goes out as it is, unmade absolute (cleared, it goes out not at all)
                out.location = None
                r.ctx[LOCATION_POINTER] = text is None or not text.startswith("/")
                if text is not None:
                    out.headers.items.insert(0, (header, text))
                else:  # (its emptied element stays, as any pointer field's)
                    slots = r.ctx.setdefault(HIDDEN_SLOTS, {})
                    slots[key] = (0, header, next(_MADE))
            elif key == "last-modified":
                # also last_modified_time, which the not-modified filter compares with
                # If-Modified-Since: a Lua response can be answered 304
                out.last_modified = parse_http_time(wire_bytes(text)) if text else None
                _set_listed(r, header, key, text)
            else:
                _set_listed(r, header, key, text)
            r.trace.add("header", op="set" if text is not None else "clear", name=header,
                        value=text or "", phase=r.phase_name)
            return
        values = [as_str(v) for v in value.values()]
        if not values:  # an empty table clears, as nil does
            self.py_header_set(name, None)
            return
        # a relative Location leaves nginx's pointer unset, so later values add headers;
        # each value replaces the one before, an empty one clears
        if key in _SINGLE_FIELDS or (key == "location" and not values[0].startswith("/")):
            self.py_header_set(name, as_bytes(values[-1]) or None)
            return
        # the first value is set as a single one (replacing the header's lines, or
        # clearing them), each later one adds a line (an empty one, an emptied element)
        self.py_header_set(name, as_bytes(values[0]) or None)
        for v in values[1:]:
            if v:
                out.headers.add(header, v)
                r.trace.add("header", op="add", name=header, value=v, phase=r.phase_name)
            else:
                r.ctx[HIDDEN] = r.ctx.get(HIDDEN, 0) + 1


def _set_listed(r: Request, header: str, key: str, text: str | None) -> None:
    """Set (``text`` None: clear) a header of nginx's list as ngx_lua does. A field
    nginx points to keeps its element once emptied (a slot), filled again in its place
    by the next set: a pointer field's element takes Lua's spelling at every set,
    Cache-Control's (an array of pointers) keeps the spelling it was made with. Location
    is a pointer field until a value starting with "/" (ngx_lua then drops the pointer).
    Other fields keep their lines' spelling, the first line taking the value. Every
    element emptied (or pushed empty when there was none) is counted (HIDDEN)."""
    headers = r.out.headers
    ctx = r.ctx
    matches = [i for i, (k, _) in enumerate(headers.items) if k.lower() == key]
    n = len(matches)
    slots = ctx.setdefault(HIDDEN_SLOTS, {})
    respell = key in _POINTER_FIELDS or (key == "location" and ctx.get(LOCATION_POINTER))
    if key == "location":  # (cleared, it points at the emptied element)
        ctx[LOCATION_POINTER] = text is None or not text.startswith("/")
    if text is None and (respell or key in _SLOT_FIELDS) and key not in slots:
        at = matches[0] if matches else len(headers.items)
        slots[key] = (at, headers.items[at][0] if matches else header, next(_MADE))
        n -= 1 if matches else 0
    slot = slots.pop(key, None) if text is not None and not matches else None
    if key == "expires":  # (the expires directive writes into the emptied line)
        ctx[EXPIRES_EMPTIED] = key in slots
    if slot is not None:
        at, spelled, seq = slot
        at = min(at, len(headers.items))
        headers.items.insert(at, (header if respell else spelled, text))
        for k, (a, sp, sq) in slots.items():  # the slots after it move down one
            if a > at or (a == at and sq > seq):
                slots[k] = (a + 1, sp, sq)
        return
    if text is None:
        ctx[HIDDEN] = ctx.get(HIDDEN, 0) + (n if matches or key in slots else 1)
    else:
        ctx[HIDDEN] = ctx.get(HIDDEN, 0) + max(n - 1, 0)
    for i in reversed(matches if text is None else matches[1:]):
        for k, (a, sp, sq) in slots.items():  # the slots after a line removed move up
            if a > i:
                slots[k] = (a - 1, sp, sq)
    headers.set(header, text, respell=bool(respell))


def point_location(r: Request) -> None:
    """ngx.redirect's Location line is the element nginx's pointer is on from now on (a
    later ngx.header.location set writes into it, respelled): an emptied Location
    element Lua left is no longer a slot, just emptied."""
    r.ctx[LOCATION_POINTER] = True
    if r.ctx.get(HIDDEN_SLOTS, {}).pop("location", None) is not None:
        r.ctx[HIDDEN] = r.ctx.get(HIDDEN, 0) + 1


def _response_header_name(r: Request, name: bytes) -> str:
    """``ngx.header.X_Foo`` is ``X-Foo`` unless lua_transform_underscores_in_response_headers
    is off."""
    text = as_str(name)
    if "_" in text and r.loc.flag("lua_transform_underscores_in_response_headers", True):
        return text.replace("_", "-")
    return text
