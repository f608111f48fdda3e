"""Issue 27, cause 4 (part): ids that address no object are refused, and every delete is
verified against a fresh listing — a 200 is not proof."""

from __future__ import annotations

import json

import pytest

from components.network.driver import RouterError
from components.network.kinds import FIREWALL_RULE, HOST_OVERRIDE

from .conftest import make_driver
from .test_driver_key_redaction import KEY, HostileRouter, _http

OVERRIDE = {"host": "blog", "domain": "home.example.org", "ip": ["192.168.10.11"],
            "descr": "k3s-platform: ingress", "aliases": []}


@pytest.mark.parametrize("ident", [-1, "-1", "", "0; rm", "1.0", 1.5, True, None, [0], "٣"])
def test_an_id_that_is_no_array_position_is_refused_before_any_write(ident):
    listing = [dict(OVERRIDE, id=ident)]
    router = HostileRouter(lambda req: _http(200, json.dumps({"code": 200, "data": listing})))
    try:
        with pytest.raises(RouterError) as err:
            make_driver(router.url, key=KEY, retries=0).delete(HOST_OVERRIDE, OVERRIDE)
        assert "no usable `id`" in str(err.value)
        assert all(not r.startswith(b"DELETE") for r in router.requests)
    finally:
        router.close()


def test_a_delete_answered_200_that_removed_nothing_is_an_error(fake):
    driver = make_driver(fake.url)
    fake.objects["host_override"].append(dict(OVERRIDE))
    fake.faults[("DELETE", HOST_OVERRIDE.path)] = [200]  # answered "ok", nothing done
    with pytest.raises(RouterError) as err:
        driver.delete(HOST_OVERRIDE, OVERRIDE)
    assert "still lists it" in str(err.value)
    assert len(fake.listing("host_override")) == 1


def test_a_verified_delete_passes(fake):
    driver = make_driver(fake.url)
    fake.objects["firewall_rule"].append({"type": "pass", "interface": ["wan"], "ipprotocol": "inet",
                                          "protocol": "tcp", "source": "any", "destination": "any",
                                          "destination_port": "443", "descr": "k3s-platform: x"})
    assert driver.delete(FIREWALL_RULE, fake.listing("firewall_rule")[0]) is True
    assert fake.listing("firewall_rule") == []
