"""Run every benchmark in bench/ in turn (``make bench``), each printing its own table.

    python bench/run_all.py [--quick]

``--quick`` shortens each run (for a smoke test); figures from a quick run are noisy.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: (script, normal arguments, quick arguments)
BENCHES = [
    ("bench_conf.py", [], []),
    ("bench_engine.py", [], ["--seconds", "0.5", "--runs", "1", "--sleepers", "1000"]),
    ("bench_lua_api.py", [], []),
    ("bench_http.py", ["--soak", "60"], ["--duration", "2", "--soak", "5"]),
    ("bench_app.py", [], ["--runs", "1", "--duration", "3"]),
    ("bench_debugger.py", [], []),
]


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    failed = []
    for script, args, quick_args in BENCHES:
        path = HERE / script
        if not path.exists():
            continue
        print(f"\n=== {script} ===", flush=True)
        rc = subprocess.call([sys.executable, str(path), *(quick_args if quick else args)])
        if rc != 0:
            failed.append(script)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
