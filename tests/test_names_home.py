"""Resource names are spelled in one place, components/names.py.

A component names what it registers with `names.child(parent, part, ...)` or a family's own
function (`names.node_step`, `names.dhcp_mapping`, ...); an f-string such as
`f"{name}-chart"` elsewhere would be a second spelling of the `<parent>-<part>` rule. The
few f-strings of that shape that are not resource names are listed here with what they are.
"""

from __future__ import annotations

import re

from tools.paths import ROOT

TEMPLATE = re.compile(r'f"\{[A-Za-z_][\w.]*\}-')
NOT_RESOURCE_NAMES = {
    ("components/config/platform.py", 'f"{self.name}-appops"'): "a tenant's default AppOps group",
    ("components/system/tls_route.py", 'f"{route}-tls"'): "the Kubernetes Secret cert-manager writes",
    ("components/system/tls_route.py", 'f"{route}-headers"'): "the Middleware object's own name",
    ("components/network/payloads.py", 'f"{node.name}-{port}"'): "an HAProxy backend server's name",
    ("components/network/payloads.py", 'f"{TAG}-vpn-ca"'): "the VPN CA's description on the router",
    ("components/network/payloads.py", 'f"{TAG}-vpn-server"'): "the VPN server certificate's description",
    ("components/network/payloads.py", 'f"{TAG}-vpn-client-{client}"'): "a VPN client certificate's description",
}


def templates() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted((ROOT / "components").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if rel == "components/names.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for m in TEMPLATE.finditer(line):
                literal = line[m.start():line.index('"', m.end()) + 1]
                found.append((rel, number, literal))
    return found


def test_no_component_spells_a_resource_name_template():
    stray = [f"{rel}:{number}: {literal}" for rel, number, literal in templates()
             if (rel, literal) not in NOT_RESOURCE_NAMES]
    assert not stray, "use names.child(...) or a names.py family function:\n" + "\n".join(stray)


def test_the_exceptions_are_still_there():
    # An exception whose line went away would hide the next real template of that spelling.
    seen = {(rel, literal) for rel, _, literal in templates()}
    assert set(NOT_RESOURCE_NAMES) <= seen, set(NOT_RESOURCE_NAMES) - seen
