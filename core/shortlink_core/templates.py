"""Building the destination of a redirect: path suffixes, templates and query forwarding.

A target may contain the placeholders `{path}` (the rest of the requested path after the slug) and
`{query}` (the request's query string). Each is escaped for the part of the URL it stands in: in the
path, segment by segment with dot segments removed, so a suffix can never climb above the target's
path; in the query or fragment, as one query value.

Query forwarding merges the request's parameters into the target's. The target's own parameters
win on a clash: a link's author decides what its destination receives, a visitor only adds.
"""

from typing import Final
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

PLACEHOLDERS: Final = ("{path}", "{query}")
_PATH_SAFE: Final = "-._~!$&'()*+,;=:@%"
_QUERY_VALUE_SAFE: Final = "-._~!$'()*,;:@/?%"


def is_template(url: str) -> bool:
    return any(placeholder in url for placeholder in PLACEHOLDERS)


def escape_path_suffix(suffix: str) -> str:
    """A requested path suffix made safe to append to a target path (no dot segments)."""
    segments = [s for s in suffix.split("/") if s not in ("", ".", "..")]
    return "/".join(quote(unquote(s), safe=_PATH_SAFE.replace("%", "")) for s in segments)


def escape_query_value(value: str) -> str:
    return quote(unquote(value), safe=_QUERY_VALUE_SAFE.replace("%", ""))


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


def append_suffix(url: str, suffix: str) -> str:
    """`url` with the path `suffix` appended after exactly one slash."""
    suffix = escape_path_suffix(suffix)
    if not suffix:
        return url
    parts = urlsplit(url)
    path = parts.path.rstrip("/") + "/" + suffix
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def merge_query(url: str, query: str) -> str:
    """`url` with the parameters of `query` added; the URL's own parameters win on a clash."""
    if not query:
        return url
    parts = urlsplit(url)
    own = parse_qsl(parts.query, keep_blank_values=True)
    taken = {key for key, _ in own}
    extra = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in taken]
    if not extra:
        return url
    added = urlencode(extra, quote_via=quote)
    merged = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit((parts.scheme, parts.netloc, parts.path, merged, parts.fragment))


def add_parameters(url: str, parameters: dict[str, str]) -> str:
    """`url` with `parameters` set unless the URL already has them (used for UTM tags)."""
    return merge_query(url, urlencode(parameters, quote_via=quote)) if parameters else url
