"""``ngx-explore [CONF] [-p PREFIX] [--no-listen] [--port-offset N]``: open the explorer.

Without CONF the bundled sample opens (``samples/conf/nginx.conf``), or, when the
samples are not installed, the small demo shipped with the explorer. Arguments are
checked before Textual starts, so a typo gets a one-line message and exit code 2,
not a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CONF = _ROOT / "samples" / "conf" / "nginx.conf"
DEMO_CONF = Path(__file__).resolve().parents[1] / "demo" / "nginx.conf"


def default_conf() -> Path:
    """The sample config when present, else the explorer's own demo."""
    return SAMPLE_CONF if SAMPLE_CONF.is_file() else DEMO_CONF


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ngx-explore",
        description="Explore an nginx/OpenResty configuration: send requests, watch the "
                    "trace.")
    p.add_argument("conf", nargs="?", help="nginx.conf to open (default: the bundled sample)")
    p.add_argument("-p", dest="prefix", metavar="PREFIX", help="prefix path, as nginx -p")
    p.add_argument("--no-listen", action="store_true",
                   help="do not open the config's listeners; requests only from the composer")
    p.add_argument("--port-offset", type=int, default=0, metavar="N",
                   help="add N to every listen port (run beside a real nginx)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    conf = Path(args.conf) if args.conf else default_conf()
    if args.conf and args.prefix and not conf.is_absolute():
        conf = Path(args.prefix) / conf
    if not conf.exists():
        print(f'nginx: [emerg] open() "{os.path.abspath(conf)}" failed '
              "(2: No such file or directory)", file=sys.stderr)
        return 1
    if not 0 <= args.port_offset < 65535:
        print("ngx-explore: --port-offset must be between 0 and 65534", file=sys.stderr)
        return 2
    from ..app import NgxExploreApp  # Textual is imported only when the UI runs

    prefix = args.prefix
    if prefix is None and conf == DEMO_CONF:  # keep the demo's logs out of the package
        from ..history import state_dir

        prefix = str(state_dir() / "demo")
        os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
    app = NgxExploreApp(str(conf), prefix, listen=not args.no_listen,
                        port_offset=args.port_offset)
    app.run()
    return int(app.return_code or 0)


if __name__ == "__main__":
    sys.exit(main())
