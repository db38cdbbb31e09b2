"""The shortlink operator: reconciles ShortLink objects into the routing table and their status.

Module map:
- `handlers`: the kopf decorators, and nothing else.
- `link_index`: every ShortLink (as an `IndexedLink`), policy and namespace, fed by events,
  seeded by one LIST and pruned by later ones (pure).
- `generated`: generated slugs from a keyed HMAC (pure).
- `policy`: reads ShortLinkPolicy objects and judges a link against them (pure).
- `referents`: the objects a `targetRef` may name, read into the few fields it needs (pure).
- `resolution`: from a `targetRef` to its judged URL, or why there is none (pure).
- `declared`: the ShortLinks that annotations on Ingresses, HTTPRoutes and Services declare (pure).
- `ownership`: decides which ShortLink owns a contested slug (pure).
- `table_state`: reads who the table in the cluster serves, and the grace-period holds (pure).
- `conditions`: builds `status` the way the Kubernetes API conventions describe (pure).
- `planning`: from links, policies and the table to the desired shards, statuses, Events (pure):
  the whole answer from scratch, the reference the incremental planner is held to.
- `incremental`: the same answer from memory of the last pass, redoing only what changed (what
  the pass executor plans with).
- `placement`: fills each shard under its byte budget, served links first (pure).
- `publisher`: the single writer, wired from the three parts below; what the handlers call.
- `scheduler`: when a pass runs: wake, debounce, the writer Lease, resync, backoff after errors
  and refused shards, the next time-based change.
- `executor`: what one pass does: plan (`incremental`), then write the shards (a few at a time),
  the manifest (last), the statuses
  and the Events through `kube`, then the declared links (`declaring`); `bounded` keeps a few
  writes in flight at a time.
- `declaring`: writes the ShortLinks that annotations declare, and reports what it cannot.
- `inputs`: the snapshot of the indexes a pass plans from, and which objects links refer to.
- `seeding`: the start-up LIST that fills the indexes, and the re-listing that prunes them.
- `manifest`: the manifest listing every shard and its digest, with digests cached (pure).
- `drift`: watches the table's ConfigMaps and tells the operator's own writes from hand changes,
  which the pass executor repairs at once.
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
