"""The shortlink operator: reconciles ShortLink objects into the routing table and their status.

Module map:
- `handlers`: the kopf decorators, and nothing else.
- `links`: reads a ShortLink object into an `IndexedLink` (pure).
- `ownership`: decides which ShortLink owns a contested slug (pure).
- `conditions`: builds `status` the way the Kubernetes API conventions describe (pure).
- `planning`: from all links to the desired table shards and statuses (pure).
- `publisher`: the single writer; debounces changes and applies a plan through `kube`.
- `kube`: the one module that talks to the Kubernetes API.
- `config`: the operator's settings, from flags and environment.
"""
