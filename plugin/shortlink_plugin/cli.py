"""The commands and flags of `kubectl shortlink`, declared with argparse.

kubectl's conventions: `-n/--namespace`, `-A/--all-namespaces`, `--context`, `--kubeconfig`,
`--request-timeout` and `-o` are accepted before or after the command, `--dry-run` takes
`none|client|server`, and the exit status is 0 on success, 1 when the command failed, 2 for a
usage error.
"""

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from shortlink_core.lint import FORMATS
from shortlink_plugin import commands
from shortlink_plugin.kubectl import Kubectl

Command = Callable[[argparse.Namespace, Kubectl], int]


def _global_flags(*, suppress: bool) -> argparse.ArgumentParser:
    """kubectl's flags, for the top level and again for each command (so either place works)."""
    default = argparse.SUPPRESS if suppress else None
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument("-n", "--namespace", default=default, help="namespace (kubectl's -n)")
    flags.add_argument("--context", default=default, help="kubeconfig context to use")
    flags.add_argument("--kubeconfig", default=default, help="path to the kubeconfig file")
    flags.add_argument("--request-timeout", default=default, help="kubectl's request timeout")
    return flags


def _slug_command(
    sub: "argparse._SubParsersAction[argparse.ArgumentParser]",
    name: str,
    help_text: str,
    parents: list[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text, parents=parents)
    parser.add_argument("slug", metavar="SLUG", help="slug, alias or code (matched like a request)")
    parser.add_argument("--host", help="only links served on this host (host-less links count)")
    return parser


def _target(text: str) -> str:
    """Check `--target` as argparse parses it, so a bad one is a usage error (exit 2)."""
    try:
        commands.target_ref(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="kubectl shortlink",
        description="Create, list, find and check ShortLinks.",
        parents=[_global_flags(suppress=False)],
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    flags = [_global_flags(suppress=True)]

    create = sub.add_parser(
        "create", parents=flags, help="create a ShortLink and print its short URL once served"
    )
    create.add_argument("name", metavar="NAME")
    where = create.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="where the link redirects to")
    where.add_argument(
        "--target",
        type=_target,
        metavar="KIND/NAME",
        help="or the Ingress, HTTPRoute or Service it follows, e.g. ingress/grafana",
    )
    create.add_argument("--target-path", help="the path on the --target's address")
    create.add_argument("--slug", help="the path it is served at (default: NAME)")
    create.add_argument("--alias", action="append", default=[], help="another slug (repeatable)")
    create.add_argument("--generate", action="store_true", help="serve at a generated code")
    create.add_argument("--expires", help="RFC 3339 time, or a duration from now: 90d, 12h, 2w")
    create.add_argument("--host", help="serve only on this host")
    create.add_argument("--description", help="shown on the inspect page")
    create.add_argument("--owner", help="whom to ask about the link (a team, an address)")
    create.add_argument(
        "--listed",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="list it on the front page (default: as the namespace's policies say)",
    )
    create.add_argument(
        "--dry-run", choices=("none", "client", "server"), default="none", help="as kubectl's"
    )
    create.add_argument("-o", "--output", choices=("yaml", "json", "name"))
    create.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="wait until the operator has published it (default: yes)",
    )
    create.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (30)")
    create.set_defaults(run=commands.create)

    for name, help_text in (
        ("ls", "list ShortLinks"),
        ("get", "list ShortLinks, or show those named"),
    ):
        listing = sub.add_parser(name, parents=flags, help=help_text, description=help_text)
        if name == "get":
            listing.add_argument("names", nargs="*", metavar="NAME")
        else:
            listing.set_defaults(names=[])
        listing.add_argument("-A", "--all-namespaces", action="store_true")
        listing.add_argument("-o", "--output", choices=("wide", "yaml", "json", "name"))
        listing.add_argument("--host", help="only links served on this host (and host-less ones)")
        listing.add_argument(
            "--sort-by",
            choices=("name", "age", "visits"),
            default="name",
            help="name (default), age (newest first) or visits (most first)",
        )
        listing.set_defaults(run=commands.get)

    find = _slug_command(sub, "find", "who owns a slug: links, aliases, codes, held slugs", flags)
    find.add_argument("-o", "--output", choices=("yaml", "json"))
    find.set_defaults(run=commands.find)

    open_ = _slug_command(sub, "open", "print the short URL of a slug and open it", flags)
    open_.add_argument(
        "--browser",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="open it in a web browser (default: yes)",
    )
    open_.set_defaults(run=commands.open_link)

    qr = _slug_command(sub, "qr", "a QR code of the short URL, in the terminal or a file", flags)
    qr.add_argument("-o", "--output", dest="file", help="write PNG or SVG (by extension)")
    qr.add_argument("--scale", type=int, default=8, help="pixels per module in a file (8)")
    qr.set_defaults(run=commands.qr)

    inspect = _slug_command(sub, "inspect", "everything about the link behind a slug", flags)
    inspect.add_argument("-o", "--output", choices=("yaml", "json"))
    inspect.set_defaults(run=commands.inspect)

    stats = _slug_command(
        sub, "stats", "visits over 24 h, 7 d and 30 d, and visitor and referrer classes", flags
    )
    stats.add_argument(
        "--prometheus-url",
        default=os.environ.get("SHORTLINK_PROMETHEUS_URL", ""),
        help="Prometheus scraping the redirectors (default: $SHORTLINK_PROMETHEUS_URL); "
        "without it, the visits the operator copied into status.visits",
    )
    stats.add_argument("-o", "--output", choices=("json",))
    stats.set_defaults(run=commands.stats)

    lint = sub.add_parser(
        "lint",
        parents=flags,
        help="check manifests before they are applied",
        description="Check ShortLink manifests with the operator's validation and for slug "
        "conflicts; with --cluster also against the cluster's links and held slugs, and by a "
        "server-side dry run (the CRD's rules and the admission policy).",
    )
    lint.add_argument("paths", nargs="+", metavar="PATH", help="files or folders; - is stdin")
    lint.add_argument("-o", "--output", choices=FORMATS, default="text")
    lint.add_argument("--cluster", action="store_true", help="also check against the cluster")
    lint.set_defaults(run=commands.lint)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    kubectl = Kubectl(
        kubeconfig=args.kubeconfig,
        context=args.context,
        namespace=args.namespace,
        request_timeout=args.request_timeout,
    )
    run: Command = args.run
    try:
        return run(args, kubectl)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()  # `kubectl shortlink ls | head`: not an error
        return 0
