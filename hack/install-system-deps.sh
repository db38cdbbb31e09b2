#!/usr/bin/env bash
# Installs what shortlink's tests and `make run` need from the system, when it is missing:
# etcd (Debian's etcd-server) and openssl. Go must already be there: it builds kube-apiserver.
set -euo pipefail

need_apt=()
command -v etcd >/dev/null || need_apt+=(etcd-server)
command -v openssl >/dev/null || need_apt+=(openssl)
for extra in "$@"; do
  case "$extra" in
    prometheus) command -v prometheus >/dev/null && command -v promtool >/dev/null || need_apt+=(prometheus) ;;
    nginx) command -v nginx >/dev/null || need_apt+=(nginx-light) ;;
    wrk) command -v wrk >/dev/null || need_apt+=(wrk) ;;
    *) echo "unknown extra: $extra" >&2; exit 2 ;;
  esac
done

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "please install: ${need_apt[*]} (Debian/Ubuntu package names)" >&2
    exit 1
  fi
  echo "installing ${need_apt[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! command -v go >/dev/null; then
  echo "Go 1.26 or newer is needed to build kube-apiserver (https://go.dev/doc/install)" >&2
  exit 1
fi
