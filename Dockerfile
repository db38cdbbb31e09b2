# The shortlink images, both from this one file. Build from the repository root (`make images`):
#   docker build --target operator   -t shortlink-operator .
#   docker build --target redirector -t shortlink-redirector .
# The build stages run on Debian bookworm slim with Debian's Python 3.11. Where that image cannot be
# pulled, hack/debian-base-image.sh builds an equivalent from Debian packages under the same name
# first. The dependencies are installed from requirements-runtime.lock and shortlink itself as a
# package (so its version is known at run time) into a virtualenv. The final images start from
# scratch: that virtualenv and only the Debian packages Python needs at run time (stage rootfs), so
# they have no shell, no apt or dpkg, no pip and no build tools; they run as a numeric non-root
# user with a read-only root filesystem (every .pyc is compiled here, nothing is written at run
# time). Shared objects are stripped, and the C and Cython sources some wheels carry are left out.
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS python
# The base tag pins the Debian release; its security updates come with a rebuild, so the Debian
# packages are not pinned further.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1

FROM python AS build
# PEM certificates to trust besides Debian's while fetching packages, for machines behind a
# TLS-inspecting proxy: hack/build-images.sh passes the ones this machine added to its own trust
# store (/usr/local/share/ca-certificates). Only this build stage sees them.
ARG EXTRA_CA_CERTS=""
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-venv ca-certificates binutils \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* \
    && if [ -n "$EXTRA_CA_CERTS" ]; then \
        printf '%s\n' "$EXTRA_CA_CERTS" >/usr/local/share/ca-certificates/build-extra.crt \
        && update-ca-certificates >/dev/null; \
    fi
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
RUN python3 -m venv /venv
COPY requirements-runtime.lock /src/
RUN /venv/bin/pip install --no-deps --only-binary=:all: -r /src/requirements-runtime.lock
COPY pyproject.toml README.md /src/
COPY core /src/core
COPY operator /src/operator
COPY redirector /src/redirector
COPY localcluster/shortlink_localcluster /src/localcluster/shortlink_localcluster
# The wheel also carries the kubectl plugin and the ShortLink CRD (the manifest lint reads it).
COPY plugin/shortlink_plugin /src/plugin/shortlink_plugin
COPY crds/shortlinks.shortlink.dev.yaml /src/crds/
RUN /venv/bin/pip install --no-deps /src \
    && /venv/bin/pip uninstall --yes pip setuptools \
    && find /venv -name '*.so' -exec strip --strip-unneeded {} + \
    && find /venv/lib \( -name '*.c' -o -name '*.h' -o -name '*.pyx' -o -name '*.pxd' \
        -o -name '*.pyi' \) -delete \
    && /venv/bin/python -m compileall -q /venv/lib

# The runtime's root filesystem: only the Debian packages Python needs at run time (python3 with
# everything it depends on, libstdc++6 for the C++ wheels, base-files for /etc/os-release), copied
# file by file as dpkg lists them, with the stdlib's compiled .pyc files and those packages' dpkg
# status (so image scanners see what is inside). Left out: the shell, coreutils, apt, perl, and
# dpkg and tar (python3-minimal depends on them only for its maintainer scripts, which never run
# here). /lib, /bin, /sbin and /lib64 are symlinks into /usr, as in Debian. The last step imports
# both programs inside the new root, so a shared library left out fails the build, not a pod.
FROM python AS rootfs
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY --from=build /venv /rootfs/venv
RUN mapfile -t packages < <(apt-cache depends --recurse --installed --no-recommends \
        --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances \
        python3 libstdc++6 base-files | grep -v '^ ' | grep -vxE 'dpkg|tar' | sort -u) \
    && mkdir -p /rootfs/usr/bin /rootfs/usr/sbin /rootfs/usr/lib /rootfs/usr/lib64 \
        /rootfs/var/lib/dpkg /rootfs/etc /rootfs/tmp \
    && for dir in bin sbin lib lib64; do ln -s "usr/$dir" "/rootfs/$dir"; done \
    && chmod 1777 /rootfs/tmp \
    && { dpkg-query -L "${packages[@]}"; find /usr/lib/python3.11 -name '*.pyc'; } \
        | while read -r path; do \
            if [ "$path" != /. ] && { [ -e "$path" ] || [ -L "$path" ]; }; then \
                echo "${path#/}"; \
            fi; \
        done \
        | tar -C / --create --no-recursion --files-from=- \
        | tar -C /rootfs --extract --keep-directory-symlink \
    && dpkg-query --status "${packages[@]}" >/rootfs/var/lib/dpkg/status \
    && cp /etc/ld.so.conf /etc/nsswitch.conf /rootfs/etc/ \
    && ldconfig -r /rootfs \
    && printf '%s\n' 'root:x:0:0:root:/root:/usr/sbin/nologin' \
        'shortlink:x:65532:65532:shortlink:/nonexistent:/usr/sbin/nologin' >/rootfs/etc/passwd \
    && printf '%s\n' 'root:x:0:' 'shortlink:x:65532:' >/rootfs/etc/group \
    && chroot /rootfs /venv/bin/python3 -c \
        'import shortlink_operator.__main__, shortlink_redirector.__main__'

FROM scratch AS runtime
COPY --from=rootfs /rootfs /
# The user has a name too (/etc/passwd above): some libraries look it up (kopf names its peering
# identity after it).
ENV PATH=/venv/bin:/usr/local/bin:/usr/bin:/bin PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# A numeric non-root user, so Pod Security "restricted" (runAsNonRoot) can verify it.
USER 65532:65532

FROM runtime AS operator
EXPOSE 8081 9091
ENTRYPOINT ["shortlink-operator"]

FROM runtime AS redirector
EXPOSE 8080 9090
ENTRYPOINT ["shortlink-redirector"]
