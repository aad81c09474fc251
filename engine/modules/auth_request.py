"""ngx_http_auth_request_module: access decided by the status of a subrequest.

``auth_request uri`` makes the access phase issue a ``GET`` subrequest to ``uri`` (the
client's headers, no body, the body of its response dropped) and wait for it: a 2xx
status allows access, 401 and 403 deny it with that status (a 401 takes the
subrequest's ``WWW-Authenticate`` along), any other status is an error (500, logged).
Before that verdict, each ``auth_request_set $var value`` is evaluated in the
subrequest's context (``$sent_http_x``, ``$upstream_http_x``, ``$uri``, ``$status`` are
the subrequest's) and stored in the main request, so the value survives internal
redirects.

Only headers that reach the subrequest's ``headers_out`` count: ``add_header`` acts on
main requests only, so an auth location that answers with ``return`` and ``add_header``
sets no variable and sends no ``WWW-Authenticate``; Lua's ``ngx.header`` and a proxied
response do.

Every pass through the access phase asks again: nginx keeps the result in its module
context only for the handler's own second call once the subrequest is done, and an
internal redirect or a jump to a named location (the only ways back to the access
phase) clears that context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..conf.errors import ConfigError
from ..http.phases import DECLINED, DONE, OK, HttpModule, Phase
from ..http.subrequest import run_subrequest
from ..http.variables import ComplexValue, compile_value

if TYPE_CHECKING:
    from ..conf.ast import Directive
    from ..http.block import Block
    from ..http.config import HttpConfig
    from ..http.engine import HttpEngine
    from ..http.request import Request


@dataclass(frozen=True, slots=True)
class AuthConf:
    """What is in force in one block: the subrequest's URI and the variables to set."""

    uri: str
    directive: Directive
    #: (variable name without ``$``, value evaluated in the subrequest), in config order.
    sets: tuple[tuple[str, ComplexValue], ...]


class AuthRequestModule(HttpModule):
    name = "ngx_http_auth_request_module"
    #: The directives whose behaviour this module models (the rest are only checked).
    directives = frozenset({
        "auth_request", "auth_request_set",
    })

    def init(self, engine: HttpEngine) -> None:
        self._values: dict[int, ComplexValue] = {}
        # after allow/deny (0) and auth_basic, before access_by_lua (900): nginx's
        # module order in the access phase
        engine.phases.add(Phase.ACCESS, "auth_request", self.handler, order=20,
                          active=lambda block: self._conf(block) is not None)

    def declare(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        """``auth_request_set`` adds its variable, as ``set`` does (same checks)."""
        for block in cfg.blocks:
            for d in block.own.get("auth_request_set", ()):
                name = d.args[0]
                if not name.startswith("$"):
                    raise ConfigError(f'invalid variable name "{name}"', d.file, d.line)
                if name == "$":
                    raise ConfigError('invalid variable name "$"', d.file, d.line)
                var = engine.variables.vars.get(name[1:].lower())
                if var is not None and not var.changeable and not var.stored:
                    raise ConfigError(f'the duplicate "{name[1:]}" variable', d.file, d.line)
                engine.variables.declare(name[1:].lower())

    def configure(self, engine: HttpEngine, cfg: HttpConfig) -> None:
        for block in cfg.blocks:
            for d in block.own.get("auth_request_set", ()):
                self._values[id(d)] = compile_value(d.args[1], engine.variables,
                                                    d.file, d.line)

    def _conf(self, block: Block) -> AuthConf | None:
        """The configuration in force in ``block`` (None: off), worked out once per block:
        ``auth_request`` is inherited like a scalar, ``auth_request_set`` as a list that
        a block with any of its own replaces."""
        try:
            return block.mod[self.name]
        except KeyError:
            pass
        d = block.first("auth_request")
        conf = None
        if d is not None and d.args[0] != "off":
            sets = tuple((s.args[0][1:].lower(), self._values[id(s)])
                         for s in block.get("auth_request_set"))
            conf = AuthConf(d.args[0], d, sets)
        block.mod[self.name] = conf
        return conf

    async def handler(self, r: Request) -> int:
        conf = self._conf(r.loc)
        if conf is None:
            return DECLINED
        child = await run_subrequest(r, conf.uri, header_only=True, by="auth_request")
        if r.main.response_done:  # the subrequest closed the connection (444)
            return DONE
        for name, value in conf.sets:
            r.engine_vars.set(r, name, value.evaluate(child))
        status = child.out.status
        d = conf.directive
        if status in (401, 403):
            verdict = "deny"
            if status == 401:
                self._copy_www_authenticate(r, child)
        elif 200 <= status < 300:
            verdict = "allow"
        else:
            verdict = "error"
        r.trace.add("access", rule=f"auth_request {conf.uri}", status=status,
                    verdict=verdict, file=d.file, line=d.line)
        if verdict == "allow":
            return OK
        if verdict == "deny":
            return status
        r.log("error", f"auth request unexpected status: {status}")
        return 500

    @staticmethod
    def _copy_www_authenticate(r: Request, child: Request) -> None:
        """nginx copies ``headers_out.www_authenticate``, else the proxied response's
        first ``WWW-Authenticate``. Only Lua's ``ngx.header`` (the last value it set) and
        ``proxy_intercept_errors`` (the upstream's first) set that pointer: headers the
        proxy copies do not, so a proxied response gives its first one."""
        found = None
        for k, v in getattr(child.upstream, "headers", None) or ():
            if k.lower() == "www-authenticate":
                found = (k, v)
                break
        if found is None:
            for k, v in child.out.headers.items:
                if k.lower() == "www-authenticate":
                    found = (k, v)
        if found is not None:
            r.out.headers.add(*found)
