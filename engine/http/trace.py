"""The trace: typed, timestamped events that say what nginx did with a request, and why.

These events are the contract between the engine and everything that shows a request
(the TUI, ``ngx-explore request``, exports). Their wording follows nginx's debug log where
it has one (``test location``, ``using configuration``, ``rewrite phase``,
``http script set``). ``Trace.events`` is a flat list; hops (internal redirects,
subrequests) are events that carry the nested trace of what they started.

Event kinds (``Event.kind``), each with its fields in ``data``:

=================  ====================================================================
request            method, uri, protocol, client          (first event; also subrequests)
server             server (label), name, listen, reason, file, line
location_test      location, node, verdict, file, line    (one per comparison, in the
                   order of nginx's debug log; ``node`` is the name exactly as that log
                   prints it (relative to the enclosing prefix in nginx's tree),
                   ``location`` the whole location; regexes: "regex matches"/"does not")
location           location, reason, outcome, using, file, line   (``using``: the name
                   exactly as nginx's ``using configuration "..."`` debug line has it)
phase              phase, handler (chunk name such as ``content_by_lua(nginx.conf:22)``),
                   file, line                              (a handler starts)
phase_done         phase, handler, rc, duration_ms        (a handler ends)
script             op: "set" (variable, value), "rewrite" (regex, uri, matched, result,
                   flag), "return" (code, text), "if" (condition, result), "break",
                   "sleep" (seconds), "read_body" (bytes), "body_filter" (bytes_in,
                   bytes_out, eof); each with file and line where it has one
access             rule, verdict, file, line; allow/deny: addr; auth_basic: reason,
                   user; auth_request: status
realip             addr, port, header, peer, recursive     (the client address replaced
                   from a header sent by a trusted peer)
limit_req          zone, verdict, excess, burst, delay_ms, file, line
limit_conn         zone, key, verdict, count, limit, file, line
variable           name, value, why                        (a module's variable computed:
                   geo, split_clients, valid_referers, secure_link)
gzip               verdict: "compressed" (level, wbits, memlevel) or "not compressed"
                   (reason)
static             path, result                            (files opened, 304s)
sub_filter         decision: "on" (patterns in match order, once, last_modified),
                   "off: ..." or "done" (replaced: count per pattern)
ssi                decision: "on" (silent_errors, last_modified, value_length); a command
                   run (command, params) or failed (command, result: "error")
mirror             uris, request_body, method, args        (background subrequests started)
addition           decision: "on" (before, after)          (add_before/after_body applies)
try_files          candidate, path, exists
hop                hop: "rewrite_last", "exec", "error_page", "index", "try_files",
                   "redirect", "subrequest"; uri, args, status, ctx_reset;
                   ``children`` holds a subrequest's own events
upstream           peer, reason, attempt, status          (proxy_pass peer choice)
upstream_request   protocol, params                       (what fastcgi_pass sent)
upstream_response  peer, status or error, verdict          (what came back, and its fate)
proxy_cache        zone, key, status, reason               (the cache's decision: MISS,
                   HIT, EXPIRED, BYPASS, STALE, UPDATING, REVALIDATED)
ctx                phase, added, changed, removed, snapshot (ngx.ctx after a Lua phase;
                   values rendered as Lua source text, cycles and userdata made safe)
var                name, old, new                          (a variable changed from Lua)
header             op: "send" (status, headers: the response header as written),
                   "add" (add_header), "set"/"clear" (ngx.header); name, value
log                level, message, kept                    (an error-log line in its phase;
                   kept=False when error_log's level drops it)
api_refused        phase, message                          (an ngx API called in a phase
                   where ngx_lua disables it: "API disabled in the context of ...")
eof                note                                    (ngx.eof: the client is done)
socket             op ("connect", "send", "receive", "close", "setkeepalive", "udp ..."),
                   peer, bytes, result                     (a Lua cosocket call)
timer              op: "scheduled" (timer, delay, every, where), "fired" (premature,
                   late_ms), "done"/"error" (message, duration_ms); appended to the
                   trace of the request that created the timer, as they happen
finalize           status, reason
=================  ====================================================================
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Event:
    kind: str
    time: float
    phase: str
    data: dict[str, Any]
    children: list[Event] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, "time": round(self.time, 6),
                               "phase": self.phase}
        out.update(self.data)
        if self.children is not None:
            out["children"] = [c.to_dict() for c in self.children]
        return out

    def describe(self) -> str:
        """One readable line, in nginx's debug-log words where nginx has them."""
        d = self.data
        k = self.kind
        if k == "location_test":
            return f"test location: {d['location']}  ({d['verdict']})"
        if k == "location":
            return f"using configuration {d['location']}  ({d['reason']})"
        if k == "server":
            name = d["name"] or '""'
            return f"server {name} on {d['listen']}  ({d['reason']})"
        if k == "phase":
            return f"{d['phase']} phase: {d['handler']}"
        if k == "phase_done":
            return f"{d['phase']} phase done: {d['handler']} -> {d['rc']} ({d['duration_ms']:.3f} ms)"
        if k == "script":
            rest = " ".join(f"{key}={val!r}" for key, val in d.items() if key != "op")
            return f"http script {d['op']} {rest}"
        if k == "hop":
            return f"{d['hop']} -> {d.get('uri', '')}{'?' + d['args'] if d.get('args') else ''}" \
                   + (" (ngx.ctx reset)" if d.get("ctx_reset") else "")
        if k == "log":
            return f"[{d['level']}] {d['message']}"
        if k == "finalize":
            return f"finalize request: {d['status']}"
        if k in _MODULE_LINES:
            return _MODULE_LINES[k](d)
        rest = ", ".join(f"{key}={val!r}" for key, val in d.items())
        return f"{k}: {rest}"


def _access(d: dict[str, Any]) -> str:
    why = d.get("reason") or (f"status {d['status']}" if "status" in d else d.get("addr", ""))
    return f"{d.get('rule')}: {d.get('verdict')}" + (f" ({why})" if why else "")


def _limit_req(d: dict[str, Any]) -> str:
    delay = f", delayed {d['delay_ms']} ms" if d.get("delay_ms") else ""
    return f'limit_req zone "{d.get("zone")}": {d.get("verdict")}, excess {d.get("excess")}' \
           f"{delay}"


#: One line for the events the modules add (the TUI shows these too).
_MODULE_LINES: dict[str, Any] = {
    "access": _access,
    "realip": lambda d: f"client address {d.get('addr')} from {d.get('header')} "
                        f"(sent by {d.get('peer')})",
    "limit_req": _limit_req,
    "limit_conn": lambda d: f'limit_conn zone "{d.get("zone")}" key "{d.get("key")}": '
                            f"{d.get('verdict')} ({d.get('count')} of {d.get('limit')})",
    "variable": lambda d: f"${d.get('name')} = {d.get('value')!r} ({d.get('why')})",
    "gzip": lambda d: f"gzip: {d.get('verdict')}" + (
        f" ({d['reason']})" if d.get("reason") else
        f" (level {d.get('level')}, window bits {d.get('wbits')}, memLevel {d.get('memlevel')})"),
}


@dataclass
class Trace:
    """Events of one request; ``enabled=False`` keeps the hot path free of event building."""

    enabled: bool = True
    events: list[Event] = field(default_factory=list)
    phase: str = ""
    t0: float = field(default_factory=time.perf_counter)

    def add(self, kind: str, **data: Any) -> Event | None:
        if not self.enabled:
            return None
        ev = Event(kind, time.perf_counter() - self.t0, self.phase, data)
        self.events.append(ev)
        return ev

    def nest(self, kind: str, children: list[Event], **data: Any) -> Event | None:
        ev = self.add(kind, **data)
        if ev is not None:
            ev.children = children
        return ev
