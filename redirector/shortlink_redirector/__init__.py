"""The shortlink redirector: serves redirects from the routing table, fast, and never goes blank.

Module map:
- `app`: the ASGI application; redirects on a lean path, everything else through Starlette.
- `pages`: the responses that are not redirects (probes, not found, method not allowed).
- `table`: the in-memory table with every response prepared when it is loaded.
- `follower`: keeps the table in step with the routing-table ConfigMaps.
- `kube`: the one module that talks to the Kubernetes API (list and watch the shards).
- `metrics`: what the redirector exports to Prometheus, on its own port.
- `config`: settings from flags and environment; `__main__`: runs it all in one process.
"""
