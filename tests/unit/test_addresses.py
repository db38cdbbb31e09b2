"""Client addresses for the visit log: anonymised; forwarded headers only from trusted proxies."""

import pytest

from shortlink_redirector.addresses import anonymise, client_address, parse_networks

PROXIES = parse_networks("10.0.0.0/8, fd00::/8")


def _client(peer: str | None, forwarded: str = "") -> str:
    return anonymise(client_address(peer, forwarded, PROXIES))


def test_ipv4_is_cut_to_its_24_network() -> None:
    assert _client("198.51.100.77") == "198.51.100.0"


def test_ipv6_is_cut_to_its_48_network() -> None:
    assert _client("2001:db8:abcd:12:34::1") == "2001:db8:abcd::"


def test_ipv4_mapped_ipv6_is_treated_as_ipv4() -> None:
    assert _client("::ffff:198.51.100.77") == "198.51.100.0"


def test_forwarded_for_is_ignored_from_an_untrusted_peer() -> None:
    assert _client("198.51.100.77", "203.0.113.5") == "198.51.100.0"


def test_forwarded_for_names_the_client_behind_a_trusted_proxy() -> None:
    assert _client("10.1.2.3", "203.0.113.5") == "203.0.113.0"


def test_the_nearest_untrusted_hop_is_the_client() -> None:
    # The left-most entry is whatever the client claimed; only hops added by our proxies count.
    assert _client("10.1.2.3", "192.0.2.1, 203.0.113.5, 10.9.9.9") == "203.0.113.0"


def test_an_unreadable_hop_stops_at_the_last_trusted_address() -> None:
    assert _client("10.1.2.3", "garbage") == "10.1.2.0"


def test_an_unknown_peer_is_logged_as_empty() -> None:
    assert _client(None) == ""


def test_bad_proxy_networks_are_refused_with_the_culprit() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300/8'"):
        parse_networks("10.0.0.0/8,10.0.0.300/8")
