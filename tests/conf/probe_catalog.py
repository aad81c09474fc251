"""Probe real nginx for every catalog directive's contexts and arity (a maintenance tool).

Run ``python3 -m tests.conf.probe_catalog``: it places each directive in every context
and with 0..8 arguments, runs ``nginx -t`` and prints where the catalog disagrees with
what nginx answers (unknown / not allowed here / invalid number of arguments). Not a
pytest module: it takes about a minute and the catalog tests pin its results instead.
"""

from __future__ import annotations

import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engine.conf.catalog import all_specs
from engine.conf.directives import Ctx
from tests.oracle import nginx_test, write_prefix

WRAP = {
    Ctx.MAIN: "events {{}}\n{x}\n",
    Ctx.EVENTS: "events {{ {x} }}\n",
    Ctx.HTTP: "events {{}}\nhttp {{ {x} }}\n",
    Ctx.SRV: "events {{}}\nhttp {{ server {{ {x} }} }}\n",
    Ctx.LOC: "events {{}}\nhttp {{ server {{ location / {{ {x} }} }} }}\n",
    Ctx.UPS: "events {{}}\nhttp {{ upstream u {{ {x} }} }}\n",
    Ctx.SIF: "events {{}}\nhttp {{ server {{ if ($host) {{ {x} }} }} }}\n",
    Ctx.LIF: "events {{}}\nhttp {{ server {{ location / {{ if ($host) {{ {x} }} }} }} }}\n",
    Ctx.LMT: "events {{}}\nhttp {{ server {{ location / {{ limit_except GET {{ {x} }} }} }} }}\n",
}


def run(conf: str) -> str:
    with tempfile.TemporaryDirectory() as d:
        write_prefix(Path(d), conf)
        return nginx_test(Path(d)).output


def probe(name: str, specs: list) -> list[str]:
    problems = []
    ours = Ctx(0)
    for s in specs:
        ours |= s.contexts
    allowed_real = Ctx(0)
    for ctx, wrap in WRAP.items():
        out = run(wrap.format(x=f"{name};"))
        if "unknown directive" in out:
            return [f"{name}: unknown to nginx"]
        if "is not allowed here" not in out:
            allowed_real |= ctx
    want = ours & (~(Ctx.TYPES | Ctx.MAP | Ctx.STREAM | Ctx.MAIL))
    if allowed_real != want:
        problems.append(f"{name}: contexts nginx={allowed_real!r} catalog={want!r}")
    ctx = next((c for c in (Ctx.LOC, Ctx.HTTP, Ctx.SRV, Ctx.UPS, Ctx.MAIN, Ctx.EVENTS,
                            Ctx.LIF, Ctx.SIF, Ctx.LMT) if c & allowed_real), None)
    if ctx is None:
        return problems
    spec = next(s for s in specs if s.contexts & ctx)
    real_ok = []
    for k in range(0, 9):
        args = " ".join(["on"] * k)
        x = f"{name} {args} {{ }}" if spec.block else f"{name} {args};"
        out = run(WRAP[ctx].format(x=x))
        if "has no opening" in out or "is not terminated" in out:
            problems.append(f"{name}: block flag differs ({out.strip().splitlines()[0]})")
            break
        if "invalid number of arguments" not in out:
            real_ok.append(k)
    ours_ok = [k for k in range(0, 9) if spec.accepts(k)]
    if real_ok != ours_ok:
        problems.append(f"{name}: arity nginx={real_ok} catalog={ours_ok}")
    return problems


def main() -> int:
    by_name: dict[str, list] = {}
    for s in all_specs():
        by_name.setdefault(s.name, []).append(s)
    names = sys.argv[1:] or sorted(by_name)
    with ThreadPoolExecutor(4) as ex:
        for problems in ex.map(lambda n: probe(n, by_name[n]), names):
            for p in problems:
                print(p, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
