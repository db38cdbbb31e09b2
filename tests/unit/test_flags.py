"""Settings from flags and environment variables: one declaration, one-line errors.

Both components declare their settings with `shortlink_core.flags`; these tests drive their real
config classes, as a person starting the program would.
"""

import pytest

from shortlink_core.flags import parse_flags
from shortlink_operator.config import OperatorConfig
from shortlink_redirector.config import RedirectorConfig

OPERATOR = {"prog": "shortlink-operator", "description": "operator"}
REDIRECTOR = {"prog": "shortlink-redirector", "description": "redirector"}


def operator(argv: list[str], environ: dict[str, str] | None = None) -> OperatorConfig:
    return parse_flags(OperatorConfig, argv, environ=environ or {}, **OPERATOR)


def redirector(argv: list[str], environ: dict[str, str] | None = None) -> RedirectorConfig:
    return parse_flags(RedirectorConfig, argv, environ=environ or {}, **REDIRECTOR)


def test_without_flags_or_environment_every_default_applies() -> None:
    config = operator([])
    assert (config.shard_count, config.metrics_port, config.shard_budget_bytes) == (
        64,
        9091,
        256 * 1024,
    )
    assert config.public_base_url == "http://127.0.0.1:8080"
    assert redirector([]).visit_log is True


def test_the_flag_wins_over_the_environment_which_wins_over_the_default() -> None:
    assert operator([], {"SHORTLINK_SHARDS": "8"}).shard_count == 8
    assert operator(["--shards", "4"], {"SHORTLINK_SHARDS": "8"}).shard_count == 4


def test_an_empty_environment_variable_means_unset() -> None:
    assert operator([], {"SHORTLINK_SHARDS": ""}).shard_count == 64


def test_booleans_read_from_the_environment_and_as_flag_pairs() -> None:
    assert redirector([], {"SHORTLINK_VISIT_LOG": "false"}).visit_log is False
    assert redirector([], {"SHORTLINK_VISIT_LOG": "Off"}).visit_log is False
    assert redirector(["--visit-log"], {"SHORTLINK_VISIT_LOG": "0"}).visit_log is True
    assert redirector(["--no-visit-log"]).visit_log is False


def test_visits_are_off_by_default_and_set_by_flag_or_environment() -> None:
    config = operator([])
    assert (config.prometheus_url, config.visits_interval_seconds) == (None, 300.0)
    assert config.visits_writes_per_second == 10.0
    config = operator(
        ["--visits-interval-seconds", "30"],
        {
            "SHORTLINK_PROMETHEUS_URL": "http://prometheus:9090/",
            "SHORTLINK_VISITS_WRITES_PER_SECOND": "2.5",
        },
    )
    assert (config.prometheus_url, config.visits_interval_seconds) == ("http://prometheus:9090", 30)
    assert config.visits_writes_per_second == 2.5
    assert operator(["--prometheus-url", "https://p.example"]).prometheus_url == "https://p.example"


def test_values_are_normalised_by_their_parser() -> None:
    config = operator(["--public-base-url", "https://go.example.com/"])
    assert config.public_base_url == "https://go.example.com"
    assert redirector([], {"SHORTLINK_COUNTRY_HEADER": "CF-IPCountry"}).country_header == (
        "cf-ipcountry"
    )
    (network,) = redirector(["--trusted-proxies", "10.0.0.0/8"]).trusted_proxies
    assert str(network) == "10.0.0.0/8"


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        ([], {"SHORTLINK_SHARDS": "many"}, "$SHORTLINK_SHARDS='many': not a whole number"),
        ([], {"SHORTLINK_SHARDS": "5000"}, "$SHORTLINK_SHARDS must be between 1 and 1000"),
        (["--shards", "0"], {}, "--shards must be between 1 and 1000"),
        (["--shards", "x"], {}, "argument --shards: 'x': not a whole number"),
        (
            [],
            {"SHORTLINK_PUBLIC_BASE_URL": "go.example.com"},
            "$SHORTLINK_PUBLIC_BASE_URL='go.example.com': must start with http:// or https://",
        ),
        (
            ["--prometheus-url", "prometheus:9090"],
            {},
            "argument --prometheus-url: 'prometheus:9090': must start with http:// or https://",
        ),
        (
            ["--visits-writes-per-second", "0"],
            {},
            "--visits-writes-per-second must be between 0.1 and 1000",
        ),
        (
            [],
            {"SHORTLINK_VISITS_INTERVAL_SECONDS": "0.5"},
            "$SHORTLINK_VISITS_INTERVAL_SECONDS must be between 1 and 86400",
        ),
        (
            [],
            {"SHORTLINK_RESYNC_SECONDS": "soon"},
            "$SHORTLINK_RESYNC_SECONDS='soon': not a number",
        ),
    ],
)
def test_a_bad_value_stops_with_one_line_naming_where_it_came_from(
    argv: list[str], environ: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        operator(argv, environ)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == f"shortlink-operator: error: {message}"


def test_a_bad_network_in_the_environment_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        redirector([], {"SHORTLINK_TRUSTED_PROXIES": "10.0.0.0/8,proxy"})
    assert "$SHORTLINK_TRUSTED_PROXIES='10.0.0.0/8,proxy': not an IP network: 'proxy'" in (
        capsys.readouterr().err
    )


def test_help_names_every_environment_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        operator(["--help"])
    text = capsys.readouterr().out
    for variable in ("SHORTLINK_SHARDS", "SHORTLINK_SLUG_KEY", "POD_NAME"):
        assert f"${variable}" in text
