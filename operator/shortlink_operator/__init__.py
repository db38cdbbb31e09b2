"""The shortlink operator: reconciles ShortLink objects into the routing table and their status.

Module map:
- `handlers`: the kopf decorators, and nothing else.
- `link_index`: every ShortLink (as an `IndexedLink`), policy and namespace, fed by events,
  seeded by one LIST and pruned by later ones (pure).
- `generated`: generated slugs from a keyed HMAC (pure).
- `policy`: reads ShortLinkPolicy objects and judges a link against them (pure).
- `ownership`: decides which ShortLink owns a contested slug (pure).
- `table_state`: reads who the table in the cluster serves, and the grace-period holds (pure).
- `conditions`: builds `status` the way the Kubernetes API conventions describe (pure).
- `planning`: from links, policies and the table to the desired shards, statuses, Events (pure).
- `placement`: fills each shard under its byte budget, served links first (pure).
- `publisher`: the single writer; debounces changes and applies a plan through `kube`, shards
  first and the manifest last.
- `manifest`: the manifest listing every shard and its digest, with digests cached (pure).
- `drift`: watches the table's ConfigMaps and tells the operator's own writes from hand changes,
  which the publisher repairs at once.
- `leadership`: the Lease that lets one operator process write while another stands by.
- `visits`: from Prometheus's answers to the `status.visits` that changed (pure).
- `visit_reporter`: with `--prometheus-url`, polls Prometheus, writes `status.visits` on a budget.
- `prometheus`: the one module that talks to Prometheus's HTTP API.
- `prober`: with `--probe-targets`, probes each distinct link target under a request budget and
  keeps the `TargetReachable` condition.
- `probing`: what a probe's answer means, and the condition that says it (pure).
- `http_probe`: the one module that makes probe requests (one request, its status line).
- `probe_addresses`: which addresses a probe may connect to (pure).
- `budget`: the token bucket that paces visits writes, probes and probe writes.
- `kube`: the one module that talks to the Kubernetes API.
- `metrics`: what the operator exports to Prometheus, on its own port.
- `kopf_config`: kopf's own configuration, all explicit.
- `config`: the operator's settings, from flags and environment.
"""
