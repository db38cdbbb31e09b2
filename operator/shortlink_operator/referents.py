"""The objects a `spec.targetRef` may name, read into small values (pure).

Ingresses, HTTPRoutes and Services (and the Gateways that carry HTTPRoutes) are watched
cluster-wide, so each is kept only as the few fields that resolving its address (`resolution`)
and declaring a link by annotation (`declared`) read: an index of every Service of a big cluster
stays small, and a change elsewhere in an object (its endpoints, its labels) starts no pass.

Nothing here trusts the object: hosts, paths and addresses are kept as text and judged by the
URL judge once they are put together (`resolution`).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from shortlink_core.api import (
    ALIASES_ANNOTATION,
    BASE_URL_ANNOTATION,
    DESCRIPTION_ANNOTATION,
    SLUG_ANNOTATION,
)

GATEWAY_GROUP: Final = "gateway.networking.k8s.io"
#: Path match types whose value is a plain path (not a regular expression).
PLAIN_PATHS: Final = frozenset({"Prefix", "Exact", "PathPrefix"})


@dataclass(frozen=True, slots=True)
class Declaration:
    """A link declared by annotations on the object (`shortlink.dev/slug`, ...), as written."""

    slug: str
    aliases: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class Ingress:
    namespace: str
    name: str
    uid: str
    #: (host, path) of each rule in order; the path is the first plain path of the rule, or "".
    rules: tuple[tuple[str, str], ...]
    #: The hosts (or wildcard patterns) its `spec.tls` entries list.
    tls_hosts: tuple[str, ...]
    #: Whether a `spec.tls` entry lists no host (the controller's default certificate).
    tls_default: bool
    #: `status.loadBalancer.ingress`: IP addresses and host names.
    addresses: tuple[str, ...]
    declaration: Declaration | None = None


@dataclass(frozen=True, slots=True)
class ParentRef:
    """A Gateway an HTTPRoute attaches to (optionally to one listener, by name or port)."""

    namespace: str
    name: str
    section: str | None = None
    port: int | None = None


@dataclass(frozen=True, slots=True)
class HTTPRoute:
    namespace: str
    name: str
    uid: str
    hostnames: tuple[str, ...]
    #: The first plain path of its rules' matches, or "".
    path: str
    parents: tuple[ParentRef, ...]
    declaration: Declaration | None = None


@dataclass(frozen=True, slots=True)
class Listener:
    name: str
    protocol: str
    port: int
    hostname: str | None


@dataclass(frozen=True, slots=True)
class Gateway:
    namespace: str
    name: str
    listeners: tuple[Listener, ...]
    #: `status.addresses` values: IP addresses and host names.
    addresses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ServicePort:
    name: str
    port: int
    app_protocol: str


@dataclass(frozen=True, slots=True)
class Service:
    namespace: str
    name: str
    uid: str
    type: str
    ports: tuple[ServicePort, ...]
    #: `status.loadBalancer.ingress`: IP addresses and host names.
    addresses: tuple[str, ...]
    #: The `shortlink.dev/base-url` annotation, as written.
    base_url: str | None
    declaration: Declaration | None = None


Referent = Ingress | HTTPRoute | Service


def read_ingress(body: Mapping[str, Any]) -> Ingress:
    meta, spec = body["metadata"], _mapping(body.get("spec"))
    rules = tuple(
        (_text(rule.get("host")), _first_path(_mapping(rule.get("http")).get("paths")))
        for rule in _mappings(spec.get("rules"))
    )
    tls = _mappings(spec.get("tls"))
    return Ingress(
        namespace=meta.get("namespace") or "",
        name=meta["name"],
        uid=meta.get("uid", ""),
        rules=rules,
        tls_hosts=tuple(_text(host) for entry in tls for host in _list(entry.get("hosts"))),
        tls_default=any(not _list(entry.get("hosts")) for entry in tls),
        addresses=_load_balancer(body),
        declaration=read_declaration(meta),
    )


def read_httproute(body: Mapping[str, Any]) -> HTTPRoute:
    meta, spec = body["metadata"], _mapping(body.get("spec"))
    namespace = meta.get("namespace") or ""
    paths = [
        _mapping(match.get("path"))
        for rule in _mappings(spec.get("rules"))
        for match in _mappings(rule.get("matches"))
    ]
    plain = [p for p in paths if p.get("type", "PathPrefix") in PLAIN_PATHS and p.get("value")]
    parents = tuple(
        ParentRef(
            namespace=_text(ref.get("namespace")) or namespace,
            name=_text(ref.get("name")),
            section=_text(ref.get("sectionName")) or None,
            port=ref["port"] if isinstance(ref.get("port"), int) else None,
        )
        for ref in _mappings(spec.get("parentRefs"))
        if ref.get("group", GATEWAY_GROUP) == GATEWAY_GROUP
        and ref.get("kind", "Gateway") == "Gateway"
    )
    return HTTPRoute(
        namespace=namespace,
        name=meta["name"],
        uid=meta.get("uid", ""),
        hostnames=tuple(_text(h) for h in _list(spec.get("hostnames"))),
        path=_text(plain[0].get("value")) if plain else "",
        parents=parents,
        declaration=read_declaration(meta),
    )


def read_gateway(body: Mapping[str, Any]) -> Gateway:
    meta, spec = body["metadata"], _mapping(body.get("spec"))
    listeners = tuple(
        Listener(
            name=_text(item.get("name")),
            protocol=_text(item.get("protocol")),
            port=item["port"] if isinstance(item.get("port"), int) else 0,
            hostname=_text(item.get("hostname")) or None,
        )
        for item in _mappings(spec.get("listeners"))
    )
    addresses = tuple(
        _text(item.get("value"))
        for item in _mappings(_mapping(body.get("status")).get("addresses"))
        if item.get("value")
    )
    return Gateway(
        namespace=meta.get("namespace") or "",
        name=meta["name"],
        listeners=listeners,
        addresses=addresses,
    )


def read_service(body: Mapping[str, Any]) -> Service:
    meta, spec = body["metadata"], _mapping(body.get("spec"))
    ports = tuple(
        ServicePort(
            name=_text(item.get("name")),
            port=item["port"] if isinstance(item.get("port"), int) else 0,
            app_protocol=_text(item.get("appProtocol")),
        )
        for item in _mappings(spec.get("ports"))
    )
    annotations = _mapping(meta.get("annotations"))
    base_url = annotations.get(BASE_URL_ANNOTATION)
    return Service(
        namespace=meta.get("namespace") or "",
        name=meta["name"],
        uid=meta.get("uid", ""),
        type=_text(spec.get("type")) or "ClusterIP",
        ports=ports,
        addresses=_load_balancer(body),
        base_url=base_url if isinstance(base_url, str) else None,
        declaration=read_declaration(meta),
    )


def read_declaration(meta: Mapping[str, Any]) -> Declaration | None:
    """The link the object's annotations declare, or None without `shortlink.dev/slug`."""
    annotations = _mapping(meta.get("annotations"))
    slug = annotations.get(SLUG_ANNOTATION)
    if not isinstance(slug, str):
        return None
    return Declaration(
        slug=slug,
        aliases=_text(annotations.get(ALIASES_ANNOTATION)),
        description=_text(annotations.get(DESCRIPTION_ANNOTATION)),
    )


def _load_balancer(body: Mapping[str, Any]) -> tuple[str, ...]:
    ingress = _mapping(_mapping(_mapping(body.get("status")).get("loadBalancer"))).get("ingress")
    return tuple(
        _text(item.get("ip")) or _text(item.get("hostname"))
        for item in _mappings(ingress)
        if item.get("ip") or item.get("hostname")
    )


def _first_path(paths: object) -> str:
    for item in _mappings(paths):
        if item.get("pathType") in PLAIN_PATHS and item.get("path"):
            return _text(item.get("path"))
    return ""


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _mappings(value: object) -> list[Mapping[str, Any]]:
    return [item for item in _list(value) if isinstance(item, Mapping)]


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
