"""The engine rules of tools/imitations/engine_rules.py on hand-made registrations: the diff-rules
table, replaceOnChanges, deleteBeforeReplace, protect, retainOnDelete, aliases, providers,
host-side deletes, and the secrecy of the report."""

from dataclasses import replace

import pytest
from pulumi.runtime import rpc

from components.network.resources import PfSenseApplyProvider, PfSenseObjectProvider
from tools.imitations.engine_rules import (
    CREATE,
    CREATE_REPLACEMENT,
    DELETE,
    DELETE_REPLACED,
    REPLACE,
    SAME,
    UPDATE,
    change_report,
    diff_resource,
    diff_runs,
    rule_for,
)
from tools.imitations.harness import Registration, StackRun

STACK = "urn:pulumi:dev::k3s-platform::"
UNINSTALL = "#!/bin/sh\n# Uninstall k3s agent from w9.\n/usr/local/bin/k3s-agent-uninstall.sh\n"


def reg(type_, name, inputs, parent=None, **kw) -> Registration:
    chain = type_ if parent is None else f"{parent.split('::')[2]}${type_}"
    return Registration(urn=f"{STACK}{chain}::{name}", type=type_, name=name,
                        parent=parent, custom=kw.pop("custom", True), provider=kw.pop("provider", None),
                        dependencies=[], property_dependencies={}, inputs=inputs, **kw)


def command(name="k3s-w9-install", **inputs):
    base = {"connection": rpc.wrap_rpc_secret({"host": "192.168.10.29", "user": "k3s", "privateKey": "KEY"}),
            "create": "install", "update": "install", "delete": UNINSTALL, "triggers": ["h1"]}
    return reg("command:remote:Command", name, {**base, **inputs}, replace_on_changes=["triggers[*]"])


def one(old, new):
    return diff_resource(old, new)


# --- pulumi-command: only triggers replaces ----------------------------------------------------


def test_command_trigger_change_replaces_and_runs_the_delete_script_on_the_host():
    step = one(command(), command(triggers=["h2"]))
    assert step.op == REPLACE and step.replace_keys == ("triggers",)
    assert step.order == (CREATE_REPLACEMENT, DELETE_REPLACED)
    assert step.destructive == "host 192.168.10.29: Uninstall k3s agent from w9."
    assert step.fails_change


def test_command_provider_replaces_on_triggers_even_without_the_sdk_option():
    # pulumi-command's own diff replaces on `triggers`; the SDK's replaceOnChanges only repeats it.
    old = replace(command(), replace_on_changes=[])
    step = one(old, replace(old, inputs={**old.inputs, "triggers": ["h2"]}))
    assert step.op == REPLACE and step.replace_keys == ("triggers",)
    copy = reg("command:remote:CopyToRemote", "cfg", {"remotePath": "/a", "triggers": ["h1"]})
    assert one(copy, replace(copy, inputs={"remotePath": "/a", "triggers": ["h2"]})).op == REPLACE
    assert one(copy, replace(copy, inputs={"remotePath": "/b", "triggers": ["h1"]})).op == UPDATE


@pytest.mark.parametrize("key", ["create", "update", "delete", "stdin", "environment", "logging"])
def test_command_other_inputs_update(key):
    step = one(command(), command(**{key: "something else"}))
    assert step.op == UPDATE and not step.destructive and not step.fails_change


def test_command_connection_change_updates_and_is_reported_without_values():
    new = command(connection=rpc.wrap_rpc_secret({"host": "192.168.10.29", "user": "k3s", "privateKey": "KEY2"}))
    step = one(command(), new)
    assert step.op == UPDATE and step.changed == ("connection",)
    text = change_report([step], "t").text()
    assert "KEY" not in text and "changed: connection" in text


def test_replace_on_changes_of_the_registration_applies_to_any_type():
    old = reg("example:index:Thing", "t", {"size": 1, "label": "a"}, replace_on_changes=["size"])
    assert one(old, replace(old, inputs={"size": 2, "label": "a"})).op == REPLACE
    assert one(old, replace(old, inputs={"size": 1, "label": "b"})).op == UPDATE
    assert one(old, old).op == SAME
    # The same change without the option: an update (the type has no replacing rule).
    bare = replace(old, replace_on_changes=[])
    assert one(bare, replace(bare, inputs={"size": 2, "label": "a"})).op == UPDATE


def test_ignore_changes_hides_a_nested_change():
    old = replace(deployment(), ignore_changes=["spec.replicas"])
    assert one(old, replace(deployment(replicas=5), ignore_changes=["spec.replicas"])).op == SAME
    assert one(old, replace(deployment(selector="x"), ignore_changes=["spec.replicas"])).op == REPLACE


def test_delete_before_replace_orders_the_delete_first():
    old = replace(command(), delete_before_replace=True)
    step = one(old, replace(old, inputs={**old.inputs, "triggers": ["h2"]}))
    assert step.order == (DELETE_REPLACED, CREATE_REPLACEMENT)


def test_dependents_of_a_delete_before_replace_are_replaced_when_their_inputs_would_force_it():
    key = reg("pulumi-python:dynamic/network:PfSenseObject", "obj", {**_pf_inputs(), "naturalKey": "aa"})
    moved = replace(key, inputs={**_pf_inputs(), "naturalKey": "bb"})
    via_trigger = replace(command("uses-trigger"), property_dependencies={"triggers": [key.urn]})
    via_script = replace(command("uses-script"), property_dependencies={"create": [key.urn]})
    only_ordered = replace(command("after"), dependencies=[key.urn])
    steps = {s.name: s for s in diff_runs(StackRun("d", [key, via_trigger, via_script, only_ordered]),
                                          StackRun("d", [moved, via_trigger, via_script, only_ordered]))}
    assert steps["obj"].op == REPLACE and steps["obj"].order[0] == DELETE_REPLACED
    assert steps["uses-trigger"].op == REPLACE and steps["uses-trigger"].destructive
    # Its script is unknown in the preview: an update there (the engine's own preview agrees:
    # tests/engine/test_unknown_inputs.py), never a replace; mere ordering changes nothing.
    assert steps["uses-script"].op == UPDATE and steps["after"].op == SAME


def test_retain_on_delete_is_not_destructive():
    old = replace(command(), retain_on_delete=True)
    step = one(old, replace(old, inputs={**old.inputs, "triggers": ["h2"]}))
    assert step.op == REPLACE and step.destructive is None and not step.fails_change


# --- protect --------------------------------------------------------------------------------


def test_protected_resource_cannot_be_replaced_or_deleted():
    old = replace(command(), protect=True)
    step = one(old, replace(old, inputs={**old.inputs, "triggers": ["h2"]}))
    assert step.error and "protect" in step.error and step.fails_change
    [gone] = diff_runs(StackRun("dev", [old]), StackRun("dev", []))
    assert gone.op == DELETE and gone.error and gone.fails_change
    # Dropping protect in the same change lets the replace through (the engine checks old and new).
    assert not one(old, replace(old, protect=False, inputs={**old.inputs, "triggers": ["h2"]})).error
    # An update of a protected resource is fine.
    assert not one(old, replace(old, inputs={**old.inputs, "create": "x"})).fails_change


def test_a_host_delete_of_a_removed_resource_is_flagged_but_not_a_failure():
    [gone] = diff_runs(StackRun("dev", [command()]), StackRun("dev", []))
    assert gone.op == DELETE and gone.destructive.startswith("host 192.168.10.29")
    assert not gone.fails_change


# --- kubernetes ------------------------------------------------------------------------------


def deployment(selector="web", replicas=1, name="web"):
    return reg("kubernetes:apps/v1:Deployment", name, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "t"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": selector}}}})


def test_kubernetes_immutable_fields_replace_the_rest_updates():
    assert one(deployment(), deployment(replicas=3)).op == UPDATE
    step = one(deployment(), deployment(selector="other"))
    assert step.op == REPLACE and step.replace_keys == ("spec.selector.matchLabels.app",)
    renamed = deployment(name="web2")
    assert one(deployment(), replace(renamed, urn=deployment().urn)).op == REPLACE


@pytest.mark.parametrize("kind,api,old,new,op", [
    ("Service", "v1", {"spec": {"clusterIP": "10.0.0.1"}}, {"spec": {"clusterIP": "10.0.0.2"}}, REPLACE),
    ("Service", "v1", {"spec": {"ports": [{"port": 80}]}}, {"spec": {"ports": [{"port": 81}]}}, UPDATE),
    ("Job", "batch/v1", {"spec": {"template": {"a": 1}}}, {"spec": {"template": {"a": 2}}}, REPLACE),
    ("RoleBinding", "rbac.authorization.k8s.io/v1", {"roleRef": {"name": "a"}}, {"roleRef": {"name": "b"}}, REPLACE),
    ("RoleBinding", "rbac.authorization.k8s.io/v1", {"subjects": [{"name": "a"}]}, {"subjects": [{"name": "b"}]},
     UPDATE),
    ("PersistentVolumeClaim", "v1", {"spec": {"resources": {"requests": {"storage": "1Gi"}}}},
     {"spec": {"resources": {"requests": {"storage": "2Gi"}}}}, UPDATE),
    ("PersistentVolumeClaim", "v1", {"spec": {"storageClassName": "a"}}, {"spec": {"storageClassName": "b"}},
     REPLACE),
    ("Secret", "v1", {"data": {"k": "a"}}, {"data": {"k": "b"}}, UPDATE),
    ("Secret", "v1", {"immutable": True, "data": {"k": "a"}}, {"immutable": True, "data": {"k": "b"}}, REPLACE),
    ("ConfigMap", "v1", {"immutable": True, "data": {"k": "a"}}, {"immutable": True, "data": {"k": "b"}}, REPLACE),
    # pulumi-kubernetes replaces a ConfigMap on a data change unless enableConfigMapMutable.
    ("ConfigMap", "v1", {"data": {"k": "a"}}, {"data": {"k": "b"}}, REPLACE),
])
def test_kubernetes_kind_rules(kind, api, old, new, op):
    group = api.rpartition("/")[0] or "core"
    type_ = f"kubernetes:{group}/{api.rpartition('/')[2]}:{kind}"
    meta = {"apiVersion": api, "kind": kind, "metadata": {"name": "x", "namespace": "t"}}
    a = reg(type_, "x", {**meta, **old})
    assert one(a, replace(a, inputs={**meta, **new})).op == op


# --- our dynamic providers: the table must agree with their own diff -----------------------------


def _pf_inputs():
    return {"apiUrl": "https://r", "verifyTls": True, "caBundle": "", "timeoutSeconds": 15.0, "retries": 3.0,
            "applyTimeoutSeconds": 120.0, "apiKey": "k", "kind": "dhcp_static", "naturalKey": "aa:bb",
            "payload": {"ipaddr": "10.0.0.1"}, "__provider": "pickled"}


@pytest.mark.parametrize("key,value", [("kind", "dns_override"), ("naturalKey", "cc"), ("apiUrl", "https://s"),
                                       ("apiUrl", "https://r:8443"), ("apiUrl", "https://R/"),
                                       ("payload", {"ipaddr": "10.0.0.2"}), ("retries", 5.0),
                                       ("__provider", "other pickle")])
def test_pfsense_object_rule_matches_its_provider(key, value):
    olds, news = _pf_inputs(), {**_pf_inputs(), key: value}
    truth = PfSenseObjectProvider().diff("id", olds, news)
    old = reg("pulumi-python:dynamic/network:PfSenseObject", "o", olds)
    step = one(old, replace(old, inputs=news))
    expected = REPLACE if truth.replaces else UPDATE if truth.changes else SAME
    assert step.op == expected
    if truth.replaces:
        assert set(step.replace_keys) == set(truth.replaces)
        assert (step.order[0] == DELETE_REPLACED) == bool(truth.delete_before_replace)


@pytest.mark.parametrize("key,value", [("subsystem", "haproxy"), ("objectsHash", "h2"), ("apiUrl", "https://s"),
                                       ("apiUrl", "https://r:8443"),
                                       ("objects", [{"kind": "x"}]), ("apiKey", "k2")])
def test_pfsense_apply_rule_matches_its_provider(key, value):
    base = {**{k: v for k, v in _pf_inputs().items() if k not in ("kind", "naturalKey", "payload")},
            "subsystem": "dhcp", "objects": [], "objectsHash": "h1"}
    news = {**base, key: value}
    truth = PfSenseApplyProvider().diff("id", base, news)
    old = reg("pulumi-python:dynamic/network:PfSenseApply", "a", base)
    expected = REPLACE if truth.replaces else UPDATE if truth.changes else SAME
    assert one(old, replace(old, inputs=news)).op == expected


@pytest.mark.parametrize("type_", ["random:index/randomPassword:RandomPassword", "tls:index/privateKey:PrivateKey"])
def test_random_and_tls_replace_on_any_change(type_):
    old = reg(type_, "r", {"length": 64.0})
    assert rule_for(type_) is not None
    assert one(old, replace(old, inputs={"length": 32.0})).op == REPLACE


# --- matching: URNs, aliases, parents, providers -----------------------------------------------


def test_rename_with_alias_is_matched_without_alias_is_delete_and_create():
    old = command("k3s-w9-install")
    renamed = command("k3s-node-w9-install")
    aliased = replace(renamed, aliases=[old.urn])
    assert [s.op for s in diff_runs(StackRun("d", [old]), StackRun("d", [aliased]))] == [SAME]
    ops = sorted(s.op for s in diff_runs(StackRun("d", [old]), StackRun("d", [renamed])))
    assert ops == [CREATE, DELETE]


def test_parent_change_without_alias_is_delete_and_create_and_parent_alias_is_inherited():
    comp_a = reg("k3s-platform:cluster:K3sCluster", "k3s", {}, custom=False)
    comp_b = reg("k3s-platform:cluster:NodeSet", "k3s", {}, custom=False)
    child_a = reg("command:remote:Command", "c", command().inputs, parent=comp_a.urn)
    child_b = reg("command:remote:Command", "c", command().inputs, parent=comp_b.urn)
    steps = diff_runs(StackRun("d", [comp_a, child_a]), StackRun("d", [comp_b, child_b]))
    assert sorted((s.op, s.name) for s in steps) == [(CREATE, "c"), (CREATE, "k3s"), (DELETE, "c"), (DELETE, "k3s")]
    # Aliasing the parent carries its children along, as the engine does.
    steps = diff_runs(StackRun("d", [comp_a, child_a]),
                      StackRun("d", [replace(comp_b, aliases=[comp_a.urn]), child_b]))
    assert sorted((s.op, s.name) for s in steps) == [(SAME, "c"), (SAME, "k3s")]


def kubeconfig(server):
    return ("apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- {name: c, context: {cluster: k}}\n"
            f"clusters:\n- name: k\n  cluster: {{server: '{server}'}}\nusers: []\n")


def test_configmap_data_updates_when_the_provider_makes_configmaps_mutable():
    meta = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "t"}}
    a = reg("kubernetes:core/v1:ConfigMap", "x", {**meta, "data": {"k": "a"}})
    b = replace(a, inputs={**meta, "data": {"k": "b"}})
    mutable = {"kubeconfig": kubeconfig("https://a:6443"), "enableConfigMapMutable": True}
    assert one(a, b).op == REPLACE
    assert diff_resource(a, b, provider_inputs=(mutable, mutable)).op == UPDATE


def test_provider_reference_change_replaces_only_when_the_new_config_points_elsewhere():
    # pulumi 3.272 providerChanged: the new provider's DiffConfig decides.
    old = replace(deployment(), provider=f"{STACK}pulumi:providers:kubernetes::a")
    new = replace(deployment(), provider=f"{STACK}pulumi:providers:kubernetes::b")
    same_cluster = ({"kubeconfig": kubeconfig("https://a:6443")}, {"kubeconfig": kubeconfig("https://a:6443")})
    other_cluster = ({"kubeconfig": kubeconfig("https://a:6443")}, {"kubeconfig": kubeconfig("https://b:6443")})
    assert diff_resource(old, new, provider_inputs=same_cluster).op == SAME
    step = diff_resource(old, new, provider_inputs=other_cluster)
    assert step.op == REPLACE and step.replace_keys == ("provider",)
    # From the default provider (ambient kubeconfig) to an explicit one: replaced.
    assert diff_resource(replace(old, provider=None), new, provider_inputs=(None, same_cluster[1])).op == REPLACE


def test_a_replaced_kubernetes_provider_replaces_everything_it_manages():
    prov_old = reg("pulumi:providers:kubernetes", "k", {"kubeconfig": kubeconfig("https://a:6443")})
    prov_new = replace(prov_old, inputs={"kubeconfig": kubeconfig("https://b:6443")})
    dep = replace(deployment(), provider=prov_old.urn)
    steps = {s.name: s for s in diff_runs(StackRun("d", [prov_old, dep]), StackRun("d", [prov_new, dep]))}
    assert steps["k"].op == REPLACE and steps["web"].op == REPLACE
    assert steps["web"].replace_keys == ("provider",)
    # A kubeconfig change that keeps the cluster (new user credentials) only updates.
    renewed = replace(prov_old, inputs={"kubeconfig": kubeconfig("https://a:6443") + "# rotated\n"})
    steps = {s.name: s for s in diff_runs(StackRun("d", [prov_old, dep]), StackRun("d", [renewed, dep]))}
    assert steps["k"].op == UPDATE and steps["web"].op == SAME


def test_report_lists_destructive_first_with_counts_and_never_values():
    secret_old = command("s", stdin=rpc.wrap_rpc_secret("token-1"))
    secret_new = command("s", stdin=rpc.wrap_rpc_secret("token-2"))
    steps = [one(command(), command(triggers=["h2"])), one(secret_old, secret_new)]
    text = change_report(steps, "title").text()
    lines = text.splitlines()
    assert lines[0] == "title"
    assert lines[1].startswith("steps: 1 replace, 0 delete, 0 create, 1 update")
    assert lines[2] == "destructive (1):" and "DESTRUCTIVE-ON-HOST host 192.168.10.29" in lines[3]
    assert "token-" not in text and "KEY" not in text
    assert change_report(steps, "t").failed
