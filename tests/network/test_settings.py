"""RouterSettings validation: good input parses with documented defaults; each mistake gives
a message naming the field and how to fix it. (RouterInventory holds no checks: it is
computed from validated config, tests/config/test_derived.py.)"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from components.config import RouterSettings, VlanNetwork


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
        # VLANs are networks now (network.vlans, tests/config): the old key says where they went.
        ({"apiUrl": "https://r", "vlans": [{"tag": 20, "parent": "igc1"}]}, ("vlans",), "has moved to network.vlans"),
        ({"apiUrl": "https://r", "vlans": []}, ("vlans",), "has moved to network.vlans"),
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


VLAN = {"name": "nodes", "tag": 20, "parent": "igc1", "cidr": "192.168.30.0/24", "gateway": "192.168.30.1"}


def test_vlan_description_stays_on_one_line():
    with pytest.raises(ValidationError, match="line break"):
        VlanNetwork.model_validate({**VLAN, "description": "nodes\nx"})


@pytest.mark.parametrize("name", ["Nodes", "1nodes", "no-des", "nodes\n", "a" * 17, "lan", "wan", "opt3", "pkg_x",
                                  "openvpn", "pass", ""])
def test_vlan_names_are_pfsense_filter_names(name):
    # The name becomes the interface description, which pfSense accepts only as a filter name.
    with pytest.raises(ValidationError) as err:
        VlanNetwork.model_validate({**VLAN, "name": name})
    assert err.value.errors()[0]["loc"] == ("name",)


def test_vlan_interface_description_and_device():
    vlan = VlanNetwork.model_validate(VLAN)
    assert (vlan.interface_descr, vlan.device) == ("NODES", "igc1.20")
    for tag in (0, 4095):
        with pytest.raises(ValidationError, match="4094|1"):
            VlanNetwork.model_validate({**VLAN, "tag": tag})
