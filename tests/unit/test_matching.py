"""How requested slugs match links (ASCII case and separators only) and which slugs are reserved.

Reserved slugs are judged by their match key, in every layer: core validation (here), the CRD's
CEL rules (the list is checked against the CRD file here, and applied in
`tests/cluster/test_crd.py`), and the redirector's table load (`tests/component/test_reserved.py`).
"""

import random
import sys
from pathlib import Path

import pytest
import yaml

from shortlink_core.link import parse_link
from shortlink_core.matching import RESERVED_KEYS, RESERVED_SLUGS, match_key, reserved_as
from shortlink_core.validation import InvalidLink, validate_slug
from shortlink_operator.generated import choose_code

CRD = Path(__file__).parents[2] / "crds" / "shortlinks.shortlink.dev.yaml"


@pytest.mark.parametrize(
    ("spelling", "key"),
    [
        ("Team-Docs", "teamdocs"),
        ("team_docs", "teamdocs"),
        ("TEAM.DOCS", "teamdocs"),
        ("\u212aey", "\u212aey"),  # KELVIN SIGN: Unicode folds it to "k", ASCII matching does not
        ("\u017fcale", "\u017fcale"),  # LATIN SMALL LETTER LONG S: Unicode folds it to "s"
        ("\u0130d", "\u0130d"),  # LATIN CAPITAL LETTER I WITH DOT ABOVE
        ("\uff4bey", "\uff4bey"),  # FULLWIDTH k: NFKC makes it "k"
        ("\u00c4rger", "\u00c4rger"),  # non-ASCII letters keep their case
    ],
)
def test_only_ascii_letters_fold(spelling: str, key: str) -> None:
    assert match_key(spelling) == key


def test_no_non_ascii_character_folds() -> None:
    # Every code point, so nothing that Unicode or NFKC would fold to an ASCII letter slips by.
    changed = [
        hex(point)
        for point in range(0x80, sys.maxunicode + 1)
        if match_key(chr(point)) != chr(point)
    ]
    assert changed == []


def spellings(word: str, rng: random.Random) -> str:
    """`word` with random ASCII case and separators between and around its letters."""
    pieces = []
    for letter in match_key(word):
        pieces.append("".join(rng.choices("-_.", k=rng.randrange(3))))
        pieces.append(rng.choice([letter, letter.upper()]))
    pieces.append("".join(rng.choices("-_.", k=rng.randrange(3))))
    return "".join(pieces)


@pytest.mark.parametrize("word", RESERVED_SLUGS)
def test_every_spelling_of_a_reserved_slug_is_reserved(word: str) -> None:
    rng = random.Random(word)  # noqa: S311 - reproducible test data, not secrets
    for _ in range(200):
        spelling = spellings(word, rng)
        assert reserved_as(spelling) == word, spelling
        slug = spelling.lower().strip("-_.")
        with pytest.raises(InvalidLink, match="reserved"):
            validate_slug(slug)


@pytest.mark.parametrize(
    "slug", ["health-z", "ready_z", "live.z", "met-rics", "well-known", "robots-txt", "a.p.i"]
)
def test_reserved_spellings_are_refused_as_slug_alias_and_object_name(slug: str) -> None:
    with pytest.raises(InvalidLink, match=r"reserved: it matches '"):
        parse_link({"url": "https://e.com/", "slug": slug})
    with pytest.raises(InvalidLink, match="reserved"):
        parse_link({"url": "https://e.com/", "slug": "fine", "aliases": [slug]})
    with pytest.raises(InvalidLink, match="reserved"):
        parse_link({"url": "https://e.com/"}, name=slug)


@pytest.mark.parametrize("slug", ["health", "apis", "metric", "robots", "healthz2", "live"])
def test_near_misses_are_not_reserved(slug: str) -> None:
    assert validate_slug(slug) == slug


def test_the_crd_reserves_the_same_keys_in_every_rule() -> None:
    text = CRD.read_text()
    crd = yaml.safe_load(text)
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec = schema["properties"]["spec"]["properties"]
    rules = [
        *(r["rule"] for r in schema["x-kubernetes-validations"]),
        *(r["rule"] for r in spec["slug"]["x-kubernetes-validations"]),
        *(r["rule"] for r in spec["aliases"]["items"]["x-kubernetes-validations"]),
    ]
    listed = [rule[rule.index("[") : rule.index("]") + 1] for rule in rules if "wellknown" in rule]
    assert len(listed) == 3
    for words in listed:
        assert set(yaml.safe_load(words)) == set(RESERVED_KEYS)


def test_a_generated_code_is_never_a_reserved_slug() -> None:
    assert choose_code("healthz" + "abc", host="", taken=set()) == "healthza"
