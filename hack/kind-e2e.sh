#!/usr/bin/env bash
# `make kind-e2e`, for machines with Docker: a kind cluster, the two images built and loaded, the
# chart installed from charts/shortlink, then the chart's end-to-end check against it (a ShortLink
# applied with kubectl is served by the in-cluster redirector through a port-forward).
# kind and helm come from the Go module proxy, cached in .cache/bin. Unverified where no Docker
# engine runs.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${SHORTLINK_CACHE:-$PWD/.cache}
KIND_VERSION=v0.31.0
CLUSTER=${KIND_CLUSTER:-shortlink-e2e}
TAG=${IMAGE_TAG:-dev}
NAMESPACE=shortlink-system
KIND=$CACHE/bin/kind-$KIND_VERSION
HELM=$(.venv/bin/python -c 'import pathlib; from shortlink_localcluster.tools import ensure_helm as e; print(e(pathlib.Path("'"$CACHE"'")))')
KUBECTL=.venv/bin/kubectl

command -v docker >/dev/null || { echo "kind-e2e needs Docker" >&2; exit 1; }
if [ ! -x "$KIND" ]; then
  GOBIN=$CACHE/bin/kind-build go install "sigs.k8s.io/kind@$KIND_VERSION"
  mv "$CACHE/bin/kind-build/kind" "$KIND"
fi

"$KIND" get clusters | grep -qx "$CLUSTER" || "$KIND" create cluster --name "$CLUSTER" --wait 120s
export KUBECONFIG=$CACHE/kind-$CLUSTER.kubeconfig
"$KIND" get kubeconfig --name "$CLUSTER" >"$KUBECONFIG"

make images IMAGE_TAG="$TAG"
"$KIND" load docker-image --name "$CLUSTER" "shortlink-operator:$TAG" "shortlink-redirector:$TAG"

"$KUBECTL" create namespace "$NAMESPACE" --dry-run=client -o yaml | "$KUBECTL" apply -f -
"$KUBECTL" label namespace "$NAMESPACE" --overwrite pod-security.kubernetes.io/enforce=restricted
"$HELM" upgrade --install shortlink charts/shortlink --namespace "$NAMESPACE" --wait --timeout 5m \
  --set operator.image.tag="$TAG" --set redirector.image.tag="$TAG" \
  --set operator.image.pullPolicy=Never --set redirector.image.pullPolicy=Never

"$KUBECTL" apply -f examples/
"$KUBECTL" wait --for=condition=Ready --timeout=60s shortlinks --all
"$KUBECTL" -n "$NAMESPACE" port-forward svc/shortlink-redirector 18080:80 >/dev/null &
forward=$!
trap 'kill $forward' EXIT
sleep 2
status=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' http://127.0.0.1:18080/k8s-docs)
echo "GET /k8s-docs -> $status"
[ "$status" = "302 https://kubernetes.io/docs/home/" ]
echo "kind-e2e passed; delete the cluster with: $KIND delete cluster --name $CLUSTER"
