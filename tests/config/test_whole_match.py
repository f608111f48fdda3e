"""Issue 27, cause 1: every grammar of the config matches the whole value, in ASCII.

`re.match(r"^...$")` let a value with a final line break through (`$` matches before a
trailing `\\n`) and `\\d` let other scripts' digits through. Each config location below holds a
valid value; every spelling of those two mistakes, at every location, must be refused with
the location's dotted key — and the valid value itself must still pass, so a location that
stops being checked at all would show here too.
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path

import pytest

from components.config import ConfigError, parse_stack_config
from components.network.openvpn import directive_arg
from components.quantity import parse_quantity
from tests.config.test_config_fixtures import raw_config

PROD = Path(__file__).parent / "valid" / "prod-ha.yaml"
_ED25519 = base64.b64encode(b"\0\0\0\x0bssh-ed25519\0\0\0\x20" + bytes(range(32))).decode()

# (dotted key the error must name, path into the raw config, a valid value there)
LOCATIONS = [
    ("domain", ("domain",), "home.example.org"),
    ("cluster.k3sVersion", ("cluster", "k3sVersion"), "v1.34.2+k3s1"),
    ("cluster.apiHostname", ("cluster", "apiHostname"), "k8s.home.example.org"),
    ("cluster.ssh.user", ("cluster", "ssh", "user"), "k3s"),
    ("cluster.servers[0].name", ("cluster", "servers", 0, "name"), "cp1"),
    ("cluster.servers[0].mac", ("cluster", "servers", 0, "mac"), "52:54:00:10:00:11"),
    ("cluster.servers[0].taints[0]", ("cluster", "servers", 0, "taints"), ["dedicated=db:NoSchedule"]),
    ("cluster.servers[0].labels", ("cluster", "servers", 0, "labels"), {"example.org/tier": "db"}),
    ("cluster.servers[0].hostKey", ("cluster", "servers", 0, "hostKey"), f"ssh-ed25519 {_ED25519}"),
    ("cluster.installer.sha256", ("cluster", "installer", "sha256"), "a" * 64),
    ("cluster.installer.scriptPath", ("cluster", "installer", "scriptPath"), "/opt/k3s/install.sh"),
    ("cluster.etcdSnapshots.schedule", ("cluster", "etcdSnapshots", "schedule"), "0 */6 * * *"),
    ("ingress.dashboardUser", ("ingress", "dashboardUser"), "admin"),
    ("ingress.nodes[0]", ("ingress", "nodes"), ["w1", "w2"]),
    ("certificates.email", ("certificates", "email"), "ops@home.example.org"),
    ("platops.group", ("platops", "group"), "platops"),
    ("tenants[0].name", ("tenants", 0, "name"), "blog"),
    ("tenants[0].hosts[0]", ("tenants", 0, "hosts"), ["blog.home.example.org"]),
    ("tenants[0].group", ("tenants", 0, "group"), "oidc:blog-team"),
    ("tenants[0].quota.requestsCpu", ("tenants", 0, "quota", "requestsCpu"), "1"),
    ("tenants[0].quota.limitsMemory", ("tenants", 0, "quota", "limitsMemory"), "8Gi"),
    ("tenants[0].sampleApp.image", ("tenants", 0, "sampleApp", "image"), "traefik/whoami:v1.11.0"),
    ("router.wanInterface", ("router", "wanInterface"), "wan"),
    ("network.vlans[0].name", ("network", "vlans", 0, "name"), "nodes"),
    ("network.vlans[0].parent", ("network", "vlans", 0, "parent"), "igc1"),
    ("people[0].name", ("people", 0, "name"), "alice"),
    ("cluster.k3s.server.etcd-snapshot-reconcile-interval",
     ("cluster", "k3s", "server", "etcd-snapshot-reconcile-interval"), "10m"),
    ("router.vpn.clients", ("router", "vpn", "clients"), ["alice", "bob"]),
    ("router.vpn.endpoint", ("router", "vpn", "endpoint"), "vpn.home.example.org"),
]

# Each a way a value ends or is spelled that an anchored `re.match` or `\d` let through.
TAILS = ["\n", "\r\n", "\n\n", " ", "\t", "\x00", "\u2028", "\x85", "\n# comment"]


def _spoiled(value, tail: str):
    """The valid value with `tail` on its (first) string: a list's first item, a mapping's
    first key and value."""
    if isinstance(value, list):
        return [value[0] + tail, *value[1:]]
    if isinstance(value, dict):
        (k, v), *rest = value.items()
        return {k + tail: v, **dict(rest)}
    return value + tail


def _with(path, value) -> dict:
    raw = copy.deepcopy(raw_config(PROD))
    raw.setdefault("people", [{"name": "alice", "role": "platops"}])  # the fixture lists no one
    node = raw
    for part in path[:-1]:
        node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
    node[path[-1]] = value
    return raw


@pytest.mark.parametrize(("key", "path", "value"), LOCATIONS, ids=[loc[0] for loc in LOCATIONS])
def test_valid_value_passes(key, path, value):
    parse_stack_config(_with(path, value))


@pytest.mark.parametrize("tail", TAILS, ids=repr)
@pytest.mark.parametrize(("key", "path", "value"), LOCATIONS, ids=[loc[0] for loc in LOCATIONS])
def test_a_value_with_a_line_break_or_stray_character_is_refused(key, path, value, tail):
    if key.endswith("hostKey") and tail == " ":
        pytest.skip("a space starts the key's comment (as in known_hosts): valid")
    with pytest.raises(ConfigError) as err:
        parse_stack_config(_with(path, _spoiled(value, tail)))
    assert any(p.startswith(key) for p in err.value.problems), err.value.problems


# Digits of other scripts: `\d` and str.isdigit() accept them, int() even reads some.
@pytest.mark.parametrize(("key", "path", "value"), [
    ("cluster.k3sVersion", ("cluster", "k3sVersion"), "v1.\u0663\u0664.2+k3s1"),   # Arabic-Indic 34
    ("cluster.k3sVersion", ("cluster", "k3sVersion"), "v1.34.\uff12+k3s1"),          # fullwidth 2
    ("tenants[0].quota.requestsCpu", ("tenants", 0, "quota", "requestsCpu"), "\u0967"),  # Devanagari 1
    ("tenants[0].quota.limitsMemory", ("tenants", 0, "quota", "limitsMemory"), "\u0668Gi"),
    ("cluster.etcdSnapshots.schedule", ("cluster", "etcdSnapshots", "schedule"), "0 */\u0666 * * *"),
    ("cluster.etcdSnapshots.schedule", ("cluster", "etcdSnapshots", "schedule"), "\u00b2 * * * *"),
    ("cluster.k3s.server.etcd-snapshot-reconcile-interval",
     ("cluster", "k3s", "server", "etcd-snapshot-reconcile-interval"), "\u0661\u0660m"),  # Arabic-Indic 10
])
def test_digits_of_other_scripts_are_refused(key, path, value):
    with pytest.raises(ConfigError) as err:
        parse_stack_config(_with(path, value))
    assert any(p.startswith(key) for p in err.value.problems), err.value.problems


@pytest.mark.parametrize("text", ["1\n", "500m\n", "\u0665", "1e999999999", "1e-99999", "2E+400"])
def test_quantity_parser_refuses_tails_foreign_digits_and_huge_exponents(text):
    with pytest.raises(ValueError):
        parse_quantity(text)


@pytest.mark.parametrize("value", ["vpn.example.org\n", "vpn.example.org\nremote evil.example 443",
                                   "10.0.0.1\r\n", "host\u0085", "h\tx"])
def test_openvpn_directive_guard_refuses_line_breaks(value):
    with pytest.raises(ValueError):
        directive_arg(value, "endpoint")
    assert directive_arg("vpn.example.org", "endpoint") == "vpn.example.org"


@pytest.mark.parametrize("host_key", [
    "ssh-ed25519 AAAA",                                   # base64 of no key at all
    "ssh-ed25519 " + base64.b64encode(b"\0\0\0\x07ssh-rsa" + b"\0" * 40).decode(),  # another type's blob
    f"ssh-rsa {_ED25519}",                                # type and blob disagree
    f"ssh-ed25519 {_ED25519} comment\rwith a carriage return",
    f"ssh-ed25519 {_ED25519[:-1]}",                       # not valid base64
])
def test_malformed_host_keys_are_refused(host_key):
    with pytest.raises(ConfigError) as err:
        parse_stack_config(_with(("cluster", "servers", 0, "hostKey"), host_key))
    assert err.value.problems[0].startswith("cluster.servers[0].hostKey: ")
