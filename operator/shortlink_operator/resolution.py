"""From a `spec.targetRef` to the URL a link redirects to (pure).

The address of each kind, in the order it is looked for:

- Ingress: the first rule with a host that is not a wildcard; `https` when `spec.tls` lists that
  host (or a wildcard covering it), `http` otherwise. Without such a rule, its load balancer's
  address (`status.loadBalancer.ingress`), `https` when it has a `spec.tls` entry.
- HTTPRoute: its first hostname that is not a wildcard, else the hostname of the listener it is
  attached to, else its Gateway's address. The scheme and port are those of the listeners of its
  parent Gateways it attaches to (by `sectionName`, `port` and hostname): `https` and that
  listener's port when one of them is HTTPS, `http` when they are all HTTP. When no parent
  Gateway is known (not created yet, in an API that is not installed), `https` on its default
  port: a route is usually published behind TLS, and a wrong guess is visible in
  `status.resolvedURL`.
- Service: the URL in its `shortlink.dev/base-url` annotation, for a Service of any type; else,
  for a `LoadBalancer` Service, its load balancer's address (`status.loadBalancer.ingress`) and
  the port `targetRef.port` names (or its only port, or the one named `https`/`http`, or 443/80),
  `https` when that port is 443, is named `https` or has `appProtocol` https. ClusterIP,
  NodePort and ExternalName Services without the annotation have no address outside the
  cluster: `TargetUnresolvable`.

The path is `targetRef.path` when set, else the first plain (`Prefix`, `Exact`, `PathPrefix`)
path of the rule that gave the host, else `/`; `targetRef.port`, when set, replaces the port.

Nothing in the object is trusted: the host goes through the judge's host rules, and the whole URL
through the same judge as `spec.url` (`shortlink_core.targets`), so a hostile object cannot make
a link send visitors anywhere a `spec.url` could not.
"""

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from shortlink_core.errors import InvalidLink
from shortlink_core.link import TargetRef
from shortlink_core.targets import judge_host, judge_target
from shortlink_operator.conditions import Reason
from shortlink_operator.referents import (
    Gateway,
    HTTPRoute,
    Ingress,
    Listener,
    Service,
    ServicePort,
)

Key = tuple[str, str]
WEB_PROTOCOLS: Final = frozenset({"HTTP", "HTTPS"})
HTTPS_APP_PROTOCOLS: Final = frozenset({"https", "kubernetes.io/https"})


@dataclass(frozen=True, slots=True)
class Referents:
    """Every object a targetRef may name, by (namespace, name): a snapshot of the indexes."""

    ingresses: Mapping[Key, Ingress] = field(default_factory=dict)
    httproutes: Mapping[Key, HTTPRoute] = field(default_factory=dict)
    gateways: Mapping[Key, Gateway] = field(default_factory=dict)
    services: Mapping[Key, Service] = field(default_factory=dict)


class Unresolved(Exception):
    """The target gives no URL: `reason` is TargetNotFound or TargetUnresolvable."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def resolve(ref: TargetRef, *, namespace: str, referents: Referents) -> str:
    """The judged URL `ref` (of a link in `namespace`) points at, or raise `Unresolved`."""
    key = (ref.namespace or namespace, ref.name)
    what = f"{ref.kind} {key[0]}/{key[1]}"
    if ref.kind == "Ingress":
        ingress = referents.ingresses.get(key)
        if ingress is None:
            raise _not_found(what)
        scheme, host, port, path = _ingress(ingress, what)
    elif ref.kind == "HTTPRoute":
        route = referents.httproutes.get(key)
        if route is None:
            raise _not_found(what)
        scheme, host, port, path = _httproute(route, referents.gateways, what)
    elif ref.kind == "Service":
        service = referents.services.get(key)
        if service is None:
            raise _not_found(what)
        if service.base_url is not None:
            return _judged(_under(service.base_url, ref.path), what)
        scheme, host, port, path = _service(service, ref.port, what)
    else:  # parse_link admits no other kind
        raise Unresolved(Reason.TARGET_UNRESOLVABLE, f"{ref.kind} is not a kind targetRef names")
    port = ref.port if ref.port is not None else port
    authority = _authority(host, what) + ("" if port is None else f":{port}")
    return _judged(f"{scheme}://{authority}{ref.path or path or '/'}", what)


def _not_found(what: str) -> Unresolved:
    return Unresolved(Reason.TARGET_NOT_FOUND, f"targetRef: {what} does not exist")


def _unresolvable(what: str, why: str) -> Unresolved:
    return Unresolved(Reason.TARGET_UNRESOLVABLE, f"targetRef: {what} {why}")


def _judged(url: str, what: str) -> str:
    try:
        return judge_target(url)
    except InvalidLink as error:
        raise _unresolvable(what, f"resolves to a URL that is refused: {error}") from None


def _authority(host: str, what: str) -> str:
    """The host as it stands in a URL: judged like a target's host, IPv6 in brackets."""
    try:
        if ":" in host:
            return f"[{ipaddress.IPv6Address(host).compressed}]"
        return judge_host(host)
    except (InvalidLink, ValueError) as error:
        raise _unresolvable(what, f"has an address that is refused: {error}") from None


def _under(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path if path else base_url


def _ingress(ingress: Ingress, what: str) -> tuple[str, str, int | None, str]:
    for host, path in ingress.rules:
        if host and not host.startswith("*"):
            tls = any(_covers(pattern, host) for pattern in ingress.tls_hosts)
            return ("https" if tls else "http"), host, None, path
    if ingress.addresses:
        # The rules without a host are served on the load balancer's address.
        path = next((path for host, path in ingress.rules if not host and path), "")
        tls = bool(ingress.tls_hosts) or ingress.tls_default
        return ("https" if tls else "http"), ingress.addresses[0], None, path
    raise _unresolvable(
        what, "has no rule with a host (other than a wildcard) and no load-balancer address"
    )


def _httproute(
    route: HTTPRoute, gateways: Mapping[Key, Gateway], what: str
) -> tuple[str, str, int | None, str]:
    host = next((h for h in route.hostnames if h and not h.startswith("*")), None)
    attached = [
        (gateway, listener)
        for parent in route.parents
        if (gateway := gateways.get((parent.namespace, parent.name))) is not None
        for listener in gateway.listeners
        if listener.protocol in WEB_PROTOCOLS
        and (parent.section is None or parent.section == listener.name)
        and (parent.port is None or parent.port == listener.port)
        and (
            host is None
            or listener.hostname is None
            or _covers(listener.hostname, host, labels="many")
        )
    ]
    if host is None:
        host = next(
            (
                candidate
                for gateway, listener in attached
                for candidate in (listener.hostname or "", *gateway.addresses)
                if candidate and not candidate.startswith("*")
            ),
            None,
        )
    if host is None:
        raise _unresolvable(
            what, "has no hostname (other than a wildcard), and neither has its Gateway"
        )
    if not attached:
        return "https", host, None, route.path  # no Gateway known: see the module docstring
    listener = _preferred([listener for _, listener in attached])
    return listener.protocol.lower(), host, listener.port, route.path


def _preferred(listeners: Sequence[Listener]) -> Listener:
    return next((item for item in listeners if item.protocol == "HTTPS"), listeners[0])


def _service(service: Service, port: int | None, what: str) -> tuple[str, str, int | None, str]:
    if service.type != "LoadBalancer":
        raise _unresolvable(
            what,
            f"is of type {service.type}, which has no address outside the cluster: use a "
            "LoadBalancer Service, or annotate it shortlink.dev/base-url with the URL it is "
            "reached at",
        )
    if not service.addresses:
        raise _unresolvable(what, "has no load-balancer address yet")
    chosen = _service_port(service.ports, port, what)
    https = (
        chosen.port == 443
        or chosen.name == "https"
        or chosen.app_protocol.lower() in HTTPS_APP_PROTOCOLS
    )
    return ("https" if https else "http"), service.addresses[0], chosen.port, ""


def _service_port(ports: Sequence[ServicePort], wanted: int | None, what: str) -> ServicePort:
    if not ports:
        raise _unresolvable(what, "has no ports")
    if wanted is not None:
        for port in ports:
            if port.port == wanted:
                return port
        raise _unresolvable(what, f"has no port {wanted}")
    if len(ports) == 1:
        return ports[0]
    for name, number in (("https", 443), ("http", 80)):
        for port in ports:
            if port.name == name or port.port == number:
                return port
    raise _unresolvable(what, "has several ports and none is https or http: set targetRef.port")


def _covers(pattern: str, host: str, *, labels: str = "one") -> bool:
    """Whether a host or a wildcard from an object covers `host`: an Ingress's `*.example.com`
    stands for one label, a Gateway listener's for one or more (as each API defines it)."""
    if not pattern.startswith("*."):
        return pattern == host
    head, _, rest = host.partition(".")
    if labels == "one":
        return bool(head) and rest == pattern[2:]
    return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
