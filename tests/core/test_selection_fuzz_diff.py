"""Seeded randomized differential tests of location matching and virtual-server selection.

One real nginx serves everything: port 0 has one ``server`` per generated location set
(told apart by ``server_name sN.loc``), ports 1..4 each have a generated set of virtual
servers (port 1 a server alone). Every location and server answers with its id (and
``$uri``, ``$1``), so the reply says which block nginx chose; the engine must choose the
same, with the same error-log lines. A divergence prints the seed, the server block
involved and each differing request, so it can be replayed. The seed is fixed (``SEED``):
the same cases run every time. Broken location/server_name directives go through
``nginx -t`` and through our loader.
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine import Engine
from engine.conf.errors import ConfigError
from tests.differential import Pair, Reply, Req, parse_reply
from tests.fuzzing import assert_group_as_nginx
from tests.oracle import first_emerg, nginx_test, requires_nginx, write_prefix

#: Fixed, so every run checks the same cases; set SELECTION_FUZZ_SEED to explore others.
SEED = int(os.environ.get("SELECTION_FUZZ_SEED", "20261127"))
LOCATION_SETS = 12
SERVER_SETS = 4

# --- locations -----------------------------------------------------------------------

#: Path pieces the names are made of: short, sharing prefixes, some with a dot.
PIECES = ["a", "ab", "b", "x", "a.x", "Ab", "a-b", "é"]
#: Regexes drawn for ``~`` / ``~*`` locations, some with captures.
REGEXES = [r"^/a", r"\.x$", r"^/(a|b)/", r"(a+)b", r"^/x/(.*)$", r"^/ab?$", r"/(b)$", r"^/A"]


@dataclass
class Loc:
    """One generated location: its id, modifier, name, nested locations, and whether it
    proxies (only those redirect "/x" to "/x/")."""

    ident: str
    mod: str
    name: str
    proxy: bool = False
    nested: list[Loc] = field(default_factory=list)

    def render(self, indent: str) -> str:
        mod = self.mod + " " if self.mod not in ("", "@") else ""
        name = f'"{self.name}"' if "{" in self.name else self.name
        head = f"{indent}location {mod}{name} {{\n"
        body = "".join(n.render(indent + "    ") for n in self.nested)
        if self.proxy:
            body += (f"{indent}    add_header X-Loc {self.ident} always;\n"
                     f"{indent}    proxy_pass http://127.0.0.1:1;\n")
        else:
            body += f'{indent}    return 200 "{self.ident} $uri [$1]\\n";\n'
        return head + body + f"{indent}}}\n"


#: Endings added to a set's stem, so that names share prefixes and differ just where
#: nginx's order ("/" below every other byte) matters.
ENDINGS = ["", "/", "-b", ".x", "b", "/b", "/é", "/a/", "!", "/-", "%41/", "{x}/"]


def _random_name(rng: random.Random, under: str = "", stem: str = "") -> str:
    """A prefix name: below ``under`` when given (nested prefixes must extend it), else
    mostly ``stem`` with an ending, sometimes made of random pieces."""
    if not under and stem and rng.random() < 0.75:
        return stem + rng.choice(ENDINGS)
    base = under or "/"
    parts = [rng.choice(PIECES) for _ in range(rng.randint(0 if under else 1, 2))]
    name = base + "/".join(parts) if base.endswith("/") else base + rng.choice(["", "/"]) \
        + "/".join(parts)
    if rng.random() < 0.4 and not name.endswith("/"):
        name += "/"
    return name


def _static_key(loc: Loc) -> tuple[str, str]:
    """What nginx's duplicate check compares: "/x" and "^~ /x" are the same location."""
    return ("=" if loc.mod == "=" else "prefix", loc.name)


def gen_locations(rng: random.Random, tag: str) -> list[Loc]:
    """A server's locations, of every kind, without duplicates nginx would refuse."""
    locs: list[Loc] = []
    taken: set[tuple[str, str]] = set()
    stem = "/" + rng.choice(PIECES)
    if rng.random() < 0.5:
        # a proxying "stem/" among siblings that sort before it by bytes but after it in
        # nginx's order, and no prefix "stem" that would take "stem" itself
        locs.append(Loc(f"{tag}P", "", stem + "/", proxy=True))
        locs += [Loc(f"{tag}P{j}", rng.choice(["", "^~"]), stem + end)
                 for j, end in enumerate(rng.sample(["-b", ".x", "!", "-", "+"], 3))]
        taken.update(("prefix", loc.name) for loc in locs)
        taken.add(("prefix", stem))
    count = rng.choice([0, 2, 5, 6, 7, 8, 9, 10])
    for i in range(count):
        ident = f"{tag}L{i}"
        kind = rng.choice(["", "", "", "=", "^~", "^~", "~", "~*", "@", "/"])
        if kind in ("~", "~*"):
            loc = Loc(ident, kind, rng.choice(REGEXES))
            if rng.random() < 0.3:  # a regex inside a regex
                loc.nested.append(Loc(f"{ident}N0", rng.choice(["~", "~*"]),
                                      rng.choice(REGEXES)))
            locs.append(loc)
            continue
        if kind == "@":
            locs.append(Loc(ident, "@", f"@n{i}"))
            continue
        name = "/" if kind == "/" else _random_name(rng, stem=stem)
        mod = "" if kind == "/" else kind
        loc = Loc(ident, mod, name, proxy=name.endswith("/") and rng.random() < 0.5)
        if _static_key(loc) in taken or (mod != "=" and ("prefix", name) in taken):
            continue
        taken.add(_static_key(loc))
        if mod != "=" and not loc.proxy and rng.random() < 0.4:
            for j in range(rng.randint(1, 2)):
                if rng.random() < 0.5:
                    loc.nested.append(Loc(f"{ident}N{j}", rng.choice(["~", "~*"]),
                                          rng.choice(REGEXES)))
                else:
                    sub = _random_name(rng, name)
                    if sub != name and all(n.name != sub for n in loc.nested):
                        loc.nested.append(Loc(f"{ident}N{j}", rng.choice(["", "^~"]), sub))
        locs.append(loc)
    return locs


def _all_names(locs: list[Loc]) -> list[str]:
    """A URI near each location: its name, or a string its regex (roughly) matches."""
    out: list[str] = []
    for loc in locs:
        if loc.mod in ("~", "~*"):
            out.append("/" + loc.name.strip("^$").replace("\\", "").replace("(a|b)", "a")
                       .replace("(.*)", "q").replace("(a+)", "aa").replace("(b)", "b")
                       .replace("?", "").lstrip("/"))
        else:
            out.append(loc.name if loc.mod != "@" else "/" + loc.name)
        out += _all_names(loc.nested)
    return out


def _escape_one(rng: random.Random, uri: str) -> str:
    """``uri`` with one character (its UTF-8 bytes) as %XX."""
    i = rng.randrange(1, len(uri)) if len(uri) > 1 else 0
    form = rng.choice(["%%%02X", "%%%02x"])  # nginx takes both cases of hex digits
    return uri[:i] + "".join(form % b for b in uri[i].encode()) + uri[i + 1:]


def gen_targets(rng: random.Random, locs: list[Loc]) -> list[str]:
    """Targets near every name: exact, longer, one shorter, other case, escaped, with
    ``//``, ``/./``, ``/../``, a query, and a few invalid ones."""
    out: set[str] = {"/", "/zz"}
    for name in _all_names(locs):
        out.add(name)
        out.add(name + rng.choice(["x", "/", "/y.x", "b"]))
        if len(name) > 1:
            out.add(name[:-1])
        out.add(name.swapcase())
        out.add(_escape_one(rng, name))
        pick = rng.choice(["//", "/./", "/../", "?", "%2F", "/%2e/", "%2e%2e/"])
        cut = name.rfind("/") + 1 if "/" in name[1:] else 1
        if pick == "?":
            out.add(name + "?k=v&x=%41")
        elif pick == "/../":
            out.add("/zz/.." + name)
        else:
            out.add(name[:cut].rstrip("/") + pick + name[cut:])
    out.update(rng.sample(["/%zz", "/../x", "/a%00b", "x", "/a/%", "/a#frag", "/.", "/a/..",
                           "/%41b", "/a/./.", "//", "/a/b/../../..", "/a\\b", "/a;p=1",
                           "/%2e%2E/x", "/a/%2E"], 5))
    return sorted(out)


# --- servers ---------------------------------------------------------------------------

#: server_name values drawn for the virtual-server sets, each with Host values that
#: should reach it (in some case, with a port or a trailing dot).
NAME_HOSTS: dict[str, list[str]] = {
    "exact.example.com": ["exact.example.com", "EXACT.Example.COM", "exact.example.com.:80"],
    "Exact.Example.COM": ["exact.example.com:8080", "exact.example.com."],
    "www.example.com": ["www.example.com", "www.example.com.."],
    "*.example.com": ["a.example.com", "a.b.example.com"],
    "*.b.example.com": ["b.example.com", "c.b.example.com"],
    "example.com": ["example.com"],
    "www.example.*": ["www.example.co.uk", "www.example.org"],
    ".example.org": ["example.org", "x.y.example.org"],
    ".Example.Org": ["WWW.Example.Org."],
    r"~^(?<sub>.+)\.example\.net$": ["api.example.net", "example.net"],
    r"~^WWW\.(.+)\.Test$": ["www.foo.test", "WWW.Foo.TEST"],
    r"~^www\.(.+)\.test$": ["www.bar.test"],
    r"~^(?<one>[a-z]+)\.single$": ["abc.single", "ABC.SINGLE"],
    r"~^nocap\.[a-z]+$": ["nocap.abc"],
    "*.test": ["foo.test"],
    "other.test": ["other.test:1"],
    "é.example.com": ["é.example.com", "É.example.com"],
    "_": ["_"],
    '""': [""],
}
NAMES = list(NAME_HOSTS)
#: Hosts no name is meant for (None: no Host header, HTTP/1.0).
OTHER_HOSTS = [None, "nobody", "[::1]", "[::1]:80", "a..b", "127.0.0.1", "localhost"]


def gen_servers(rng: random.Random, port: str, tag: str) -> tuple[str, list[tuple[str, Req]]]:
    """A few servers on one port (maybe one default_server) and requests for them."""
    alone = port == "port1"  # one server alone: nginx looks names up only if the
    count = 1 if alone else rng.randint(2, 5)  # last regex name has captures
    other = f"port{int(port[4:]) % SERVER_SETS + 1}"
    default = rng.randrange(count + 1)  # == count: no default_server
    blocks = []
    hosts: set[str | None] = set(rng.sample(OTHER_HOSTS, 3))
    for i in range(count):
        if alone:
            names = [r"~^(?<one>[a-z]+)\.single$", r"~^nocap\.[a-z]+$"]
        else:
            names = rng.sample(NAMES, rng.randint(1, 3)) if rng.random() < 0.9 else []
        if i == 0 and not alone:  # a regex in every set, most often one with capitals
            names.append(rng.choice([r"~^WWW\.(.+)\.Test$", r"~^WWW\.(.+)\.Test$",
                                     r"~^(?<sub>.+)\.example\.net$", r"~^www\.(.+)\.test$"]))
        if i == 1:  # $server_name: the first name lowercased, without a leading dot
            names.insert(0, rng.choice([".Example.Org", "Exact.Example.COM", ".example.org"]))
        names = list(dict.fromkeys(names))
        for name in names:
            hosts.update(NAME_HOSTS[name])
        sub = " sub=$sub" if any("?<sub>" in n for n in names) else ""
        one = " one=$one" if any("?<one>" in n for n in names) else ""
        listen = f"listen 127.0.0.1:{{{port}}}{' default_server' if i == default else ''};"
        if rng.random() < 0.3:  # also on the next set's port, where it is never default
            listen += f" listen 127.0.0.1:{{{other}}};"
        server_name = f"server_name {' '.join(names)};" if names else ""
        blocks.append(f"server {{\n    {listen}\n    {server_name}\n"
                      f'    return 200 "{tag}S{i} host=$host sn=$server_name 1=[$1]{sub}{one}\\n";'
                      f"\n}}\n")
    reqs: list[tuple[str, Req]] = []
    for host in sorted(hosts, key=str):
        if host is None:
            reqs.append((port, Req("GET", "/", [], version="HTTP/1.0")))
        else:
            reqs.append((port, Req("GET", "/p", [("Host", host)])))
    # HTTP/1.1 needs a Host: a 400 from the server named "" if there is one
    reqs.append((port, Req("GET", "/", [])))
    named = [h for hs in NAME_HOSTS.values() for h in hs if h]
    for _ in range(3):  # absolute-form: the request line's host wins over Host
        line_host = rng.choice(named + ["_", "a_b", "x:80y"])
        reqs.append((port, Req("GET", f"http://{line_host}/abs?q",
                               [("Host", rng.choice(named))])))
    return "".join(blocks), reqs


# --- the one configuration ---------------------------------------------------------------


def build() -> tuple[str, list[tuple[str, str, list[tuple[str, Req]]]]]:
    """The config and the groups of cases: (label, server block text, [(port, req)])."""
    rng = random.Random(SEED)
    groups = []
    blocks = []
    for s in range(LOCATION_SETS):
        locs = gen_locations(rng, f"s{s}")
        block = (f"server {{\n    listen 127.0.0.1:{{port0}};\n    server_name s{s}.loc;\n"
                 + "".join(loc.render("    ") for loc in locs) + "}\n")
        blocks.append(block)
        reqs = [("port0", Req("GET", t, [("Host", f"s{s}.loc")])) for t in gen_targets(rng, locs)]
        groups.append((f"locations-{s}", block, reqs))
    for p in range(1, SERVER_SETS + 1):
        block, reqs = gen_servers(rng, f"port{p}", f"p{p}")
        blocks.append(block)
        groups.append((f"servers-{p}", block, reqs))
    conf = "events {}\nhttp {\nerror_log logs/error.log info;\n" + "".join(blocks) + "}\n"
    return conf, groups


CONF, GROUPS = build()


@pytest.fixture(scope="module")
def fuzz_pair():  # type: ignore[no-untyped-def]
    with Pair(CONF, extra_ports=SERVER_SETS) as p:
        yield p


def ask(pair: Pair, port_name: str, req: Req) -> tuple[Reply, Reply]:
    """The request sent to real nginx's and the engine's ``{portN}``."""
    port = pair.ports[int(port_name[4:])]
    real = parse_reply(pair.real.request(req.raw(), port))
    assert pair.engine is not None
    ex = pair.loop.run_until_complete(pair.engine.request(req.engine_request(port)))
    r = ex.response
    ours = Reply(r.status, r.reason, list(r.headers), r.body) if r.sent else \
        Reply(0, "connection closed without a response", [], b"")
    return real, ours


def test_enough_cases() -> None:
    """The generator still makes a few hundred requests (not none, not thousands)."""
    total = sum(len(g[2]) for g in GROUPS)
    assert 250 <= total <= 900, total


@requires_nginx
@pytest.mark.parametrize("label,block,reqs", GROUPS, ids=[g[0] for g in GROUPS])
def test_same_choice_as_nginx(fuzz_pair, label, block, reqs) -> None:  # type: ignore[no-untyped-def]
    ports = {id(req): port for port, req in reqs}
    assert_group_as_nginx(
        fuzz_pair, SEED, label, block, [req for _, req in reqs],
        ask=lambda req: ask(fuzz_pair, ports[id(req)], req),
        describe=lambda req: f"{req.method} {req.target} {req.version} "
                             f"Host: {dict(req.headers).get('Host', '(none)')}")


# --- bad configurations --------------------------------------------------------------------

BAD_TEMPLATES = [
    "location {m} {n} {{ location {m} {n} {{ }} }}",
    "location = {n} {{ location {n}x {{ }} }}",
    "location @{p} {{ location {n} {{ }} }}",
    "location {n} {{ location @{p} {{ }} }}",
    "location {n} {{ location /other{n} {{ }} }}",
    "location {m} {n} {{ }} location {m} {n} {{ }}",
    "location ^~ {n} {{ }} location {n} {{ }}",
    "location ~ ({p} {{ }}",
    "location {m}{n} x {{ }}",
    "location ~~ {n} {{ }}",
    "location {{ }}",
    "server_name ~^({p} ;",
    "listen 127.0.0.1:{{port}} default_server; listen 127.0.0.1:{{port}} default_server;",
    "location ~ ^/(?<{p}>x) {{ }}",
    "server_name *{p};",
    "server_name .;",
    "server_name ~^(?<{p}>x)$ *.{p} .{p} {p}.*;",
    "server_name {p}/x;",
    "server_name ~;",
    "location ~ ^/(?<1{p}>x) {{ }}",
]


def gen_bad_configs() -> list[tuple[str, str]]:
    """Each template (mostly broken, a few valid) filled with random names."""
    rng = random.Random(SEED + 1)
    out = []
    for i, tpl in enumerate(BAD_TEMPLATES):
        n = _random_name(rng)
        piece = rng.choice(PIECES)
        body = tpl.format(m=rng.choice(["", "^~", "="]), n=n, p=piece)
        out.append((f"bad-{i}", "events {}\nhttp {\nserver {\n" + body + "\n}\n}\n"))
    return out


def engine_verdict(prefix: Path) -> tuple[str | None, list[str]]:
    """Our ``nginx -t``: the first [emerg] (as ``str()`` of the ConfigError), or None and
    the [warn] lines, the prefix spelled {prefix}."""
    try:
        eng = Engine.load(str(prefix / "conf" / "nginx.conf"), prefix=str(prefix) + "/")
    except ConfigError as exc:
        return str(exc), []
    return None, [w.replace(str(prefix), "{prefix}") for w in eng.warnings]


@requires_nginx
@pytest.mark.parametrize("label,conf", gen_bad_configs(), ids=[c[0] for c in gen_bad_configs()])
def test_same_config_verdict_as_nginx(tmp_path: Path, label: str, conf: str) -> None:
    conf = conf.replace("{port}", "8080")
    write_prefix(tmp_path, conf)
    output = nginx_test(tmp_path).output
    real = first_emerg(output)
    warns = [] if real else re.findall(r"\[warn\] \d+#\d+: (.*)",
                                        output.replace(str(tmp_path), "{prefix}"))
    assert engine_verdict(tmp_path) == (real, warns), f"seed {SEED + 1}\n{conf}"
