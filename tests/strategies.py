# ruff: noqa: RUF001 - look-alike characters are what these strategies are about
"""Hypothesis strategies shared by the test tiers: target URLs with hostile mutations.

`mutated_urls` starts from a plausible URL (scheme in any case, a host of ASCII, look-alike,
international or fullwidth letters or an IP address in one of its many spellings, a port, a path
of any text) and inserts up to three traps (backslashes, encodings, delimiters, invisible,
bidi, control and space characters) anywhere.
"""

from typing import TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

T = TypeVar("T")

_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789-"
_LOOKALIKES = "аеорсхіјԁһѕ"  # Cyrillic look-alikes of Latin letters
_UNICODE = "äöüßéèçñøåæœıİſǅﬃΣσςДжあ中"
_WIDE = "ｅｘａｍｐｌｅ０１２３。．｡／＠："
#: Characters that change how a URL is read.
DELIMITER_TRAPS = [
    "\\",
    "%",
    "%2e",
    "%00",
    "%41",
    "%C3%A4",
    "@",
    ":",
    "[",
    "]",
    "/",
    "?",
    "#",
    ".",
    "..",
]
#: Characters no accepted URL may hold: invisible, bidi, control and space characters.
INVISIBLE_TRAPS = [
    "\u200b",
    "\u200c",
    "\u200d",
    "\u00ad",
    "\u202e",
    "\u2066",
    "\ufeff",
    "\u034f",
    "\u180e",
    " ",
    "\t",
    "\n",
    "\r",
    "\x00",
    "\x7f",
    "\x85",
    "\u00a0",
    "\u3000",
]
TRAPS = DELIMITER_TRAPS + INVISIBLE_TRAPS
_IP_FORMS = [
    "127.0.0.1",
    "0x7f.1",
    "2130706433",
    "0177.0.0.1",
    "127.1",
    "0x7f.0.0.1",
    "1.2.3.4.",
    "255.255.255.255",
    "256.1.1.1",
    "0.0.0.0",  # noqa: S104 - a URL host, not a bind address
    "[::1]",
    "[2001:db8::1]",
    "[::ffff:1.2.3.4]",
    "１２７.０.０.１",
    "127。0。0。1",
    "0x",
    "1e1.example",
    "example.1",
]

LABELS = st.text(alphabet=_LETTERS + _LOOKALIKES + _UNICODE + _WIDE, min_size=1, max_size=12)
HOSTS = st.one_of(
    st.lists(LABELS, min_size=1, max_size=4).map(".".join),
    st.sampled_from(_IP_FORMS),
)
PATHS = st.text(alphabet=st.characters(codec="utf-8"), max_size=40).map(lambda text: "/" + text)


@st.composite
def mutated_urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTPS", "hTtP"]))
    host = draw(HOSTS)
    port = draw(st.sampled_from(["", ":443", ":80", ":8080", ":0", ":65536", ":０"]))
    url = f"{scheme}://{host}{port}{draw(PATHS)}"
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(url)))
        url = url[:at] + draw(st.sampled_from(TRAPS)) + url[at:]
    if draw(st.booleans()):
        url = "".join(c.upper() if draw(st.booleans()) else c for c in url[:30]) + url[30:]
    return url


def batch(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """`count` examples of `strategy`, the same ones on every run (derandomized Hypothesis).

    For a tier where each example is expensive (a cluster): one batch, applied at once.
    """
    drawn: list[T] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(example: T) -> None:
        drawn.append(example)

    collect()
    return drawn
