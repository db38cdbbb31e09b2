"""Kubernetes manifests read from files and folders, each document with where it came from.

The lint reads what a GitOps repository holds: YAML or JSON files, several documents per file,
`kind: List` wrappers, folders walked recursively. Each object keeps its file and the line its
document starts on, so a finding can point at it (a GitHub annotation needs both).
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

SUFFIXES: Final = frozenset({".yaml", ".yml", ".json"})


@dataclass(frozen=True, slots=True)
class Manifest:
    """One object of a manifest file; `line` is where its document starts (1-based)."""

    path: str
    line: int
    body: dict[str, Any]


class ManifestError(ValueError):
    """A file that cannot be read as YAML; `path` and `line` say where."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(message)
        self.path, self.line = path, line


def manifest_files(paths: Iterable[str]) -> Iterator[Path]:
    """The files named, and every YAML or JSON file under the folders named (sorted)."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        else:
            yield path  # a missing file raises when it is read, naming it


def read_manifests(path: Path, text: str | None = None) -> list[Manifest]:
    """Every object in the file at `path` (or in `text`, "-" being standard input)."""
    source = path.read_text(encoding="utf-8") if text is None else text
    loader = yaml.SafeLoader(source)
    objects: list[Manifest] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = node.start_mark.line + 1
            document = loader.construct_document(node)
            objects.extend(_objects(str(path), line, document))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise ManifestError(str(path), mark.line + 1 if mark else 1, str(error)) from None
    finally:
        loader.dispose()
    return objects


def _objects(path: str, line: int, document: object) -> Iterator[Manifest]:
    if not isinstance(document, dict):
        return
    if document.get("kind") == "List" and isinstance(document.get("items"), list):
        for item in document["items"]:
            yield from _objects(path, line, item)
    else:
        yield Manifest(path=path, line=line, body=document)
