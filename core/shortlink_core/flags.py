"""Command-line flags declared once, on the fields of a component's frozen config dataclass.

Each setting is a dataclass field made with `flag(...)`: its environment variable, help text,
default, parser and check live in one place. `parse_flags` builds the argparse command line from
the fields (the flag is the field name with dashes, unless `name` says otherwise) and resolves each
setting in the usual order: the flag, else its environment variable (when set and not empty),
else the default. A value that
does not parse or does not pass its check stops the program with one line naming the flag or the
variable it came from, never a traceback.
"""

import argparse
import dataclasses
import os
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

T = TypeVar("T")
Config = TypeVar("Config")

#: Written in an environment variable, these mean false; anything else means true.
_FALSE: Final = frozenset({"false", "0", "no", "off"})
_METADATA_KEY: Final = "shortlink.flag"


@dataclasses.dataclass(frozen=True, slots=True)
class Flag:
    env: str
    help: str
    parse: Callable[[str], Any] | None
    check: Callable[[Any], str | None] | None
    name: str | None


def flag(
    env: str,
    help: str,
    *,
    default: Any = dataclasses.MISSING,
    default_factory: Callable[[], Any] | None = None,
    parse: Callable[[str], Any] | None = None,
    check: Callable[[Any], str | None] | None = None,
    name: str | None = None,
) -> Any:
    """A config field settable by `--<name>` and by `$<env>`.

    `parse` turns the text of either into the value (by default from the field's type: str, int,
    float, bool); `check` returns what is wrong with a value, or None.
    """
    metadata = {_METADATA_KEY: Flag(env=env, help=help, parse=parse, check=check, name=name)}
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def between(low: float, high: float) -> Callable[[float], str | None]:
    """A check: the value lies in [low, high]."""

    def check(value: float) -> str | None:
        return None if low <= value <= high else f"must be between {low:g} and {high:g}"

    return check


def boolean(text: str) -> bool:
    return text.strip().lower() not in _FALSE


def integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError("not a whole number") from None


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError("not a number") from None


#: Where a pod finds its own namespace (its service account's token mount).
SERVICE_ACCOUNT_NAMESPACE: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def pod_namespace() -> str:
    """The default of both components' `--namespace`: the pod's own, else shortlink-system."""
    if SERVICE_ACCOUNT_NAMESPACE.exists():
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    return "shortlink-system"


def base_url(text: str) -> str:
    """An http(s) URL that short URLs start with, without a trailing slash."""
    if not text.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return text.rstrip("/")


def _parser_for(kind: Any) -> Callable[[str], Any]:
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        (kind,) = [arg for arg in typing.get_args(kind) if arg is not type(None)]
    parsers: dict[Any, Callable[[str], Any]] = {
        str: str,
        int: integer,
        float: number,
        bool: boolean,
    }
    if kind not in parsers:
        raise TypeError(f"no parser for {kind!r}: give flag(..., parse=...)")
    return parsers[kind]


def parse_flags(
    config_type: type[Config],
    argv: Sequence[str] | None = None,
    *,
    prog: str,
    description: str,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """The `config_type` the command line and the environment describe (exits 2 on a bad value)."""
    environ = os.environ if environ is None else environ
    hints = typing.get_type_hints(config_type)
    parser = argparse.ArgumentParser(prog=prog, description=description)
    declared: list[tuple[dataclasses.Field[Any], Flag, Callable[[str], Any], str]] = []
    for field in dataclasses.fields(config_type):  # type: ignore[arg-type]
        spec = field.metadata.get(_METADATA_KEY)
        if not isinstance(spec, Flag):
            continue
        parse = spec.parse or _parser_for(hints[field.name])
        option = "--" + (spec.name or field.name.replace("_", "-"))
        if hints[field.name] is bool:
            parser.add_argument(
                option,
                dest=field.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{spec.help} [${spec.env}]",
            )
        else:
            parser.add_argument(
                option,
                dest=field.name,
                type=_argparse_type(parse),
                default=None,
                metavar=field.name.upper(),
                help=f"{spec.help} [${spec.env}]",
            )
        declared.append((field, spec, parse, option))
    args = parser.parse_args(argv)
    values: dict[str, Any] = {}
    for field, spec, parse, option in declared:
        value, source = getattr(args, field.name), option
        if value is None and environ.get(spec.env):  # set and not empty
            source = f"${spec.env}"
            try:
                value = parse(environ[spec.env])
            except ValueError as error:
                parser.error(f"{source}={environ[spec.env]!r}: {error}")
        if value is None:
            continue  # the dataclass default
        problem = spec.check(value) if spec.check else None
        if problem:
            parser.error(f"{source} {problem}")
        values[field.name] = value
    return config_type(**values)


def _argparse_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """`parse`, reporting a ValueError's own message the way argparse reports a bad argument."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None

    return convert
