"""Which kind of visitor followed a link, and where it came from: small fixed sets of classes.

The classes are indices into `VISITOR_CLASSES` and `REFERRER_CLASSES`, so the hot path bumps a
list slot. Real traffic repeats a few hundred User-Agent and Referer values, so both functions are
memoised in bounded LRU caches (a C-level dict lookup on a hit); the bound keeps a client that
sends random headers from growing memory.
"""

from functools import lru_cache
from typing import Final
from urllib.parse import urlsplit

from shortlink_core.series import REFERRER_CLASSES, VISITOR_CLASSES

__all__ = ["REFERRER_CLASSES", "VISITOR_CLASSES", "referrer_class", "visitor_class"]

# Indices into the class tuples (declared in core, which the plugin's `stats` reads too).
DESKTOP, MOBILE, TABLET, BOT = range(len(VISITOR_CLASSES))
DIRECT, SAME_SITE, EXTERNAL = range(len(REFERRER_CLASSES))
CACHE_SIZE: Final = 4096

#: Substrings of User-Agents sent by crawlers, link unfurlers, monitors and HTTP libraries.
_BOT_MARKERS: Final = (
    "bot",
    "crawl",
    "spider",
    "slurp",
    "facebookexternalhit",
    "preview",
    "monitor",
    "headless",
    "curl/",
    "wget/",
    "python-",
    "python/",
    "httpx",
    "go-http-client",
    "okhttp",
    "java/",
    "libwww",
)
_TABLET_MARKERS: Final = ("ipad", "tablet", "kindle", "silk/", "playbook")
_MOBILE_MARKERS: Final = ("mobi", "iphone", "ipod", "android", "phone", "opera mini")


@lru_cache(maxsize=CACHE_SIZE)
def visitor_class(agent: bytes) -> int:
    """The class of a User-Agent header value; an empty one is a bot (browsers always send it)."""
    ua = agent.decode("latin-1").lower()
    if not ua or any(marker in ua for marker in _BOT_MARKERS):
        return BOT
    # Android tablets leave "Mobile" out of their User-Agent; Android phones put it in.
    if any(marker in ua for marker in _TABLET_MARKERS) or ("android" in ua and "mobile" not in ua):
        return TABLET
    if any(marker in ua for marker in _MOBILE_MARKERS):
        return MOBILE
    return DESKTOP


def host_of(url: str) -> str:
    """The lowercase host of `url` without port, `www.` or trailing dot; "" if it has none."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    host = host.rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _request_host(host_header: str) -> str:
    return host_of(f"http://{host_header}") if host_header else ""


@lru_cache(maxsize=CACHE_SIZE)
def referrer_class(referer: bytes, host: bytes) -> int:
    """`direct` without a Referer, `same-site` from a page on the short host itself, else external.

    Hosts compare without port and `www.`; telling sites apart by registrable domain would need
    the public-suffix list, which is not worth shipping for this.
    """
    if not referer:
        return DIRECT
    source = host_of(referer.decode("latin-1"))
    if source and source == _request_host(host.decode("latin-1")):
        return SAME_SITE
    return EXTERNAL
