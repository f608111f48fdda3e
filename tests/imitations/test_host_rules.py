"""The change mode refuses what the engine would run but k3s or the router cannot take."""

from __future__ import annotations

import pytest
import yaml

from tests.network.legacy_names import mappings_named_by_node
from tools.imitations.engine_rules import diff_runs
from tools.imitations.harness import run_stack
from tools.paths import ROOT


def changed(tmp_path, stack, edit, base=None):
    """The change mode's steps from the stack file (after `base`, when given) to it after `edit`."""
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    old = None
    if base is not None:
        base(doc["config"])
        old = tmp_path / f"{stack}-base.yaml"
        old.write_text(yaml.safe_dump(doc, sort_keys=False))
    edit(doc["config"])
    path = tmp_path / f"{stack}-changed.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return diff_runs(run_stack(stack, old) if old else run_stack(stack), run_stack(stack, path))


def errors(steps):
    return [s.error for s in steps if s.error]


@pytest.mark.parametrize("key, value", [("podCidr", "10.52.0.0/16"), ("serviceCidr", "10.53.0.0/16"),
                                        ("secretsEncryption", False)])
def test_settings_k3s_fixes_at_creation_are_refused(tmp_path, key, value):
    steps = changed(tmp_path, "prod", lambda c: c["k3s-platform:cluster"].update({key: value}))
    found = errors(steps)
    assert found and all("k3s cannot change" in e for e in found), found
    assert len(found) == 3  # one per server: agents do not carry these settings


def test_an_ordinary_change_is_not_refused(tmp_path):
    steps = changed(tmp_path, "prod", lambda c: c["k3s-platform:cluster"]["agents"][0].update(
        {"labels": {"tier": "edge"}}))
    assert errors(steps) == []


def _router_steps(steps):
    return {s.name: s for s in steps if s.type.startswith("pulumi-python:dynamic/network:")}


def _rename_w1(c):
    c["k3s-platform:cluster"]["agents"][0]["name"] = "w9"


W1_MAPPING = "k3s-router-dhcp-52-54-00-10-00-21"  # prod's w1, named by its MAC


def test_renaming_a_node_updates_its_dhcp_mapping_in_place(tmp_path):
    # The mapping is named by the node's MAC (its natural key on the router): a rename is an
    # update of its hostname and description, never a create that adopts it plus a delete.
    steps = changed(tmp_path, "prod", _rename_w1)
    router = _router_steps(steps)
    assert router[W1_MAPPING].op == "update" and router[W1_MAPPING].changed == ("payload.descr", "payload.hostname")
    assert not [n for n, s in router.items() if s.op in ("create", "delete", "replace")], router
    assert not [e for e in errors(steps) if "same pfSense object" in e or "would move" in e], errors(steps)


def test_a_new_mac_is_a_new_mapping_and_the_old_one_goes(tmp_path):
    # Another MAC is another natural key, so another resource: the engine creates the new
    # mapping and deletes the old one. Nothing is adopted, so nothing is refused.
    steps = changed(tmp_path, "prod", lambda c: c["k3s-platform:cluster"]["agents"][0].update(
        {"mac": "52:54:00:10:00:29"}))
    router = {n: s.op for n, s in _router_steps(steps).items() if s.op != "same"}
    assert router == {"k3s-router-dhcp-52-54-00-10-00-29": "create", W1_MAPPING: "delete",
                      "k3s-router-apply-dhcp": "update"}, router
    assert errors(steps) == []


def test_a_stack_with_mappings_named_by_node_moves_to_the_mac_names_through_aliases(tmp_path):
    with mappings_named_by_node():
        old = run_stack("prod")
    assert "k3s-router-dhcp-w1" in {r.name for r in old.registrations}
    steps = diff_runs(old, run_stack("prod"))
    assert {s.op for s in steps} == {"same"}, sorted((s.op, s.name) for s in steps if s.op != "same")
    mapping = _router_steps(steps)[W1_MAPPING]
    assert mapping.old_urn and mapping.old_urn.endswith("$pulumi-python:dynamic/network:PfSenseObject::k3s-router-dhcp-w1")
    assert mapping.old_urn.rsplit("::", 1)[0] == mapping.urn.rsplit("::", 1)[0]  # same parent and type


def test_moving_to_the_mac_names_and_renaming_in_one_up_is_refused(tmp_path):
    # The alias is the node's current name: renamed in the same `up`, it names nothing the old
    # state holds, and the create would adopt the mapping the old resource's delete removes.
    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    _rename_w1(doc["config"])
    path = tmp_path / "prod-renamed.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with mappings_named_by_node():
        old = run_stack("prod")
    found = errors(diff_runs(old, run_stack("prod", path)))
    assert any(e.startswith(f"k3s-router-dhcp-w1 and {W1_MAPPING} are the same pfSense object "
                            "(static_mapping:opt<igc1.10>/52:54:00:10:00:21)") for e in found), found


def test_renaming_a_server_on_the_same_host_is_refused(tmp_path):
    def rename(c):
        c["k3s-platform:cluster"]["servers"][2]["name"] = "cp9"

    found = errors(changed(tmp_path, "prod", rename))
    assert any("server cp3 renamed to cp9 on the same host 192.168.30.13" in e
               for e in found), found


def test_replacing_a_server_by_a_new_host_is_not_a_rename(tmp_path):
    def swap(c):
        c["k3s-platform:cluster"]["servers"][2].update(
            {"name": "cp9", "ip": "192.168.30.19", "mac": "52:54:00:10:00:19"})

    found = errors(changed(tmp_path, "prod", swap))
    assert not [e for e in found if "renamed" in e or "same pfSense object" in e], found


def test_a_k3s_upgrade_leaves_the_provider_alone(tmp_path):
    # The provider's kubeconfig is built from the cluster's CAs, not read from a host: no
    # step on a node feeds it, so an upgrade does not touch it.
    steps = changed(tmp_path, "dev", lambda c: c["k3s-platform:cluster"].update({"k3sVersion": "v1.34.3+k3s1"}))
    [provider] = [s for s in steps if s.type == "pulumi:providers:kubernetes"]
    assert provider.op == "same"


def _adopt(c):
    c["k3s-platform:cluster"]["certificateAuthorities"] = "adopt"


def test_a_kubeconfig_from_a_new_source_updates_the_provider_with_a_cluster_identifier(tmp_path):
    # Switching to adopted CAs: the kubeconfig now comes from a read the same run creates, so
    # it is unknown in the preview; pulumi-kubernetes replaces its provider then unless a
    # clusterIdentifier is set and unchanged (seen in the engine tier too).
    steps = changed(tmp_path, "dev", _adopt)
    [provider] = [s for s in steps if s.type == "pulumi:providers:kubernetes"]
    assert provider.op == "update" and "clusterIdentifier is unchanged" in provider.note
    assert not [s for s in steps if s.op == "replace" and s.type.startswith("kubernetes:")]


def test_without_a_cluster_identifier_the_same_change_replaces_every_object(tmp_path, monkeypatch):
    import components.cluster.k3s_cluster as k3s_cluster

    doc = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    _adopt(doc["config"])
    path = tmp_path / "dev-adopt.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    # The same program as before the stable identifier: none on either side.
    monkeypatch.setattr(k3s_cluster, "cluster_identifier", lambda name: None)
    old = run_stack("dev")
    new = run_stack("dev", path)
    steps = diff_runs(old, new)
    [provider] = [s for s in steps if s.type == "pulumi:providers:kubernetes"]
    assert provider.op == "replace" and provider.replace_keys == ("kubeconfig",)
    assert [s for s in steps if s.op == "replace" and s.type.startswith("kubernetes:")]


def test_a_label_change_touches_neither_the_config_nor_the_provider(tmp_path):
    steps = changed(tmp_path, "dev", lambda c: c["k3s-platform:cluster"]["servers"][0].update(
        {"labels": {"tier": "edge"}}))
    moved = {s.name: s.op for s in steps if s.op != "same"}
    assert moved == {"k3s-cluster-lab1-install": "update", "k3s-cluster-lab1-labels": "update"}


def test_a_passed_through_key_fixed_at_creation_is_refused(tmp_path):
    steps = changed(tmp_path, "prod", lambda c: c["k3s-platform:cluster"].update(
        {"k3s": {"server": {"flannel-backend": "wireguard-native"}}}))
    found = errors(steps)
    assert len(found) == 3 and all("k3s cannot change flannel-backend" in e for e in found), found


def test_a_passed_through_key_is_an_update_that_names_the_restart(tmp_path):
    steps = changed(tmp_path, "prod", lambda c: c["k3s-platform:cluster"].update(
        {"k3s": {"agent": {"kubelet-arg": ["max-pods=200"]}}}))
    assert errors(steps) == []
    notes = sorted(s.note for s in steps if s.type == "command:remote:CopyToRemote" and s.op == "update")
    assert notes == ["k3s restarts on w1 for: kubelet-arg", "k3s restarts on w2 for: kubelet-arg"]


def test_the_restart_note_names_a_node_whose_name_has_hyphens(tmp_path):
    def hyphenated(c):
        c["k3s-platform:cluster"]["agents"][0]["name"] = "edge-w-1"
        c["k3s-platform:ingress"]["nodes"] = ["edge-w-1" if n == "w1" else n
                                              for n in c["k3s-platform:ingress"].get("nodes", [])]
    steps = changed(tmp_path, "prod", lambda c: c["k3s-platform:cluster"].update(
        {"k3s": {"agent": {"kubelet-arg": ["max-pods=200"]}}}), base=hyphenated)
    notes = sorted(s.note for s in steps if s.type == "command:remote:CopyToRemote" and s.op == "update")
    assert notes == ["k3s restarts on edge-w-1 for: kubelet-arg", "k3s restarts on w2 for: kubelet-arg"]


def test_one_server_to_three_is_flagged_as_a_datastore_migration(tmp_path):
    def grow(c):
        cluster = c["k3s-platform:cluster"]
        cluster["servers"] += [{"name": "lab2", "ip": "192.168.20.12", "mac": "52:54:00:20:00:12"},
                               {"name": "lab3", "ip": "192.168.20.13", "mac": "52:54:00:20:00:13"}]
        c["k3s-platform:router"]["apiUrl"] = "https://192.168.20.1:8443"  # HAProxy takes 443
        c["k3s-platform:ingress"]["replicas"] = 2

    steps = changed(tmp_path, "dev", grow)
    warnings = [s.warning for s in steps if s.warning]
    assert len(warnings) == 1 and warnings[0].startswith("datastore migration on lab1: "), warnings
    assert "snapshot first" in warnings[0]
    [first] = [s for s in steps if s.warning]
    assert first.name == "k3s-cluster-lab1-config" and first.op == "update"
    from tools.imitations.engine_rules import change_report

    text = change_report(steps, "t").text()
    assert "warnings (1):\n  warning: datastore migration on lab1" in text


def test_an_ordinary_server_change_is_no_migration(tmp_path):
    steps = changed(tmp_path, "prod", lambda c: c["k3s-platform:cluster"].update(
        {"k3s": {"server": {"kubelet-arg": ["max-pods=150"]}}}))
    assert [s.warning for s in steps if s.warning] == []


def test_an_upgrade_across_two_minors_is_refused_and_one_minor_is_not(tmp_path):
    two = changed(tmp_path, "prod", lambda c: c["k3s-platform:cluster"].update({"k3sVersion": "v1.36.0+k3s1"}))
    found = errors(two)
    assert len(found) == 5 and all("skips a minor — upgrade one minor at a time (v1.35 first" in e for e in found)
    one = changed(tmp_path, "prod", lambda c: c["k3s-platform:cluster"].update({"k3sVersion": "v1.35.0+k3s1"}))
    assert errors(one) == []
    assert sorted(s.name for s in one if s.op == "update" and s.name.endswith("-upgrade")) == [
        f"k3s-cluster-{n}-upgrade" for n in ("cp1", "cp2", "cp3", "w1", "w2")]


# --- nodes and VLAN networks (prod's nodes live on the VLAN network `nodes`) ----------------


def _to_lan(c):
    """prod's nodes moved from their VLAN network back to the LAN (same host numbers)."""
    cluster = c["k3s-platform:cluster"]
    cluster["network"] = "lan"
    for node in cluster["servers"] + cluster["agents"]:
        node["ip"] = node["ip"].replace("192.168.30.", "192.168.10.")


def test_moving_the_nodes_to_another_network_is_refused_per_node(tmp_path):
    found = errors(changed(tmp_path, "prod", _to_lan))
    moves = [e for e in found if "would move" in e]
    assert len(moves) == 5, found  # every node's mapping
    assert any("node cp1 would move (address 192.168.30.11 -> 192.168.10.11, interface opt<igc1.10> -> lan)" in e
               and "rebuild" in e for e in moves), moves


def test_re_addressing_one_node_is_refused(tmp_path):
    steps = changed(tmp_path, "prod", lambda c: c["k3s-platform:cluster"]["agents"][1].update({"ip": "192.168.30.29"}))
    found = errors(steps)
    assert len(found) == 1 and "node w2 would move (address 192.168.30.22 -> 192.168.30.29)" in found[0], found


def test_re_addressing_the_nodes_vlan_network_is_refused(tmp_path):
    def move_gateway(c):
        c["k3s-platform:network"]["vlans"][0]["gateway"] = "192.168.30.2"

    found = errors(changed(tmp_path, "prod", move_gateway))
    assert any("the VLAN network on igc1.10 would be re-addressed (192.168.30.1/24 -> 192.168.30.2/24) while nodes "
               "cp1, cp2, cp3, w1, w2 live on it" in e for e in found), found


def test_a_vlan_network_without_nodes_comes_and_goes_freely(tmp_path):
    guests = {"name": "guests", "tag": 20, "parent": "igc1", "cidr": "192.168.40.0/24", "gateway": "192.168.40.1",
              "dhcpRange": {"start": "192.168.40.100", "end": "192.168.40.199"}}
    steps = changed(tmp_path, "prod", lambda c: c["k3s-platform:network"]["vlans"].append(guests))
    created = sorted(s.urn.rsplit("::", 1)[1] for s in steps if s.op == "create")
    assert "k3s-router-iface-guests" in created and "k3s-router-dhcpd-guests" in created, created
    assert "k3s-router-vlan-igc1-20" in created and "k3s-router-fw-vlan-guests-outbound" in created, created
    assert errors(steps) == []
    # ... and its removal deletes just what it added (the nodes' network is untouched).
    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    doc["config"]["k3s-platform:network"]["vlans"].append(guests)
    path = tmp_path / "prod-with-guests.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    back = diff_runs(run_stack("prod", path), run_stack("prod"))
    deleted = sorted(s.urn.rsplit("::", 1)[1] for s in back if s.op == "delete")
    assert deleted == created and errors(back) == [], (deleted, errors(back))
    assert not [s for s in back if s.op in ("update", "replace") and "nodes" in s.urn]


# --- one natural key, two resources: the rule is the router's, not the DHCP mapping's -------


def _pf(name, key, api_url="https://192.168.10.1", kind="firewall_rule"):
    from tools.imitations.harness import Registration

    return Registration(urn=f"urn:pulumi:dev::k3s-platform::pulumi-python:dynamic/network:PfSenseObject::{name}",
                        type="pulumi-python:dynamic/network:PfSenseObject", name=name, parent=None, custom=True,
                        provider=None, dependencies=[], property_dependencies={},
                        inputs={"apiUrl": api_url, "kind": kind, "naturalKey": key, "payload": {"descr": key}})


def _run(*regs):
    from tools.imitations.harness import StackRun

    return StackRun("dev", list(regs))


@pytest.mark.parametrize("kind", ["firewall_rule", "host_override", "haproxy_backend"])
def test_a_delete_of_a_key_another_resource_creates_is_refused_for_any_kind(kind):
    steps = diff_runs(_run(_pf("old-name", f"{kind}:k")), _run(_pf("new-name", f"{kind}:k", kind=kind)))
    ops = {s.name: (s.op, s.error) for s in steps}
    assert ops["new-name"] == ("create", None)
    assert ops["old-name"][0] == "delete" and ops["old-name"][1].startswith(
        f"old-name and new-name are the same pfSense object ({kind}:k): the create adopts it and this delete")


def test_the_same_key_on_another_router_is_another_object():
    steps = diff_runs(_run(_pf("old-name", "firewall_rule:k")),
                      _run(_pf("new-name", "firewall_rule:k", api_url="https://10.0.0.1")))
    assert sorted(s.op for s in steps) == ["create", "delete"] and errors(steps) == []


def test_a_replace_that_deletes_a_key_another_resource_takes_is_refused():
    # Two mappings swap their keys: each replace deletes its old object first, then creates the
    # other's, which the other replace then deletes.
    old = _run(_pf("a", "static_mapping:lan/aa"), _pf("b", "static_mapping:lan/bb"))
    new = _run(_pf("a", "static_mapping:lan/bb"), _pf("b", "static_mapping:lan/aa"))
    steps = {s.name: s for s in diff_runs(old, new)}
    assert steps["a"].op == steps["b"].op == "replace"
    assert "a and b are the same pfSense object (static_mapping:lan/aa)" in steps["a"].error
    assert "b and a are the same pfSense object (static_mapping:lan/bb)" in steps["b"].error


def test_distinct_keys_and_a_replace_of_its_own_key_pass():
    old = _run(_pf("a", "firewall_rule:a"), _pf("gone", "firewall_rule:gone"))
    new = _run(_pf("a", "firewall_rule:a2"), _pf("new", "firewall_rule:new"))
    steps = {s.name: s.op for s in diff_runs(old, new)}
    assert steps == {"a": "replace", "gone": "delete", "new": "create"}
    assert errors(diff_runs(old, new)) == []
