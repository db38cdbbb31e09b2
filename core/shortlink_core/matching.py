"""How a requested slug is matched to a link, and which slugs no link may claim.

Matching ignores ASCII case and the separators `-`, `_` and `.` by default: `Go/Team-Docs`,
`team_docs` and `teamdocs` all have the match key `teamdocs`, as in golink. Only the ASCII
letters A-Z fold; no other character is changed (no Unicode case folding, no NFKC), so a path
holding non-ASCII characters, such as the KELVIN SIGN in `/%E2%84%AAey`, matches only a slug with
exactly those characters, and slugs are ASCII. Two links conflict when their match keys are equal
on the same host, whatever their matching mode, so a request never has two candidates; a link
with exact matching answers only its exact slug.

Reserved slugs are judged by their match key too: a request for `/healthz` looks up the key
`healthz`, so `health-z`, `health_z` and `health.z` are reserved just like `healthz`. The CRD
(`crds/shortlinks.shortlink.dev.yaml`) lists the same keys in its CEL rules; a unit test keeps the
two lists equal.
"""

import string
from typing import Final

_FOLD: Final = str.maketrans(string.ascii_uppercase, string.ascii_lowercase, "-_.")

#: Paths a shortener's host answers itself or that browsers, crawlers, certificate authorities
#: and API clients ask for without being given a link: probes and metrics, `api` (kept free for
#: an API), `.well-known` (ACME challenges, security.txt), and the files browsers and crawlers
#: fetch on their own. The redirector serves `robots.txt` and `favicon.ico` itself.
RESERVED_SLUGS: Final = (
    "healthz",
    "livez",
    "readyz",
    "metrics",
    "api",
    ".well-known",
    "robots.txt",
    "favicon.ico",
    "apple-touch-icon.png",
    "sitemap.xml",
    "security.txt",
)


def match_key(slug: str) -> str:
    """The key under which `slug` is found when matching ignores ASCII case and separators."""
    return slug.translate(_FOLD)


#: The match keys of the reserved slugs (what the reserved check compares), each to its slug.
RESERVED_KEYS: Final = {match_key(slug): slug for slug in RESERVED_SLUGS}


def reserved_as(slug: str) -> str | None:
    """The reserved slug that `slug` matches alike (`health-z` → `healthz`), or None."""
    return RESERVED_KEYS.get(match_key(slug))


def routing_key(host: str, slug: str) -> str:
    """The key a link is stored and sharded under: its host (or empty) and its match key."""
    return f"{host}/{match_key(slug)}"
