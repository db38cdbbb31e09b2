# The shortlink images, both from this one file. Build from the repository root (`make images`):
#   docker build --target operator   -t shortlink-operator .
#   docker build --target redirector -t shortlink-redirector .
# The base is Debian bookworm slim with Debian's Python 3.11. Where that image cannot be pulled,
# hack/debian-base-image.sh builds an equivalent from Debian packages under the same name first.
# The dependencies are installed from requirements-runtime.lock and shortlink itself as a package
# (so its version is known at run time) into a virtualenv; only that virtualenv is copied into the
# final images, which have no pip and no build tools and run as a numeric non-root user with a
# read-only root filesystem (every .pyc is compiled here, nothing is written at run time). Shared
# objects are stripped, and the C and Cython sources some wheels carry are left out.
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

FROM python AS runtime
# The user has a name too: some libraries look it up (kopf names its peering identity after it).
RUN groupadd --system --gid 65532 shortlink \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin shortlink
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH
# A numeric non-root user, so Pod Security "restricted" (runAsNonRoot) can verify it.
USER 65532:65532

FROM runtime AS operator
EXPOSE 8081 9091
ENTRYPOINT ["shortlink-operator"]

FROM runtime AS redirector
EXPOSE 8080 9090
ENTRYPOINT ["shortlink-redirector"]
