"""Which addresses the target prober may connect to: public ones only, unless allowed.

The prober connects from the operator's pod, inside the cluster network: without this rule a
ShortLink could make it knock on the API server, the cloud metadata endpoint or a database.
"""

import pytest

from shortlink_operator.probe_addresses import refusal

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.5", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("fd00::1", "private"),
    ("169.254.169.254", "link-local"),  # the cloud metadata endpoint
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("100.64.0.1", "shared"),  # carrier-grade NAT, often a cluster's pod or node network
    ("0.0.0.0", "unspecified"),  # noqa: S104 - an address to judge, not to bind
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("192.0.2.1", "private"),  # documentation: Python counts it as private
    # IPv6 forms that carry an IPv4 address: judged by the address they reach.
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.1.2.3", "private"),
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
]


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_non_public_addresses_are_refused_with_their_kind(address: str, kind: str) -> None:
    reason = refusal(address)
    assert reason is not None
    assert kind in reason


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700::6810:84e5", "::ffff:8.8.8.8"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(address) is None


def test_what_is_not_an_address_is_refused() -> None:
    assert refusal("example.com") is not None
