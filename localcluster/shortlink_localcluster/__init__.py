"""An embedded Kubernetes control plane on 127.0.0.1, for `make run` and the cluster test tier.

It is a real kube-apiserver (built from the `k8s.io/kubernetes` Go module by `build`) on a real etcd
(Debian's `etcd-server`), with generated certificates, RBAC authorization and a kubeconfig. There is
no kubelet and no controller manager: nothing in a Pod spec runs, so shortlink's operator and
redirector run next to it as plain processes.

Module map:
- `build`: builds and caches the kube-apiserver binary.
- `controlplane`: starts and stops etcd and kube-apiserver, writes the kubeconfig.
- `processes`: runs a child process with its log in a file, and stops it cleanly.
- `run`: `make run` — the control plane plus the operator, a redirector and the examples.
"""
