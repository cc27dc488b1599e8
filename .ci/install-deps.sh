#!/bin/sh
# Installs what cwlogs needs to build, run and test on Debian 12 (run as root).
set -eu
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake pkg-config ca-certificates curl tzdata \
  lua5.4 liblua5.4-dev lua-cjson libcurl4-openssl-dev libssl-dev \
  luarocks lua-busted lua-argparse lua-check >/dev/null
# moto and boto3 live in whatever python3 comes first on PATH (pyenv on our machines);
# only a machine without any python3 gets Debian's.
if ! command -v python3 >/dev/null 2>&1; then
  $SUDO apt-get install -y -qq python3 python3-pip >/dev/null
fi
if ! command -v moto_server >/dev/null 2>&1; then
  echo "moto_server not found: installing moto[server] with pip" >&2
  python3 -m pip install --quiet 'moto[server]' || {
    echo "cwlogs: could not install moto; install it with: pip install 'moto[server]'" >&2
    exit 1
  }
fi
