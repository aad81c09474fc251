"""``ngx-explore tour [N]``: the samples' concepts, and their requests sent through the engine.

Without N it lists the fifteen concepts with their one-paragraph explanation; with N it
loads the sample config, sends that concept's requests in-process and prints each
response with the trace of how nginx produced it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def load_tour(path: Path | None = None) -> dict:
    """The tour's raw data (samples/tour.json), with the sample config's path."""
    return json.loads((path or SAMPLES / "tour.json").read_text())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ngx-explore tour",
                                     description="The samples, one concept each.")
    parser.add_argument("concept", nargs="?", type=int, help="send this concept's requests")
    parser.add_argument("--json", action="store_true", help="print exchanges as JSON")
    args = parser.parse_args(argv)
    tour = load_tour()
    if args.concept is None:
        for s in tour["samples"]:
            print(f"{s['concept']:>2}. {s['title']}")
            print(textwrap.indent(textwrap.fill(s["explanation"], 88), "    "))
        print("\nngx-explore tour N   sends concept N's requests through the engine.")
        return 0
    sample = next((s for s in tour["samples"] if s["concept"] == args.concept), None)
    if sample is None:
        print(f"ngx-explore: no concept {args.concept} (1-{len(tour['samples'])})",
              file=sys.stderr)
        return 1
    return asyncio.run(_send(tour, sample, args.json))


async def _send(tour: dict, sample: dict, as_json: bool) -> int:
    from engine import ConfigError, Engine, HttpRequest
    try:
        engine = Engine.load(str(SAMPLES / tour["conf"]), prefix=str(SAMPLES) + "/")
    except ConfigError as exc:
        print(f"nginx: {exc}", file=sys.stderr)
        return 1
    await engine.start()
    try:
        for spec in sample["requests"]:
            if spec.get("socket_only"):
                print(f"> {spec['method']} {spec['url'][:60]}... needs a real socket "
                      "(the listener's limits): try it with curl against ngx-explore serve\n")
                continue
            url = urlsplit(spec["url"])
            target = url.path + (f"?{url.query}" if url.query else "")
            headers = [("Host", url.hostname or "localhost")] + [tuple(h) for h in spec["headers"]]
            body = spec["body"].encode()
            if body:
                headers.append(("Content-Length", str(len(body))))
            ex = await engine.request(HttpRequest(spec["method"], target, "HTTP/1.1", headers,
                                                  body, server_port=url.port or 80))
            if as_json:
                print(json.dumps(ex.to_dict()))
                continue
            print(f"> {spec['method']} {target}")
            r = ex.response
            print(f"< HTTP/1.1 {r.status} {r.reason}")
            for k, v in r.headers:
                print(f"< {k}: {v}")
            print(r.text, end="" if r.text.endswith("\n") else "\n")
            for ev in ex.trace:
                if ev.kind in ("location", "phase", "hop", "ctx", "log", "timer", "eof"):
                    print(f"  * {ev.phase:>12} | {ev.describe()}")
            print()
    finally:
        await engine.stop()
    return 0
