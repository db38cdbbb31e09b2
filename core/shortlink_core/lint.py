"""`python -m shortlink_core.lint PATH...`: catch a bad ShortLink before it is merged.

Reads manifests from files and folders (`shortlink_core.manifests`), and for every ShortLink
applies the CRD's structural schema (`shortlink_core.schema`, read from the CRD itself: unknown
fields, types, enums, sizes) and the operator's own validation (`shortlink_core.link.parse_link`,
the function the operator and the redirector run: no rule is written here a second time), then
looks for slug conflicts across the files by the routing keys the operator and the redirector
use (`shortlink_core.claims`). Given the cluster's links and held slugs (`kubectl shortlink lint
--cluster` fetches them), it also reports claims that lose to a link already in the cluster.

Output is for people (`path:line: error: ...`), for programs (`-o json`) or for GitHub Actions
(`-o github`, workflow-command annotations on the lines of the pull request). The exit status is
1 when there is an error, 2 for a usage error, 0 otherwise (warnings do not fail).
"""

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final, Literal, TextIO

from shortlink_core.api import API_VERSION, GROUP, KIND, POLICY_KIND
from shortlink_core.claims import Claim, claims_of, spec_link
from shortlink_core.manifests import Manifest, ManifestError, manifest_files, read_manifests
from shortlink_core.schema import schema_errors
from shortlink_core.table import Release
from shortlink_core.validation import InvalidLink

Severity = Literal["error", "warning"]
FORMATS: Final = ("text", "json", "github")


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    line: int
    severity: Severity
    #: "namespace/name" of the ShortLink, or "" for a finding about the file itself.
    object: str
    message: str


@dataclass(frozen=True, slots=True)
class _Located:
    claim: Claim
    manifest: Manifest


def lint_paths(
    paths: Sequence[str],
    *,
    namespace: str = "default",
    live: Iterable[Mapping[str, Any]] = (),
    held: Iterable[Release] = (),
    stdin: TextIO | None = None,
) -> list[Finding]:
    """Read every manifest under `paths` ("-" is standard input) and lint them together."""
    manifests: list[Manifest] = []
    findings: list[Finding] = []
    for path in manifest_files(p for p in paths if p != "-"):
        try:
            manifests += read_manifests(path)
        except ManifestError as error:
            findings.append(Finding(error.path, error.line, "error", "", f"not YAML: {error}"))
        except OSError as error:
            findings.append(Finding(str(path), 1, "error", "", f"cannot read: {error.strerror}"))
    if "-" in paths:
        text = (stdin or sys.stdin).read()
        try:
            manifests += read_manifests(Path("-"), text)
        except ManifestError as error:
            findings.append(Finding("-", error.line, "error", "", f"not YAML: {error}"))
    return findings + lint_manifests(manifests, namespace=namespace, live=live, held=held)


def lint_manifests(
    manifests: Sequence[Manifest],
    *,
    namespace: str = "default",
    live: Iterable[Mapping[str, Any]] = (),
    held: Iterable[Release] = (),
) -> list[Finding]:
    """Findings for ShortLinks among `manifests`, in file order; other kinds are left alone.

    `namespace` is where objects without `metadata.namespace` go (kubectl's `-n`). `live` are
    ShortLink objects from the cluster and `held` the slugs held for deleted owners: a claim
    that one of them already holds is an error, unless it is the same object.
    """
    findings: list[Finding] = []
    seen: dict[str, Manifest] = {}
    located: list[_Located] = []
    for manifest in manifests:
        body = manifest.body
        group, _, version = str(body.get("apiVersion", "")).partition("/")
        if group != GROUP or body.get("kind") == POLICY_KIND:
            continue  # a policy is cluster-scoped and checked by its CRD; it claims nothing
        where = _object_name(body, namespace)
        problems = _problems(body, f"{group}/{version}")
        if not problems and where in seen:
            problems = [f"{where} is also defined at {seen[where].path}:{seen[where].line}"]
        if problems:
            for problem in problems:
                findings.append(Finding(manifest.path, manifest.line, "error", where, problem))
            continue
        seen[where] = manifest
        ns = where.split("/", 1)[0]
        located += [_Located(c, manifest) for c in claims_of(body, namespace=ns, with_status=False)]
    findings += _conflicts(located)
    findings += _live_conflicts(located, live=live, held=held, mine=set(seen))
    return sorted(findings, key=lambda f: (f.path, f.line))


def _problems(body: Mapping[str, Any], api_version: str) -> list[str]:
    """What is wrong with one ShortLink object on its own: the CRD's structure first, then the
    operator's rules (which hold every CEL rule of the CRD)."""
    kind = body.get("kind")
    if kind != KIND:
        return [f"{GROUP} has no kind {kind!r} (known: {KIND}, {POLICY_KIND})"]
    if api_version != API_VERSION:
        return [f"apiVersion {api_version} is not served; use {API_VERSION}"]
    metadata = body.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    if not isinstance(name, str) or not name:
        return ["metadata.name is required, as a string"]
    structure = schema_errors(body)
    if structure:
        return structure
    try:
        spec_link(body)
    except InvalidLink as error:
        return [str(error)]
    return []


def _object_name(body: Mapping[str, Any], namespace: str) -> str:
    metadata = body.get("metadata")
    if not isinstance(metadata, Mapping):
        return f"{namespace}/"
    return f"{metadata.get('namespace') or namespace}/{metadata.get('name', '')}"


def _conflicts(located: Sequence[_Located]) -> list[Finding]:
    """Every claim that shares its routing key with a claim made elsewhere in the files."""
    by_key: dict[str, list[_Located]] = {}
    for item in located:
        by_key.setdefault(item.claim.key, []).append(item)
    findings: list[Finding] = []
    for group in by_key.values():
        if len(group) < 2:
            continue
        for item in group:
            others = ", ".join(
                f"{o.claim.slug!r} ({o.claim.role}) of {o.claim.owner} at "
                f"{o.manifest.path}:{o.manifest.line}"
                for o in group
                if o is not item
            )
            findings.append(
                Finding(
                    item.manifest.path,
                    item.manifest.line,
                    "error",
                    item.claim.owner,
                    f"{item.claim.role} {item.claim.slug!r}{_on(item.claim)} is the same claim as "
                    f"{others}: matching ignores case and '-', '_', '.', and only one link can "
                    "be served there",
                )
            )
    return findings


def _live_conflicts(
    located: Sequence[_Located],
    *,
    live: Iterable[Mapping[str, Any]],
    held: Iterable[Release],
    mine: set[str],
) -> list[Finding]:
    """Claims that a cluster object outside the files, or a grace-period hold, already has."""
    taken: dict[str, Claim] = {}
    for body in live:
        ns = str((body.get("metadata") or {}).get("namespace", ""))
        for claim in claims_of(body, namespace=ns):
            if claim.owner not in mine:  # an object in the files replaces its cluster copy
                taken.setdefault(claim.key, claim)
    holds = {release.key: release for release in held}
    findings: list[Finding] = []
    for item in located:
        claim, manifest = item.claim, item.manifest
        owner = taken.get(claim.key)
        hold = holds.get(claim.key)
        message = None
        if owner is not None:
            message = (
                f"{claim.role} {claim.slug!r}{_on(claim)} is already claimed in the cluster by "
                f"{owner.owner} (as {owner.slug!r}, its {owner.role}); the link already there "
                "keeps it and this one would be Ready=False, SlugConflict"
            )
        elif hold is not None and f"{hold.namespace}/{hold.name}" != claim.owner:
            message = (
                f"{claim.role} {claim.slug!r}{_on(claim)} is held for the deleted "
                f"{hold.namespace}/{hold.name} until {hold.until} (grace period)"
            )
        if message:
            findings.append(Finding(manifest.path, manifest.line, "error", claim.owner, message))
    return findings


def _on(claim: Claim) -> str:
    return f" on host {claim.host}" if claim.host else ""


def render(findings: Sequence[Finding], output: str, stream: TextIO) -> None:
    """Write `findings` as text, JSON or GitHub workflow-command annotations."""
    if output == "json":
        errors = sum(f.severity == "error" for f in findings)
        document = {
            "findings": [asdict(f) for f in findings],
            "errors": errors,
            "warnings": len(findings) - errors,
        }
        stream.write(json.dumps(document, indent=2) + "\n")
        return
    for f in findings:
        if output == "github":
            # Workflow commands end at a newline and treat % specially: escape both.
            message = f"{f.object}: {f.message}" if f.object else f.message
            message = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            path = f.path.replace("%", "%25").replace(",", "%2C").replace(":", "%3A")
            stream.write(f"::{f.severity} file={path},line={f.line},title=shortlink lint::")
            stream.write(message + "\n")
        else:
            subject = f" {f.object}:" if f.object else ""
            stream.write(f"{f.path}:{f.line}: {f.severity}:{subject} {f.message}\n")
    if output == "text" and not findings:
        stream.write("no problems found\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or folders; - is stdin")
    parser.add_argument("-o", "--output", choices=FORMATS, default="text")


def exit_status(findings: Sequence[Finding]) -> int:
    return 1 if any(f.severity == "error" for f in findings) else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shortlink_core.lint",
        description="Check ShortLink manifests with the operator's validation and for slug "
        "conflicts between them, without a cluster.",
    )
    add_arguments(parser)
    parser.add_argument(
        "-n",
        "--namespace",
        default="default",
        help="namespace of objects that do not name one (default: default)",
    )
    args = parser.parse_args(argv)
    findings = lint_paths(args.paths, namespace=args.namespace)
    render(findings, args.output, sys.stdout)
    return exit_status(findings)


if __name__ == "__main__":
    sys.exit(main())
