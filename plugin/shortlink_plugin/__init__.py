"""`kubectl shortlink`: the kubectl plugin for people who own short links.

Installed with the Python package as the `kubectl-shortlink` console script, so kubectl finds it
on PATH and runs it as `kubectl shortlink ...`. `cli` declares the commands and kubectl's flags;
`commands` carries them out; `kubectl` is the only module that talks to the cluster (through the
kubectl binary itself, so every kubeconfig, context and credential plugin works as it does for
kubectl); `listing` lays out tables; `lookup` answers who owns a slug with the same routing keys
as the operator and the redirector (`shortlink_core.claims`); `stats` asks Prometheus for a
link's visits (over HTTP, the one thing it asks outside kubectl).
"""
