#!/usr/bin/env bash
# Makes a Docker engine answer on this machine: installs Debian's docker.io when there is no
# dockerd, and starts dockerd in the background (log: $SHORTLINK_CACHE/dockerd.log) when none runs.
# An engine that already answers `docker info` is used as it is.
set -euo pipefail

CACHE=${SHORTLINK_CACHE:-$PWD/.cache}
docker info >/dev/null 2>&1 && exit 0

if ! command -v dockerd >/dev/null; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "no Docker engine: install Docker (Debian: apt-get install docker.io) and start it" >&2
    exit 1
  fi
  echo "installing docker.io with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "a Docker engine is installed but not running, and starting it needs root" >&2
  exit 1
fi
mkdir -p "$CACHE"
echo "starting dockerd (log: $CACHE/dockerd.log)" >&2
nohup dockerd >>"$CACHE/dockerd.log" 2>&1 &
for _ in $(seq 1 120); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 0.5
done
echo "dockerd did not answer within 60 s; last lines of $CACHE/dockerd.log:" >&2
tail -20 "$CACHE/dockerd.log" >&2
exit 1
