#!/usr/bin/env bash
# Installs what shortlink's tests and `make run` need from the system, when it is missing:
# etcd (Debian's etcd-server) and openssl, and with arguments the extras of some tiers (`node`:
# containerd, runc, CNI plugins, iptables, mmdebstrap; `chromium`: the browser tier's headless
# Chromium). Go must already be there: it builds
# kube-apiserver.
set -euo pipefail

need_apt=()
command -v etcd >/dev/null || need_apt+=(etcd-server)
command -v openssl >/dev/null || need_apt+=(openssl)
for extra in "$@"; do
  case "$extra" in
    prometheus) command -v prometheus >/dev/null && command -v promtool >/dev/null || need_apt+=(prometheus) ;;
    nginx) command -v nginx >/dev/null || need_apt+=(nginx-light) ;;
    wrk) command -v wrk >/dev/null || need_apt+=(wrk) ;;
    chromium) command -v chromium >/dev/null || need_apt+=(chromium) ;;
    node)
      # The node tier's node: a container runtime, CNI plugins, iptables for kube-proxy, and
      # mmdebstrap for the base image where no image registry can be reached.
      command -v containerd >/dev/null || need_apt+=(containerd)
      command -v runc >/dev/null || need_apt+=(runc)
      [ -x /usr/lib/cni/bridge ] || need_apt+=(containernetworking-plugins)
      command -v iptables >/dev/null || need_apt+=(iptables)
      command -v conntrack >/dev/null || need_apt+=(conntrack)
      command -v ip >/dev/null || need_apt+=(iproute2)
      command -v mmdebstrap >/dev/null || need_apt+=(mmdebstrap)
      ;;
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
