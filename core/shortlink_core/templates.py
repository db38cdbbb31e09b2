"""Building the destination of a redirect: path suffixes, templates and query forwarding.

What a visitor adds to a short link reaches the target byte for byte. The path after the slug is
appended as it was sent: its percent-encoding, empty segments (`/who/http://host` gives the
target `/http://host`) and a trailing slash are kept. Two things change, and only these: dot
segments (`.`, `..`, also written `%2e`) are dropped, never resolved, so a suffix can never climb
above the target's path; and bytes a URL cannot carry (controls, space, non-ASCII, `"<>\\^`{|}`)
are percent-encoded, so the Location stays visible ASCII. The query string is forwarded the same
way: as sent, unless a key clashes with one of the target's own.

A target may contain the placeholders `{path}` (the suffix) and `{query}` (the request's query
string). In the path, `{path}` takes the suffix as above; in the query or fragment, each is
escaped as one query value.

On a clash the target's own parameters win: a link's author decides what its destination
receives, a visitor only adds. The request's parameters whose key (percent- and plus-decoded) the
target also has are left out; the others are kept as sent, in their order.

Requests reach these functions as text holding one character per byte (Latin-1), which is how
the redirector decodes the raw path and query; text from a spec is percent-encoded already.
"""

from typing import Final
from urllib.parse import quote, unquote, unquote_plus, urlencode

PLACEHOLDERS: Final = ("{path}", "{query}")
#: Kept as they are in a path: RFC 3986 `pchar`s, "/" and "%" (existing escapes stay as sent).
_PATH_SAFE: Final = "-._~!$&'()*+,;=:@/%"
#: Kept as they are in a query string: the path's, and "?".
_QUERY_SAFE: Final = _PATH_SAFE + "?"
#: Kept in one query value: no "&", "=", "+" or "#", which would end or change it.
_QUERY_VALUE_SAFE: Final = "-._~!$'()*,;:@/?"
#: A path segment a browser would resolve ("." or ".."), in any spelling.
_DOT_SEGMENTS: Final = frozenset({".", "..", "%2e", ".%2e", "%2e.", "%2e%2e"})


def is_template(url: str) -> bool:
    return any(placeholder in url for placeholder in PLACEHOLDERS)


def _quote(text: str, safe: str) -> str:
    """Percent-encode what is not `safe`: one byte per character, or UTF-8 for text beyond it."""
    encoding = "latin-1" if max(text, default="\0") <= "\xff" else "utf-8"
    return quote(text, safe=safe, encoding=encoding)


def escape_path_suffix(suffix: str) -> str:
    """A requested path suffix as it goes into a target path: as sent, without dot segments."""
    segments = _quote(suffix, _PATH_SAFE).split("/")
    return "/".join(s for s in segments if s.lower() not in _DOT_SEGMENTS)


def escape_query_value(value: str) -> str:
    """`value` (percent-encoded or not) as one query value: the same bytes, nothing that ends it."""
    return _quote(unquote(value, encoding="latin-1"), _QUERY_VALUE_SAFE)


def render(url: str, *, suffix: str, query: str) -> str:
    """Fill `{path}` and `{query}` in `url`, escaping each for where it stands."""
    split_at = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=len(url))
    head, tail = url[:split_at], url[split_at:]
    head = head.replace("{path}", escape_path_suffix(suffix)).replace(
        "{query}", escape_query_value(query)
    )
    tail = tail.replace("{path}", escape_query_value(suffix)).replace(
        "{query}", escape_query_value(query)
    )
    return head + tail


def _split(url: str) -> tuple[str, str, str]:
    """`url` as (everything before the query, the query with its "?" or "", the fragment part)."""
    rest, hash_mark, fragment = url.partition("#")
    base, question_mark, query = rest.partition("?")
    return base, question_mark + query, hash_mark + fragment


def append_suffix(url: str, suffix: str) -> str:
    """`url` with the path `suffix` appended after exactly one slash."""
    suffix = escape_path_suffix(suffix)
    if not suffix:
        return url
    base, query, fragment = _split(url)
    if base.endswith("/"):
        base = base[:-1]
    return f"{base}/{suffix}{query}{fragment}"


def _key(pair: str) -> str:
    return unquote_plus(pair.partition("=")[0], encoding="latin-1")


def merge_query(url: str, query: str) -> str:
    """`url` with the parameters of `query` added as sent; the URL's own win on a clash."""
    if not query:
        return url
    base, own, fragment = _split(url)
    pairs = query.split("&")
    if own:
        taken = {_key(pair) for pair in own[1:].split("&")}
        kept = [pair for pair in pairs if _key(pair) not in taken]
        if len(kept) < len(pairs):  # a clash: only the pairs that do not clash go on
            pairs = [pair for pair in kept if pair]
    extra = _quote("&".join(pairs), _QUERY_SAFE)
    if not extra:
        return url
    joiner = "" if own in ("?", "") or own.endswith("&") else "&"
    return f"{base}{own or '?'}{joiner}{extra}{fragment}"


def add_parameters(url: str, parameters: dict[str, str]) -> str:
    """`url` with `parameters` set unless the URL already has them (used for UTM tags)."""
    return merge_query(url, urlencode(parameters, quote_via=quote)) if parameters else url
