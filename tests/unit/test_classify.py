"""Visitor classes from User-Agent, referrer classes from Referer and Host."""

import pytest

from shortlink_redirector.classify import (
    BOT,
    DESKTOP,
    DIRECT,
    EXTERNAL,
    MOBILE,
    SAME_SITE,
    TABLET,
    referrer_class,
    visitor_class,
)


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        (b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0", DESKTOP),
        (b"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Version/17.0 Safari/605.1.15", DESKTOP),
        (b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148", MOBILE),
        (b"Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/130.0 Mobile Safari/537.36", MOBILE),
        (b"Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) Version/17.0", TABLET),
        (b"Mozilla/5.0 (Linux; Android 13; SM-X700) Chrome/130.0 Safari/537.36", TABLET),
        (b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", BOT),
        (b"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", BOT),
        (b"curl/8.5.0", BOT),
        (b"python-httpx/0.28.1", BOT),
        (b"", BOT),
    ],
)
def test_visitor_class(agent: bytes, expected: int) -> None:
    assert visitor_class(agent) == expected


@pytest.mark.parametrize(
    ("referer", "host", "expected"),
    [
        (b"", b"go.example.com", DIRECT),
        (b"https://go.example.com/list", b"go.example.com", SAME_SITE),
        (b"https://www.go.example.com/", b"go.example.com:443", SAME_SITE),
        (b"https://news.example.org/item?id=1", b"go.example.com", EXTERNAL),
        (b"not a url", b"go.example.com", EXTERNAL),
        (b"http://[::1", b"go.example.com", EXTERNAL),
    ],
)
def test_referrer_class(referer: bytes, host: bytes, expected: int) -> None:
    assert referrer_class(referer, host) == expected
