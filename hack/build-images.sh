#!/usr/bin/env bash
# `make images`: builds shortlink-operator:TAG and shortlink-redirector:TAG from the Dockerfile
# (its two final stages), after making sure a Docker engine runs and the base image is there
# (hack/debian-base-image.sh builds it from Debian packages where it cannot be pulled). Prints each
# image's size. With a second argument DIR, also writes DIR/shortlink-images-TAG.tar (docker save)
# for installing without a registry.
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=${1:-dev}
ARCHIVES=${2:-}
hack/ensure-docker.sh
hack/debian-base-image.sh debian:bookworm-slim

# Certificates this machine trusts besides Debian's (Debian's place for local CAs), so that the
# build stage can reach the package index through the same TLS-inspecting proxy, if there is one.
extra_ca=""
for cert in /usr/local/share/ca-certificates/*.crt; do
  [ -f "$cert" ] && extra_ca+="$(cat "$cert")"$'\n'
done

for component in operator redirector; do
  docker build --quiet --target "$component" --build-arg EXTRA_CA_CERTS="$extra_ca" \
    -t "shortlink-$component:$TAG" . >/dev/null
  size=$(docker image inspect --format '{{.Size}}' "shortlink-$component:$TAG")
  echo "shortlink-$component:$TAG $((size / 1000000)) MB"
done

if [ -n "$ARCHIVES" ]; then
  mkdir -p "$ARCHIVES"
  docker save -o "$ARCHIVES/shortlink-images-$TAG.tar" \
    "shortlink-operator:$TAG" "shortlink-redirector:$TAG"
  echo "wrote $ARCHIVES/shortlink-images-$TAG.tar"
fi
