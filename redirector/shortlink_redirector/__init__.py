"""The shortlink redirector: serves redirects from the routing table, fast, and never goes blank.

Module map:
- `app`: the ASGI application; redirects on a lean path, everything else through Starlette.
- `resolve`: where a request goes: the redirect decision for all but the plainest requests (pure).
- `visitors`: device, languages and a sticky bucket for rules; `classify`: visitor and referrer
  classes for metrics; `addresses`: trusted proxies and anonymised client addresses.
- `framing`: the one Host header RFC 9112 asks for (400 otherwise, on both paths).
- `pages`: the responses that are not redirects (probes, robots.txt, favicon, inspect pages, QR
  codes, not found, gone); `public`: the short URL they show (public base URL, trusted proxies).
- `table`: the in-memory table with every response prepared when it is loaded.
- `visitlog`: one JSON line per redirect, written in batches off the hot path.
- `follower`: keeps the table in step with the routing-table ConfigMaps (shards and manifest).
- `manifest`: which shard copies are served, which go, and when the table is complete (pure).
- `kube`: the one module that talks to the Kubernetes API (list and watch the shards).
- `metrics`: what the redirector exports to Prometheus, on its own port.
- `config`: settings from flags and environment; `__main__`: runs it all in one process.
"""
