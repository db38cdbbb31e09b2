"""How a requested slug is matched to a link: case- and separator-insensitive by default.

`Go/Team-Docs`, `team_docs` and `teamdocs` all have the match key `teamdocs`, as in golink. Two
links conflict when their match keys are equal on the same host, whatever their matching mode, so
a request never has two candidates; a link with exact matching answers only its exact slug.
"""

from typing import Final

SEPARATORS: Final = str.maketrans("", "", "-_.")


def match_key(slug: str) -> str:
    """The key under which `slug` is found when matching ignores case and separators."""
    return slug.lower().translate(SEPARATORS)


def routing_key(host: str, slug: str) -> str:
    """The key a link is stored and sharded under: its host (or empty) and its match key."""
    return f"{host}/{match_key(slug)}"
