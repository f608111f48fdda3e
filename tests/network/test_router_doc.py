"""docs/router.md's API-key privileges are the driver's own endpoint tables."""

from components.network.kinds import api_privileges
from tools import router_doc


def test_privilege_list_in_the_docs_is_current():
    assert router_doc.main(["--check"]) == 0, "run: python -m tools.router_doc"


def test_the_endpoints_first_prod_up_needs_are_listed():
    table = dict(api_privileges())
    assert table["/api/v2/services/haproxy/settings"] == ("GET", "PATCH")
    assert set(table["/api/v2/vpn/openvpn/cso"]) == {"GET", "POST", "PATCH", "DELETE"}
    assert table["/api/v2/vpn/openvpn/csos"] == ("GET",)
    text = router_doc.DOC.read_text()
    for name in ("api-v2-services-haproxy-settings-patch", "api-v2-vpn-openvpn-cso-post", "api-v2-vpn-openvpn-csos-get"):
        assert f"`{name}`" in text
