"""RouterSettings validation: good input parses with documented defaults; each mistake gives
a message naming the field and how to fix it. (RouterInventory holds no checks: it is
computed from validated config, tests/config/test_derived.py.)"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from components.config import RouterSettings


def test_defaults_from_camel_case_yaml():
    s = RouterSettings.model_validate({"apiUrl": "https://pfsense.home.example.org:8443/"})
    assert s.api_url == "https://pfsense.home.example.org:8443"
    assert s.verify_tls is True and s.ca_bundle is None
    assert (s.wan_interface, s.lan_interface) == ("wan", "lan")
    assert s.vpn.enabled is False and s.vpn.port == 1194 and s.vpn.protocol == "udp"


@pytest.mark.parametrize(
    "raw,loc,message",
    [
        ({"apiUrl": "http://192.168.10.1"}, ("apiUrl",), "must use https"),
        ({"apiUrl": "https://192.168.10.1/api/v2"}, ("apiUrl",), "drop the path"),
        ({"apiUrl": "https://r", "vlans": [{"tag": 5000, "parent": "igc1"}]}, ("vlans", 0, "tag"), "less than or equal to 4094"),
        ({"apiUrl": "https://r", "vlans": [{"tag": 20, "parent": "igc1"}, {"tag": 20, "parent": "igc1"}]}, ("vlans",), "listed twice"),
        ({"apiUrl": "https://r", "adminCidrs": ["10.0.0.0/24"]}, ("adminCidrs",), "Extra inputs"),
        ({"apiUrl": "https://r", "vpn": {"enabled": True}}, ("vpn",), "no clients"),
        ({"apiUrl": "https://r", "vpn": {"clients": ["Alice Smith"]}}, ("vpn", "clients"), "client name"),
        ({"apiUrl": "https://r", "caBundle": "not a pem"}, ("caBundle",), "PEM"),
        ({"apiUrl": "https://r", "wanInterface": "lan"}, (), "both 'lan'"),
        ({"apiUrl": "https://r", "apiKey": "x"}, ("apiKey",), "Extra inputs"),
    ],
)
def test_bad_settings_name_the_field(raw, loc, message):
    with pytest.raises(ValidationError) as err:
        RouterSettings.model_validate(raw)
    errors = err.value.errors()
    assert any(tuple(e["loc"]) == loc and message in e["msg"] for e in errors), errors


def test_settings_are_frozen():
    s = RouterSettings.model_validate({"apiUrl": "https://r"})
    with pytest.raises(ValidationError):
        s.verify_tls = False  # type: ignore[misc]


def test_vlan_description_stays_on_one_line():
    with pytest.raises(ValidationError, match="line break"):
        RouterSettings.model_validate({"apiUrl": "https://r", "vlans": [
            {"tag": 20, "parent": "igc1", "description": "nodes\nx"}]})
