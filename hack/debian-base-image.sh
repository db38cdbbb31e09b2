#!/usr/bin/env bash
# Makes the base image the Dockerfile names (debian:bookworm-slim) available to the local Docker
# engine: already there, pulled, or — where no image registry can be reached — built here from
# Debian's packages with mmdebstrap and tagged with the same name, so the same Dockerfile builds
# both ways. The Debian mirror is the one this machine's apt already uses (`apt-get indextargets`),
# so nothing here names a mirror.
set -euo pipefail

IMAGE=${1:-debian:bookworm-slim}
SUITE=bookworm
docker image inspect "$IMAGE" >/dev/null 2>&1 && exit 0
if timeout 300 docker pull --quiet "$IMAGE" >/dev/null 2>&1; then
  exit 0
fi
echo "cannot pull $IMAGE: building an equivalent from Debian packages with mmdebstrap" >&2

if ! command -v mmdebstrap >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi

# The host's Debian archive and security archive, as its apt sources list them.
repos=$(apt-get indextargets --format '$(REPO_URI)' 'Identifier: Packages' | sort -u)
archive=$(grep -v -- '-security/*$' <<<"$repos" | grep -m1 '/debian/*$' || true)
security=$(grep -m1 -- '-security/*$' <<<"$repos" || true)
if [ -z "$archive" ]; then
  echo "this machine's apt sources name no Debian archive; cannot build $IMAGE" >&2
  exit 1
fi
sources=("deb $archive $SUITE main" "deb $archive $SUITE-updates main")
[ -n "$security" ] && sources+=("deb $security $SUITE-security main")

# minbase with the same trimming as the "slim" images (no manuals, docs or translations), and
# merged /usr set up by the hook rather than the usrmerge package (which would bring in perl).
printf '%s\n' "${sources[@]}" | mmdebstrap --quiet --variant=minbase --format=tar \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --aptopt='Acquire::Languages "none"' \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log' \
  "$SUITE" - - |
  docker import --change 'CMD ["bash"]' - "$IMAGE" >/dev/null
echo "built $IMAGE ($(docker image inspect --format '{{.Size}}' "$IMAGE") bytes)" >&2
