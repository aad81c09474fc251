#!/usr/bin/env bash
# Installs the real nginx + ngx_lua (the oracle for differential tests) and wrk (benchmarks)
# from Debian's packages when they are missing. Needs root; otherwise says what to run.
set -euo pipefail
need=()
[ -f /usr/share/nginx/modules/ngx_http_lua_module.so ] && [ -d /usr/share/doc/lua-cjson ] || need+=(nginx libnginx-mod-http-lua libnginx-mod-http-ndk lua-resty-core lua-resty-lrucache lua-cjson)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "ngx-explore: to run the differential tests, install: apt-get install ${need[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts nginx on port 80 when a service manager exists; the tests need none of it.
command -v systemctl >/dev/null 2>&1 && systemctl stop nginx >/dev/null 2>&1 || true
exit 0
