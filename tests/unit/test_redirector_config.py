"""The redirector's not-found budget settings: flags, environment variables, defaults, refusals."""

import pytest

from shortlink_redirector.config import parse_config
from shortlink_redirector.ratelimit import (
    DEFAULT_BURST,
    DEFAULT_MAX_NETWORKS,
    DEFAULT_PER_SECOND,
)

BASE = ["--namespace", "ns"]


def test_the_defaults_are_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BURST", "PER_SECOND", "NETWORKS"):
        monkeypatch.delenv(f"SHORTLINK_NOT_FOUND_{name}", raising=False)
    config = parse_config(BASE)
    assert (config.not_found_burst, config.not_found_per_second, config.not_found_networks) == (
        1000,
        10.0,
        10_000,
    )
    assert (DEFAULT_BURST, DEFAULT_PER_SECOND, DEFAULT_MAX_NETWORKS) == (1000, 10.0, 10_000)


def test_environment_variables_set_the_budget_and_flags_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHORTLINK_NOT_FOUND_BURST", "7")
    monkeypatch.setenv("SHORTLINK_NOT_FOUND_PER_SECOND", "0.5")
    monkeypatch.setenv("SHORTLINK_NOT_FOUND_NETWORKS", "99")
    config = parse_config(BASE)
    assert (config.not_found_burst, config.not_found_per_second, config.not_found_networks) == (
        7,
        0.5,
        99,
    )
    config = parse_config([*BASE, "--not-found-burst", "0", "--not-found-networks", "5"])
    assert (config.not_found_burst, config.not_found_networks) == (0, 5)


@pytest.mark.parametrize(
    "flags",
    [
        ["--not-found-burst", "-1"],
        ["--not-found-per-second", "0"],
        ["--not-found-per-second", "nan"],
        ["--not-found-networks", "0"],
    ],
)
def test_nonsense_is_refused_at_start(flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_config([*BASE, *flags])
    assert "--not-found" in capsys.readouterr().err
