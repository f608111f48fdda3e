"""RouterSettings and RouterInventory validation: good input parses with documented
defaults; each mistake gives a message naming the field and how to fix it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from components.network.inventory import RouterInventory, RouterNode
from components.network.settings import RouterSettings

from .conftest import dev_inventory


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


def test_mac_is_normalized():
    node = RouterNode("cp1", "192.168.10.11", "52-54-00-AA-BB-CC", "server")
    assert node.mac == "52:54:00:aa:bb:cc"


@pytest.mark.parametrize(
    "change,message",
    [
        ({"nodes": ()}, "nodes is empty"),
        ({"ingress_address": "10.0.0.1"}, "ingress_address 10.0.0.1 is outside lan_cidr"),
        ({"api_hostname": "k8s"}, "api_hostname 'k8s' is not a lowercase DNS name"),
        ({"ingress_hosts": ("a.home.example.org", "a.home.example.org")}, "duplicates"),
        ({"proxy_protocol": True}, "proxy_protocol needs ha"),
        ({"nodes": (RouterNode("cp1", "192.168.10.11", "52:54:00:00:00:01", "agent"),)}, "no node has role 'server'"),
        (
            {"nodes": (RouterNode("cp1", "192.168.10.11", "52:54:00:00:00:01", "server"),
                       RouterNode("cp2", "192.168.10.12", "52:54:00:00:00:01", "server"))},
            "node macs",
        ),
    ],
)
def test_bad_inventory_is_explained(change, message):
    base = dev_inventory()
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    fields.update(change)
    with pytest.raises(ValueError, match=message):
        RouterInventory(**fields)


def test_bad_mac_is_explained():
    with pytest.raises(ValueError, match="aa:bb:cc:dd:ee:ff"):
        RouterNode("cp1", "192.168.10.11", "52:54:00", "server")


def test_vlan_description_stays_on_one_line():
    with pytest.raises(ValidationError, match="line break"):
        RouterSettings.model_validate({"apiUrl": "https://r", "vlans": [
            {"tag": 20, "parent": "igc1", "description": "nodes\nx"}]})
