"""A request the listener has read the head of, waiting in the connection's queue.

HTTP/1.1 pipelining answers requests one at a time, in order; each waits here with what
its body still needs (Content-Length left, a chunked decoder, the limit and timeout of
its location) or with the refusal nginx would answer it with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..http.api import HttpRequest
    from .chunked import ChunkedDecoder


class Pending:
    """A request whose head is parsed; its body may still be arriving."""

    __slots__ = ("req", "expect", "continue_sent", "begun", "complete", "error", "left", "decoder",
                 "parts", "limit", "timeout", "discard", "req_line")

    def __init__(self, req: HttpRequest) -> None:
        self.req = req
        self.expect = False
        self.continue_sent = False
        #: Body bytes came: the engine, not the listener, answers ``Expect`` (see
        #: HttpConnection._next).
        self.begun = False
        #: The body (if any) is read, or the request is refused: it can be answered.
        self.complete = False
        #: Set when the request must be refused instead of served: (status, msg, level, send)
        self.error: tuple[int, str, str, bool] | None = None
        self.left = 0
        self.decoder: ChunkedDecoder | None = None
        self.parts: list[bytes] = []
        self.limit = 0
        self.timeout = 60.0
        #: The body is read and thrown away (the engine refuses it from Content-Length).
        self.discard = False
        #: For a refused head: what nginx shows as ``request: "..."``.
        self.req_line: str | None = None
