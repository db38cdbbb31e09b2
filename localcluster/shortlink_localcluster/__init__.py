"""An embedded Kubernetes control plane on 127.0.0.1, for `make run` and the test tiers.

It is a real kube-apiserver (built from the `k8s.io/kubernetes` Go module by `build`) on a real etcd
(Debian's `etcd-server`), with generated certificates, RBAC authorization and a kubeconfig. By
itself it has no kubelet and no controller manager: nothing in a Pod spec runs, so `make run` and
the cluster tier run shortlink's operator and redirector next to it as plain processes. The node
tier adds a real node beside it (`node`), where the chart's pods run.

Module map:
- `build`: builds and caches the Kubernetes components (kube-apiserver, and the node's kubelet,
  kube-proxy, kube-controller-manager, kube-scheduler) from the pinned module, the pause program,
  CoreDNS and the Go tools the node needs (crictl).
- `tools`: builds helm and reads the third-party CRDs the chart tests need.
- `controlplane`: starts and stops etcd and kube-apiserver, writes the kubeconfig.
- `node`: a real kubelet node with containerd, the CNI bridge, kube-proxy, the controllers and
  CoreDNS, beside the control plane (the node tier).
- `release`: the chart installed with helm on that node, from images built from this repository
  (the node tier, and `make bench-node`).
- `stack`: the whole product on the control plane: the CRDs, the operator and a redirector.
- `bulk`: many ShortLinks at once through the API, and reading them back (scale tests, benchmarks).
- `processes`: runs a child process with its log in a file, and stops it cleanly.
- `__main__`: `make run` — the control plane plus the operator, a redirector and the examples.
"""
