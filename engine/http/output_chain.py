"""The output chains: ``ngx_http_send_header`` and ``ngx_http_output_filter``.

Modules register header and body filters (phases.py); a location's plan lists the ones
active there, in nginx's order. A filter returns False (header) or None (body) to stop
the chain: it replaced the response, holds the data, or failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .request_body import test_expect
from .response import client_status
from .variables import ScriptError

if TYPE_CHECKING:
    from .plan import BlockPlan
    from .request import Request


class OutputChain:
    """The engine's output side (:class:`~.engine.HttpEngine` is one)."""

    _plans: dict[Any, BlockPlan]
    plan: Callable[[Any], BlockPlan]  # (the engine's: a block's filters, made on first use)

    async def send_header(self, r: Request) -> None:
        """ngx_http_send_header: run the header filters once (those of ``r.loc``)."""
        if r.header_sent:
            return
        if not r.expect_tested and r is r.main:
            # the handlers nginx answers without reading the body (return, static,
            # ngx_lua's output) discard it first: that tests Expect
            test_expect(r)
        err = getattr(r, "err_status", 0)
        if err:
            r.out.status = client_status(err)
            r.out.status_line = None
        if not r.out.status:
            r.out.status = 200
        plan = self._plans.get(r.loc) or self.plan(r.loc)
        try:
            for fn, is_async in plan.header:
                if (await fn(r) if is_async else fn(r)) is False:
                    break
        except ScriptError:  # a header filter's value: NGX_ERROR, the connection closes
            self.abort(r)
        r.header_sent = True

    async def output(self, r: Request, data: bytes, last: bool) -> None:
        """ngx_http_output_filter: pass a body part through the body filters."""
        if r.response_done:
            return
        if not r.header_sent:
            await self.send_header(r)
        plan = self._plans.get(r.loc) or self.plan(r.loc)
        chunk, is_last = data, last
        for fn, is_async in plan.body:
            passed = await fn(r, chunk, is_last) if is_async else fn(r, chunk, is_last)
            if passed is None:
                break
            chunk, is_last = passed
        if last:
            r.response_done = True

    async def next_body_filter(self, r: Request, current: Any, data: bytes, last: bool) -> None:
        """ngx_http_next_body_filter, for a filter that hands on several parts for the one
        it got (the copy filter reading a file in ``output_buffers`` pieces, SSI passing
        an include's parts on as they come): ``data`` goes through the filters after
        ``current`` only."""
        chain = (self._plans.get(r.loc) or self.plan(r.loc)).body
        start = next(i for i, (fn, _) in enumerate(chain) if fn == current) + 1
        for fn, is_async in chain[start:]:
            passed = await fn(r, data, last) if is_async else fn(r, data, last)
            if passed is None:
                return
            data, last = passed

    def abort(self, r: Request) -> None:
        """Close the connection, dropping output not yet written (NGX_ERROR after the header)."""
        r.main.aborted = True
        r.main.keepalive = False
        r.response_done = True
        r.trace.add("finalize", status=0, reason="connection aborted: buffered output dropped")
