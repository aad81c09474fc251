"""Config load speed: ngx-explore's reader vs crossplane vs real ``nginx -t``.

Generates 2,000 server blocks x 5 locations spread over 20 included files (about 56k
directives, the shape PERF.md measures) in a temporary prefix, then times each reader
a few times and prints medians and ratios. Run: ``python3 bench/bench_conf.py [runs]``.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.conf import load  # noqa: E402

SERVERS = 2000
FILES = 20
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
LOAD_LUA = ("load_module /usr/share/nginx/modules/ndk_http_module.so; "
            "load_module /usr/share/nginx/modules/ngx_http_lua_module.so;")


def server(i: int) -> str:
    return f"""
server {{
    listen {10000 + i % 500};
    server_name s{i}.example.com www.s{i}.example.com;
    root /srv/s{i};
    index index.html;
    access_log logs/s{i}.log main;
    add_header X-Server s{i};
    client_max_body_size 1m;
    gzip on;
    error_page 404 /404.html;
    location / {{
        try_files $uri $uri/ =404;
        expires 1h;
        add_header Cache-Control public;
    }}
    location = /health {{
        access_log off;
        return 200 "ok\\n";
    }}
    location ~ ^/api/(?<rest>.*)$ {{
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_read_timeout 30s;
        proxy_pass http://backend;
    }}
    location /lua {{
        default_type text/plain;
        content_by_lua_block {{
            local t = {{ "}}", [[ {{ ]] }}  -- braces in Lua
            ngx.say("server {i}", t[1])
        }}
    }}
    location @fallback {{
        internal;
        rewrite ^ /index.html break;
    }}
}}
"""


def generate(prefix: Path) -> Path:
    conf = prefix / "conf"
    (conf / "sites").mkdir(parents=True)
    (prefix / "logs").mkdir()
    per_file = SERVERS // FILES
    for f in range(FILES):
        text = "".join(server(i) for i in range(f * per_file, (f + 1) * per_file))
        (conf / "sites" / f"site{f:02d}.conf").write_text(text)
    main = conf / "nginx.conf"
    main.write_text("""
worker_processes 1;
events { worker_connections 4096; }
http {
    log_format main '$remote_addr "$request" $status';
    upstream backend { server 127.0.0.1:9999; keepalive 4; }
    server_names_hash_bucket_size 128;
    include sites/*.conf;
}
""")
    return main


def timed(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory(prefix="bench-conf-") as d:
        prefix = Path(d)
        conf = generate(prefix)
        parsed = load(str(conf), prefix=str(prefix))
        count = sum(1 for _ in _walk(parsed.directives))
        print(f"{SERVERS} servers x 5 locations, {len(parsed.files)} files, "
              f"{count} directives, median of {runs} runs")
        results: dict[str, float] = {}
        results["ngx-explore load"] = timed(lambda: load(str(conf), prefix=str(prefix)), runs)
        try:
            import crossplane
        except ImportError:
            print("crossplane not installed: pip install crossplane")
        else:
            results["crossplane.parse"] = timed(
                lambda: crossplane.parse(str(conf), check_ctx=True, check_args=True), runs)
        if Path(NGINX).exists():
            def nginx_t() -> None:
                subprocess.run([NGINX, "-t", "-q", "-p", str(prefix), "-c", "conf/nginx.conf",
                                "-g", LOAD_LUA], check=True, capture_output=True)
            results["nginx -t"] = timed(nginx_t, runs)
        base = results["ngx-explore load"]
        for name, secs in results.items():
            print(f"  {name:18} {secs:7.3f} s   x{secs / base:5.2f} of ours")
    return 0


def _walk(ds):  # type: ignore[no-untyped-def]
    for d in ds:
        yield d
        if d.block:
            yield from _walk(d.block)


if __name__ == "__main__":
    raise SystemExit(main())
