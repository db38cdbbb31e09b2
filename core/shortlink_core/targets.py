"""The URL judge: which targets a link may redirect to, and the exact form they are sent in.

Browsers read a `Location` by the WHATWG URL Standard, and Python's `urlsplit` reads some URLs
differently (a backslash, an encoded or invisible character in the host, a numeric IPv4 form), so
a check made with `urlsplit` alone can pass a URL that sends visitors somewhere else. The judge
reads every target twice: with its own strict normalisation (IDNA 2008 / UTS 46 host names through
`idna`, ports, IP literals) and with a real WHATWG parser (`ada_url`, the parser Node.js uses).
It accepts a target only when both agree on the scheme, the host and the port, and then emits the
WHATWG serialisation: the very bytes a browser would request.

The operator judges a spec before it reports `Ready`, and the redirector judges every table entry
again when it loads it, with this one function on the same emitted form; the judge is idempotent
(judging what it emitted gives it back), so a link is Ready if and only if the redirector serves it.
The rules, as the README states them:

- http or https, written `http://` or `https://` with a host; no credentials (`user@`);
- no whitespace, control characters, invisible formatting characters (bidi controls, zero-width
  characters, what UTS 46 silently drops from a host) or backslashes anywhere;
- no percent-encoded characters in the host; international names are mapped by UTS 46 and encoded
  by IDNA 2008 (`faß.de` is `xn--fa-hia.de`, never `fass.de`); every label letters, digits,
  inner hyphens and underscores, at most 63 characters, the whole at most 253;
- IPv4 addresses only as four decimal numbers (`192.0.2.1`); hex, octal, shortened and
  single-number forms (`0x7f.1`, `0177.0.0.1`, `127.1`, `2130706433`) are refused, because
  browsers read them as an address that the text does not show; IPv6 in brackets, sent compressed;
- a port from 1 to 65535; the scheme's default port is dropped (`:443` on https);
- at most `MAX_URL_BYTES` bytes as sent.

Whether a target points back at the shortener itself depends on the hosts it serves, so the
operator checks that with `loop_back` (see `shortlink_operator.planning`).
"""

import functools
import ipaddress
import re
import unicodedata
from collections.abc import Iterable, Set
from typing import Final
from urllib.parse import urlsplit

import ada_url
import idna

from shortlink_core.errors import InvalidLink
from shortlink_core.templates import PLACEHOLDERS

#: Most bytes of a target as it is sent (the WHATWG serialisation, all ASCII).
MAX_URL_BYTES: Final = 2048
DEFAULT_PORTS: Final = {"http": 80, "https": 443}
MAX_HOST_LENGTH: Final = 253
MAX_LABEL_LENGTH: Final = 63

_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_PORT: Final = re.compile(r"[0-9]{1,5}", re.ASCII)
_ASCII_LABEL: Final = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?", re.ASCII)
#: The WHATWG "ends in a number" test: a last label of digits, or 0x and hex digits.
_NUMERIC_LABEL: Final = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*", re.ASCII)
_OCTET: Final = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4: Final = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}", re.ASCII)
#: Unicode categories refused anywhere: controls, formatting (bidi, zero-width, soft hyphen),
#: surrogates and every kind of space.
_INVISIBLE: Final = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})
#: Stand-ins for `{path}` and `{query}` while a template is judged: letters only, which the
#: WHATWG serialisation leaves alone wherever they stand (it would encode the braces).
_ADA_ATTRIBUTES: Final = ("href", "protocol", "hostname", "port")
#: What may not stand in a Location header: anything but printable ASCII.
_UNSENDABLE: Final = re.compile(r"[^\x21-\x7e]")
#: The ASCII characters refused anywhere in a URL, for the common all-ASCII case.
_REFUSED_ASCII: Final = re.compile(r"[\x00-\x20\x7f\\]")
_MARKS: Final = (("{path}", "shortlinkpathplaceholder"), ("{query}", "shortlinkqueryplaceholder"))


def judge_target(url: str) -> str:
    """Like `judge_url`, but `{path}` and `{query}` may stand in the path, query or fragment."""
    lowered = url.lower()
    if any(mark in lowered for _, mark in _MARKS):
        raise InvalidLink("url must not contain the text shortlink uses for its placeholders")
    if "{" not in url and "}" not in url:
        return judge_url(url)
    marked = url
    for placeholder, mark in _MARKS:
        marked = marked.replace(placeholder, mark)
    if "{" in marked or "}" in marked:
        raise InvalidLink(f"url may contain only the placeholders {' and '.join(PLACEHOLDERS)}")
    sent = _whatwg_form(marked)
    host = urlsplit(sent).netloc
    if any(mark in host for _, mark in _MARKS):
        raise InvalidLink("placeholders may not stand in the host")
    for placeholder, mark in _MARKS:
        sent = sent.replace(mark, placeholder)
    return _within_limit(sent)


def judge_url(url: str) -> str:
    """Return the form `url` is sent in (its WHATWG serialisation), or raise `InvalidLink`."""
    return _within_limit(_whatwg_form(url))


def _whatwg_form(url: str) -> str:
    _refuse_characters(url, "url")
    scheme, authority = _split(url)
    host, port = _authority(authority)
    host = _ipv6(host[1:-1]) if host.startswith("[") else _host(host)
    if port == DEFAULT_PORTS[scheme]:
        port = None
    try:
        parsed = ada_url.parse_url(url, attributes=_ADA_ATTRIBUTES)
    except ValueError:
        raise InvalidLink("url is not a URL a browser can follow") from None
    seen = (parsed["protocol"], parsed["hostname"], parsed["port"])
    if seen != (f"{scheme}:", host, "" if port is None else str(port)):
        raise InvalidLink(
            f"url is read differently by browsers (host {parsed['hostname']!r}) "
            f"than its text says (host {host!r})"
        )
    sent: str = parsed["href"]
    if _UNSENDABLE.search(sent):
        raise InvalidLink("url cannot be sent as an ASCII Location")  # ada encodes; a safety net
    return sent


def _within_limit(sent: str) -> str:
    if len(sent) > MAX_URL_BYTES:
        raise InvalidLink(
            f"url must be at most {MAX_URL_BYTES} bytes as sent (percent-encoded and with the "
            f"host in IDNA form); it is {len(sent)}"
        )
    return sent


def loop_back(destinations: Iterable[str], *, base_url: str, hosts: Set[str]) -> str | None:
    """Which judged destination points back at the shortener itself, or None.

    The shortener is its public base URL (host and port) and every host its links serve (on any
    port). A redirect there would come back to the redirector: a loop, or a chain of short links.
    """
    own = _address(base_url)
    for url in destinations:
        address = _address(url)
        host = address[0]
        if host in hosts or address == own:
            return f"{url} points back at this shortener ({host}): a redirect loop is never served"
    return None


@functools.lru_cache(maxsize=1 << 18)  # the operator asks again for every link on every pass
def _address(url: str) -> tuple[str, int | None]:
    """The host (without a trailing dot) and the port (the default made explicit) of a URL."""
    parts = urlsplit(url)
    return (parts.hostname or "").rstrip("."), parts.port or DEFAULT_PORTS.get(parts.scheme)


def _refuse_characters(text: str, what: str) -> None:
    if not text:
        raise InvalidLink(f"{what} must not be empty")
    if text.isascii() and not _REFUSED_ASCII.search(text):
        return  # the common case, without a loop in Python
    for character in text:
        if character == "\\":
            raise InvalidLink(
                f"{what} must not contain a backslash: browsers read it as '/'; write %5C in a "
                "path or query"
            )
        if character <= " " or (character >= "\x7f" and _invisible(character)):
            raise InvalidLink(
                f"{what} must not contain whitespace, control or invisible formatting characters "
                f"(bidi controls, zero-width characters): found U+{ord(character):04X}"
            )


@functools.lru_cache(maxsize=4096)
def _invisible(character: str) -> bool:
    """Controls, formatting, spaces, and what UTS 46 drops from a host (U+034F, U+FE0F, ...)."""
    if unicodedata.category(character) in _INVISIBLE:
        return True
    try:
        return idna.uts46_remap(character, std3_rules=False, transitional=False) == ""
    except idna.IDNAError:
        return False


def _split(url: str) -> tuple[str, str]:
    """The lowercase scheme and the authority (between `//` and the path, query or fragment)."""
    match = _SCHEME.match(url)
    scheme = match.group(1).lower() if match else ""
    if scheme not in DEFAULT_PORTS:
        got = f"{scheme}:" if scheme else "none"
        raise InvalidLink(
            f"url must be an absolute http:// or https:// URL; other schemes such as "
            f"javascript:, data: or file: are not allowed (got scheme {got})"
        )
    if not url[len(scheme) + 1 :].startswith("//"):
        raise InvalidLink(f"url must start with {scheme}:// and the host")
    rest = url[len(scheme) + 3 :]
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    return scheme, rest[:end]


def _authority(authority: str) -> tuple[str, int | None]:
    """The host text and the port of an authority, refusing credentials and encodings."""
    if "@" in authority:
        raise InvalidLink("url must not contain credentials (user:password@)")
    if "%" in authority:
        raise InvalidLink(
            "url host must not contain percent-encoded characters; write the host as text"
        )
    port_text: str | None
    if authority.startswith("["):
        inner, bracket, after = authority.partition("]")
        host = inner + bracket
        if not bracket or (after and not after.startswith(":")):
            raise InvalidLink("host: an IPv6 address must be written in brackets, [2001:db8::1]")
        port_text = after[1:] if after else None
    else:
        host, colon, after = authority.partition(":")
        port_text = after if colon else None
    if not host:
        raise InvalidLink("url must have a host")
    if port_text is None:
        return host, None
    if not _PORT.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
        raise InvalidLink(f"url port must be a number from 1 to 65535, not {port_text!r}")
    return host, int(port_text)


def _ipv6(text: str) -> str:
    try:
        return f"[{ipaddress.IPv6Address(text).compressed}]"
    except ValueError:
        raise InvalidLink(f"host [{text}] is not an IPv6 address") from None


def judge_host(text: str) -> str:
    """The ASCII form of a host name (IDNA 2008), by the same rules as a target's host."""
    _refuse_characters(text, "host")
    if any(c in text for c in "%@:/?#[]"):
        raise InvalidLink(f"host {text!r} must be a bare host name")
    return _host(text)


@functools.lru_cache(maxsize=1 << 16)  # links share hosts; a table load judges each entry
def _host(text: str) -> str:
    """The ASCII host a browser connects to: IDNA 2008 names or a dotted-decimal IPv4 address."""
    try:
        mapped = idna.uts46_remap(text, std3_rules=False, transitional=False)
    except idna.IDNAError as error:
        raise InvalidLink(f"host {text!r} is not a valid host name: {error}") from None
    name, dot, _ = mapped.rpartition(".") if mapped.endswith(".") else (mapped, "", "")
    labels = name.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        if dot or text != name or not _IPV4.fullmatch(name):
            raise InvalidLink(
                f"host {text!r}: an IPv4 address must be written as four decimal numbers "
                "such as 192.0.2.1; hex, octal, shortened or single-number forms are refused"
            )
        return name
    host = ".".join(_label(label, text) for label in labels)
    if len(host) > MAX_HOST_LENGTH:
        raise InvalidLink(f"url host must be at most {MAX_HOST_LENGTH} characters in IDNA form")
    return host + dot


def _label(label: str, host: str) -> str:
    if not label:
        raise InvalidLink(f"host {host!r} is not a valid host name: an empty label (two dots)")
    try:
        if not label.isascii():
            label = idna.encode(label).decode("ascii")
        elif label.startswith("xn--") and idna.encode(idna.decode(label)).decode() != label:
            raise idna.IDNAError("not the IDNA 2008 form of any name")
    except (idna.IDNAError, UnicodeError) as error:
        raise InvalidLink(f"host {host!r} is not a valid host name: {error}") from None
    if len(label) > MAX_LABEL_LENGTH or not _ASCII_LABEL.fullmatch(label):
        raise InvalidLink(
            f"host {host!r}: each label must be letters, digits and inner hyphens, at most "
            f"{MAX_LABEL_LENGTH} characters"
        )
    return label
