"""Issue 27, cause 10: HTTP 429 (pfrest refused the request unprocessed) is retried with the
backoff for every method, within the retry budget, and then named."""

from __future__ import annotations

import pytest

from components.network.driver import RouterError
from components.network.kinds import FIREWALL_RULE, HOST_OVERRIDE

from .conftest import make_driver

OVERRIDE = {"host": "blog", "domain": "home.example.org", "ip": ["192.168.10.11"],
            "descr": "k3s-platform: ingress", "aliases": []}


@pytest.mark.parametrize("times", [1, 2])
def test_a_rate_limited_create_is_sent_again_and_made_once(fake, times):
    slept: list[float] = []
    driver = make_driver(fake.url, retries=2, backoff=0.5, sleep=slept.append)
    fake.faults[("POST", HOST_OVERRIDE.path)] = [429] * times
    driver.upsert(HOST_OVERRIDE, dict(OVERRIDE))
    assert len(fake.listing("host_override")) == 1
    assert [m for m, _ in fake.writes()] == ["POST"] * (times + 1)
    assert slept and all(s > 0 for s in slept)


def test_a_rate_limited_read_is_retried(fake):
    driver = make_driver(fake.url, retries=1)
    fake.faults[("GET", FIREWALL_RULE.plural)] = [429]
    assert driver.list(FIREWALL_RULE) == []


def test_rate_limiting_beyond_the_retries_is_named(fake):
    driver = make_driver(fake.url, retries=1)
    fake.faults[("GET", FIREWALL_RULE.plural)] = [429, 429, 429]
    with pytest.raises(RouterError) as err:
        driver.list(FIREWALL_RULE)
    assert "429" in str(err.value)
