"""What each `kubectl shortlink` command does, given parsed arguments and a `Kubectl`.

Each command returns its exit status: 0 success, 1 when the command could not do what was asked
(an error from the API server, a slug nobody owns, a link that is not Ready, lint errors). Usage
errors exit 2 before a command runs (argparse).
"""

import argparse
import re
import sys
import time
import webbrowser
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import segno

from shortlink_core.api import API_VERSION, KIND, PLURAL, TABLE_LABEL_SELECTOR
from shortlink_core.claims import spec_link
from shortlink_core.link import TARGET_KINDS
from shortlink_core.lint import Finding, exit_status, lint_paths, render
from shortlink_core.manifests import manifest_files, read_manifests
from shortlink_core.table import Release, decode_released
from shortlink_core.validation import InvalidLink
from shortlink_plugin import stats as visit_stats
from shortlink_plugin.kubectl import Kubectl, KubectlError
from shortlink_plugin.listing import created, format_table, rows, target, visits
from shortlink_plugin.lookup import Owner, holds, owners, ready_condition
from shortlink_plugin.output import as_list, dump, names

#: Reasons for a link that is not served on purpose: it was created as asked.
DELIBERATE: Final = frozenset({"Suspended", "Scheduled", "Expired"})
_DURATION: Final = re.compile(r"(\d+)([smhdw])")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def fail(message: str) -> int:
    sys.stderr.write(f"error: {message}\n")
    return 1


def note(message: str) -> None:
    sys.stderr.write(f"{message}\n")


def expiry(value: str, now: datetime | None = None) -> str:
    """An RFC 3339 time as given, or a duration from now (`90d`, `12h`, `2w`, `1d12h`)."""
    if _DURATION.fullmatch(value) or re.fullmatch(r"(\d+[smhdw])+", value):
        seconds = sum(int(n) * _UNITS[u] for n, u in _DURATION.findall(value))
        moment = (now or datetime.now(UTC)) + timedelta(seconds=seconds)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value  # a time: the operator's validation judges it below


def target_ref(text: str, path: str | None = None) -> dict[str, Any]:
    """`--target ingress/grafana` as a targetRef; the kind in any case, as kubectl takes it."""
    kind, _, name = text.partition("/")
    kinds = {known.lower(): known for known in TARGET_KINDS}
    if kind.lower() not in kinds or not name:
        allowed = ", ".join(f"{k.lower()}/NAME" for k in TARGET_KINDS)
        raise ValueError(f"must be one of {allowed}, not {text!r}")
    ref: dict[str, Any] = {"kind": kinds[kind.lower()], "name": name}
    if path:
        ref["path"] = path
    return ref


def new_link(args: argparse.Namespace) -> dict[str, Any]:
    spec: dict[str, Any] = (
        {"url": args.url} if args.url else {"targetRef": target_ref(args.target, args.target_path)}
    )
    if args.slug:
        spec["slug"] = args.slug
    if args.generate:
        spec["generateSlug"] = True
    if args.alias:
        spec["aliases"] = list(args.alias)
    if args.host:
        spec["host"] = args.host
    if args.description:
        spec["description"] = args.description
    if args.owner:
        spec["owner"] = args.owner
    if args.listed is not None:
        spec["listed"] = args.listed
    if args.expires:
        spec["expiresAt"] = expiry(args.expires)
    metadata: dict[str, Any] = {"name": args.name}
    if args.namespace:
        metadata["namespace"] = args.namespace
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}


def create(args: argparse.Namespace, kubectl: Kubectl) -> int:
    body = new_link(args)
    try:
        spec_link(body)  # the operator's rules, before anything reaches the cluster
    except InvalidLink as error:
        return fail(f"ShortLink {args.name!r} is invalid: {error}")
    dry_run = args.dry_run != "none"
    output = args.output or ("json" if not dry_run else None)
    flags = [f"--dry-run={args.dry_run}"] + (["-o", output] if output else [])
    try:
        printed = kubectl.run("create", "-f", "-", *flags, stdin=dump(body, "json"))
    except KubectlError as error:
        return fail(str(error))
    if dry_run or args.output:
        sys.stdout.write(printed)
        return 0
    if not args.wait:
        sys.stdout.write(f"shortlink.shortlink.dev/{args.name} created\n")
        return 0
    return _await_ready(kubectl, args.name, timeout=args.timeout)


def _await_ready(kubectl: Kubectl, name: str, *, timeout: float) -> int:
    """Print the short URL once the operator has published the link, or why it has not."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            body = kubectl.json("get", PLURAL, name)
        except KubectlError as error:
            return fail(str(error))
        status, generation = body.get("status") or {}, body["metadata"].get("generation", 1)
        ready = ready_condition(body)
        if ready and status.get("observedGeneration", 0) >= generation:
            break
        if time.monotonic() > deadline:
            return fail(
                f"shortlink.shortlink.dev/{name} created, but not published within {timeout:g} s "
                "(is the operator running?)"
            )
        time.sleep(0.2)
    if ready.get("status") == "True":
        sys.stdout.write(f"{status.get('shortURL', '')}\n")
        return 0
    reason, message = ready.get("reason", ""), ready.get("message", "")
    if reason in DELIBERATE:
        sys.stdout.write(f"{status.get('shortURL', '')}\n")
        note(f"not served now: {reason}: {message}")
        return 0
    return fail(f"shortlink.shortlink.dev/{name} created but not served: {reason}: {message}")


def _list_links(
    kubectl: Kubectl, *, all_namespaces: bool, fallback: bool = False
) -> tuple[list[dict[str, Any]], bool]:
    """ShortLinks in every namespace, or in the current one; with `fallback`, every namespace
    the user may list: the current one when listing them all is forbidden."""
    if all_namespaces:
        try:
            return kubectl.json("get", PLURAL, "--all-namespaces")["items"], True
        except KubectlError as error:
            if not (fallback and error.forbidden):
                raise
            note(f"(cannot list ShortLinks in every namespace; looking in {_where(kubectl)} only)")
    return kubectl.json("get", PLURAL)["items"], False


def _where(kubectl: Kubectl) -> str:
    return f"namespace {kubectl.namespace}" if kubectl.namespace else "the current namespace"


def get(args: argparse.Namespace, kubectl: Kubectl) -> int:
    try:
        if args.names:
            items = [kubectl.json("get", PLURAL, name) for name in args.names]
            across = False
        else:
            items, across = _list_links(kubectl, all_namespaces=args.all_namespaces)
    except KubectlError as error:
        return fail(str(error))
    if args.host:
        items = [i for i in items if (i.get("spec") or {}).get("host") in (None, "", args.host)]
    items = _sorted(items, args.sort_by)
    if args.output in ("yaml", "json"):
        sys.stdout.write(dump(as_list(items), args.output))
    elif args.output == "name":
        sys.stdout.write(names(items))
    elif not items:
        note(f"No ShortLinks found in {'any namespace' if across else _where(kubectl)}.")
    else:
        table = rows(items, wide=args.output == "wide", namespaces=across)
        sys.stdout.write(format_table(table))
    return 0


def _sorted(items: list[dict[str, Any]], sort_by: str) -> list[dict[str, Any]]:
    def name(item: Mapping[str, Any]) -> tuple[str, str]:
        return (item["metadata"].get("namespace", ""), item["metadata"]["name"])

    items = sorted(items, key=name)
    if sort_by == "age":  # the newest first, like the smallest AGE first
        never = datetime.min.replace(tzinfo=UTC)
        return sorted(items, key=lambda i: created(i) or never, reverse=True)
    if sort_by == "visits":  # the most visited first; links without counts last
        return sorted(items, key=lambda i: -_count(i))
    return items


def _count(item: Mapping[str, Any]) -> int:
    count = visits(item)
    return -1 if count is None else count


def _owners_and_holds(
    kubectl: Kubectl, slug: str, host: str | None
) -> tuple[list[Owner], list[Release]]:
    links, _ = _list_links(kubectl, all_namespaces=True, fallback=True)
    try:
        shards = kubectl.json("get", "configmaps", "-A", "-l", TABLE_LABEL_SELECTOR)["items"]
    except KubectlError as error:
        if not error.forbidden:
            raise
        note("(cannot read the routing table, so slugs held for deleted links are not shown)")
        shards = []
    return owners(slug, links, host=host), holds(slug, shards, host=host)


def find(args: argparse.Namespace, kubectl: Kubectl) -> int:
    try:
        found, held = _owners_and_holds(kubectl, args.slug, args.host)
    except KubectlError as error:
        return fail(str(error))
    if args.output in ("yaml", "json"):
        document = {
            "slug": args.slug,
            "owners": [
                {
                    "namespace": o.claim.namespace,
                    "name": o.claim.name,
                    "slug": o.claim.slug,
                    "as": o.claim.role,
                    "host": o.claim.host,
                    "serving": o.serving,
                    "ready": o.ready.get("status", "Unknown"),
                    "reason": o.ready.get("reason", ""),
                    "shortURL": (o.body.get("status") or {}).get("shortURL", ""),
                }
                for o in found
            ],
            "held": [
                {"namespace": r.namespace, "name": r.name, "key": r.key, "until": r.until}
                for r in held
            ],
        }
        sys.stdout.write(dump(document, args.output))
    elif found or held:
        table = [["NAMESPACE", "NAME", "SLUG", "AS", "HOST", "SERVING", "READY", "REASON"]]
        for o in found:
            claim, ready = o.claim, o.ready
            table.append(
                [
                    claim.namespace,
                    claim.name,
                    claim.slug,
                    claim.role,
                    claim.host or "*",
                    "yes" if o.serving else "no",
                    str(ready.get("status", "Unknown")),
                    str(ready.get("reason", "")),
                ]
            )
        for r in held:
            host = r.key.partition("/")[0] or "*"
            row = [
                r.namespace,
                r.name,
                args.slug,
                "held",
                host,
                "no",
                "-",
                f"deleted; until {r.until}",
            ]
            table.append(row)
        sys.stdout.write(format_table(table))
    if not found and not held:
        return fail(f"no ShortLink claims slug {args.slug!r}")
    return 0


def _served_link(kubectl: Kubectl, slug: str, host: str | None) -> Owner | None:
    found, _ = _owners_and_holds(kubectl, slug, host)
    return found[0] if found else None


def _short_url(owner: Owner) -> str | None:
    status = owner.body.get("status") or {}
    url = status.get("shortURL")
    if not isinstance(url, str) or not url:
        return None
    if owner.claim.slug != status.get("slug"):  # asked for by an alias: that alias's short URL
        return url.rsplit("/", 1)[0] + "/" + owner.claim.slug
    return url


def open_link(args: argparse.Namespace, kubectl: Kubectl) -> int:
    owner, url = _resolve(args, kubectl)
    if owner is None or url is None:
        return 1
    sys.stdout.write(f"{url}\n")
    if args.browser and not webbrowser.open(url):
        note("no web browser found; the URL is printed above")
    return 0


def qr(args: argparse.Namespace, kubectl: Kubectl) -> int:
    owner, url = _resolve(args, kubectl)
    if owner is None or url is None:
        return 1
    code = segno.make(url, error="m")
    if args.file:
        code.save(args.file, scale=args.scale, border=4)
        sys.stdout.write(f"{args.file}: {url}\n")
    else:
        code.terminal(compact=True)
    return 0


def _target_object(spec: Mapping[str, Any]) -> str:
    ref = spec.get("targetRef")
    if not isinstance(ref, Mapping):
        return ""
    where = f"{ref['namespace']}/" if ref.get("namespace") else ""
    extra = "".join(f" {key} {ref[key]}" for key in ("path", "port") if ref.get(key))
    return f"{ref.get('kind', '')} {where}{ref.get('name', '')}{extra}"


def inspect(args: argparse.Namespace, kubectl: Kubectl) -> int:
    owner, url = _resolve(args, kubectl, need_url=False)
    if owner is None:
        return 1
    body = owner.body
    if args.output in ("yaml", "json"):
        sys.stdout.write(dump(dict(body), args.output))
        return 0
    spec, status, ready = body.get("spec") or {}, body.get("status") or {}, owner.ready
    count = visits(body)
    fields = [
        ("Name", f"{owner.claim.namespace}/{owner.claim.name}"),
        ("Slug", status.get("slug") or spec.get("slug") or owner.claim.slug),
        ("Aliases", ", ".join(status.get("aliases") or spec.get("aliases") or ())),
        ("Target", target(body)),
        ("Target object", _target_object(spec)),
        ("Short URL", url or ""),
        ("Inspect page", f"{url}+" if url else ""),
        ("Host", spec.get("host") or "every host"),
        ("Redirect code", str(spec.get("redirectCode", 302))),
        ("Description", spec.get("description", "")),
        ("Owner", spec.get("owner", "")),
        ("Listed", _listed(spec.get("listed"))),
        ("Active from", spec.get("activeFrom", "")),
        ("Expires at", spec.get("expiresAt", "")),
        ("Suspended", "yes" if spec.get("suspended") else ""),
        ("Rules", str(len(spec.get("rules") or ())) if spec.get("rules") else ""),
        ("Visits", "" if count is None else str(count)),
        ("Ready", f"{ready.get('status', 'Unknown')} {ready.get('reason', '')}".strip()),
        ("Message", ready.get("message", "")),
    ]
    width = max(len(label) for label, _ in fields) + 2
    for label, value in fields:
        if value:
            sys.stdout.write(f"{label + ':':<{width}}{value}\n")
    return 0


def _listed(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "as the namespace's policies say"


def _resolve(
    args: argparse.Namespace, kubectl: Kubectl, *, need_url: bool = True
) -> tuple[Owner | None, str | None]:
    try:
        owner = _served_link(kubectl, args.slug, args.host)
    except KubectlError as error:
        fail(str(error))
        return None, None
    if owner is None:
        fail(f"no ShortLink claims slug {args.slug!r}")
        return None, None
    url = _short_url(owner)
    if url is None and need_url:
        ready = owner.ready
        fail(
            f"{owner.claim.owner} claims {args.slug!r} but has no short URL yet "
            f"({ready.get('reason', 'not published')}: {ready.get('message', '')})"
        )
        return None, None
    return owner, url


def stats(args: argparse.Namespace, kubectl: Kubectl) -> int:
    owner, _ = _resolve(args, kubectl, need_url=False)
    if owner is None:
        return 1
    body = owner.body
    namespace, name = owner.claim.namespace, owner.claim.name
    slug = (body.get("status") or {}).get("slug") or owner.claim.slug
    if args.prometheus_url:
        try:
            numbers = visit_stats.collect(
                visit_stats.http_query(args.prometheus_url),
                namespace=namespace,
                name=name,
                slug=slug,
                at=time.time(),
            )
        except visit_stats.PrometheusError as error:
            return fail(str(error))
    else:
        numbers = visit_stats.from_status(
            body.get("status") or {}, namespace=namespace, name=name, slug=slug
        )
        note("(from status.visits; pass --prometheus-url for visitor and referrer classes)")
    if args.output == "json":
        sys.stdout.write(dump(numbers.as_json(), "json"))
    else:
        sys.stdout.write(visit_stats.render(numbers))
    return 0


def lint(args: argparse.Namespace, kubectl: Kubectl) -> int:
    namespace = args.namespace or "default"
    live: list[dict[str, Any]] = []
    held: list[Release] = []
    if args.cluster:
        try:
            namespace = kubectl.current_namespace()
            live, _ = _list_links(kubectl, all_namespaces=True, fallback=True)
            shards = kubectl.json("get", "configmaps", "-A", "-l", TABLE_LABEL_SELECTOR)["items"]
            held = [r for shard in shards for r in decode_released(shard.get("data") or {})]
        except KubectlError as error:
            if not error.forbidden:
                return fail(str(error))
            note("(cannot read the routing table: held slugs are not checked)")
    findings = lint_paths(args.paths, namespace=namespace, live=live, held=held)
    if args.cluster:
        findings = findings + _server_findings(args.paths, kubectl, findings, namespace)
    render(sorted(findings, key=lambda f: (f.path, f.line)), args.output, sys.stdout)
    return exit_status(findings)


def _server_findings(
    paths: Sequence[str], kubectl: Kubectl, found: Sequence[Finding], namespace: str
) -> list[Finding]:
    """What the API server says to each ShortLink the lint passed, on a server-side dry run: the
    CRD's schema and CEL rules and the admission policy, as `kubectl apply` would meet them."""
    flagged = {(f.path, f.line) for f in found}
    findings = []
    for path in manifest_files(p for p in paths if p != "-"):
        for manifest in read_manifests(path):
            body = manifest.body
            if body.get("kind") != KIND or (manifest.path, manifest.line) in flagged:
                continue
            try:
                kubectl.run("apply", "--dry-run=server", "-f", "-", stdin=dump(body, "json"))
            except KubectlError as error:
                metadata = body.get("metadata") or {}
                where = f"{metadata.get('namespace') or namespace}/{metadata.get('name', '')}"
                if error.forbidden and "denied request" not in str(error):
                    # Not allowed to dry-run here: says nothing about the manifest itself.
                    message = f"not checked by the API server (no permission): {error}"
                    findings.append(
                        Finding(manifest.path, manifest.line, "warning", where, message)
                    )
                    continue
                message = f"the API server refuses it: {error}"
                findings.append(Finding(manifest.path, manifest.line, "error", where, message))
    return findings
