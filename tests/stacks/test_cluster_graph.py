"""Both stacks under Pulumi's mocks: the k3s part of the resource graph as the engine sees it."""

import pulumi
from pulumi.runtime import rpc

from tools.imitations.harness import run_stack

CMD = "command:remote:Command"


def reg(run, name):
    [found] = [r for r in run.registrations if r.name == name]
    return found


def deps(run, name):
    return {d.split("::")[-1] for d in reg(run, name).dependencies}


def installs(run):
    return sorted(r.name for r in run.by_type(CMD) if r.name.endswith("-install"))


def test_node_counts(dev_run, prod_run):
    assert installs(dev_run) == ["k3s-cluster-lab1-install"]
    assert len(installs(prod_run)) == 5
    assert len(prod_run.by_type("command:remote:CopyToRemote")) == 5


def test_servers_join_one_at_a_time(prod_run):
    assert "k3s-cluster-cp1-install" in deps(prod_run, "k3s-cluster-cp2-install")
    assert "k3s-cluster-cp2-install" in deps(prod_run, "k3s-cluster-cp3-install")
    assert not any(d.endswith("-install") for d in deps(prod_run, "k3s-cluster-cp1-install"))


def test_agents_need_only_the_first_server(prod_run):
    for agent in ("w1", "w2"):
        d = deps(prod_run, f"k3s-cluster-{agent}-install")
        assert "k3s-cluster-cp1-install" in d
        assert not {"k3s-cluster-cp2-install", "k3s-cluster-cp3-install"} & d


def test_upgrades_run_servers_in_order_then_agents(prod_run):
    assert "k3s-cluster-cp1-upgrade" in deps(prod_run, "k3s-cluster-cp2-upgrade")
    assert "k3s-cluster-cp2-upgrade" in deps(prod_run, "k3s-cluster-cp3-upgrade")
    for agent in ("w1", "w2"):
        assert "k3s-cluster-cp3-upgrade" in deps(prod_run, f"k3s-cluster-{agent}-upgrade")
    for server in ("cp1", "cp2", "cp3"):
        assert not any(d.startswith("k3s-cluster-w") for d in deps(prod_run, f"k3s-cluster-{server}-upgrade"))


def test_no_remote_step_carries_triggers(dev_run, prod_run):
    # pulumi-command replaces a step whose `triggers` change, and a replaced install step
    # runs its delete (the uninstall) on the same host. Changes travel as script text
    # instead, which the provider diffs as an update (ADR 0002).
    for run in (dev_run, prod_run):
        for r in run.registrations:
            if r.type.startswith("command:remote:"):
                assert not r.inputs.get("triggers"), r.name


def test_every_change_is_an_update_that_reruns_the_script(prod_run):
    upgrade = reg(prod_run, "k3s-cluster-cp1-upgrade").inputs
    assert upgrade["update"] == upgrade["create"] and "target='v1.34.2+k3s1'" in upgrade["create"]
    install = reg(prod_run, "k3s-cluster-cp1-install").inputs
    assert install["update"] == install["create"] and install["delete"].startswith("#!/bin/sh")
    config = reg(prod_run, "k3s-cluster-cp1-config").inputs["source"].text
    assert render_sha(config) in install["create"]  # a config change changes the script text


def render_sha(text):
    from components.cluster.render import sha256
    return sha256(text)


def test_previous_output_never_sent_to_hosts(dev_run, prod_run):
    for run in (dev_run, prod_run):
        for r in run.by_type(CMD):
            assert r.inputs.get("addPreviousOutputInEnv") is False, r.name


def test_node_leaves_through_its_member_step_on_the_first_server(prod_run):
    # Removing a node deletes its member step (drain + delete Node, on cp1) before its
    # install step (uninstall, on the node): the member depends on the install.
    for node in ("cp2", "w1"):
        member = reg(prod_run, f"k3s-cluster-{node}-member")
        assert f"k3s-cluster-{node}-install" in deps(prod_run, f"k3s-cluster-{node}-member")
        assert f"node='{node}'" in member.inputs["delete"] and 'delete node "$node"' in member.inputs["delete"]
        assert member.protect
    first = reg(prod_run, "k3s-cluster-cp1-install")
    w1 = reg(prod_run, "k3s-cluster-w1-member")
    assert w1.inputs["connection"] == first.inputs["connection"]


def test_kubernetes_waits_for_every_node_and_the_endpoint(prod_run):
    # The provider is registered — and so configured by the engine — only after these.
    d = deps(prod_run, "k3s-cluster-provider")
    for node in ("cp1", "cp2", "cp3", "w1", "w2"):
        assert f"k3s-cluster-{node}-member" in d and f"k3s-cluster-{node}-upgrade" in d
    assert {"k3s-router-apply-dns", "k3s-router-apply-haproxy"} <= d


def test_install_steps_are_protected_in_prod_only(dev_run, prod_run):
    assert all(r.protect for r in prod_run.by_type(CMD) if r.name.endswith(("-install", "-member")))
    assert not any(r.protect for r in dev_run.by_type(CMD))


def test_token_and_connection_are_secret(prod_run):
    for r in prod_run.by_type(CMD):
        assert rpc.is_rpc_secret(r.inputs["connection"]), r.name
        if r.name.endswith("-install"):
            assert rpc.is_rpc_secret(r.inputs["stdin"]), r.name
            assert r.inputs["logging"] != "stdoutAndStderr"
        if r.name.endswith("-cas"):  # the CA keys travel on stdin only
            assert rpc.is_rpc_secret(r.inputs["stdin"]), r.name
            assert r.inputs["logging"] != "stdoutAndStderr"


def test_provider_kubeconfig_is_built_from_the_cluster_cas_not_read(dev_run, prod_run):
    for run in (dev_run, prod_run):
        [provider] = run.by_type("pulumi:providers:kubernetes")
        assert rpc.is_rpc_secret(provider.inputs["kubeconfig"])
        sources = {d.split("::")[-1] for d in provider.property_dependencies["kubeconfig"]}
        assert sources == {"k3s-cluster-server-ca", "k3s-cluster-program-cert", "k3s-cluster-program-key"}
        assert not [r for r in run.registrations if r.name == "k3s-cluster-kubeconfig"]
        assert not any("k3s.yaml" in str(r.inputs.get("create", "")) for r in run.by_type(CMD))


def test_cluster_cas_are_protected_and_placed_on_every_server_before_its_install(prod_run):
    cas = [r for r in prod_run.registrations if r.type.startswith("tls:") and r.name.startswith("k3s-cluster-")
           and not r.name.startswith("k3s-cluster-program-")]
    assert {r.name for r in cas} == {f"k3s-cluster-{ca}{part}" for ca in (
        "server-ca", "client-ca", "request-header-ca", "etcd-peer-ca", "etcd-server-ca") for part in ("", "-key")} | {
        "k3s-cluster-service-account-key"}
    assert all(r.protect for r in cas)
    for node in ("cp1", "cp2", "cp3"):
        assert f"k3s-cluster-{node}-cas" in deps(prod_run, f"k3s-cluster-{node}-install")
        stdin_from = {d.split("::")[-1] for d in reg(prod_run, f"k3s-cluster-{node}-cas").property_dependencies["stdin"]}
        assert "k3s-cluster-client-ca-key" in stdin_from and "k3s-cluster-service-account-key" in stdin_from
    assert not [r for r in prod_run.registrations if r.name in ("k3s-cluster-w1-cas", "k3s-cluster-w2-cas")]


def test_every_kubernetes_resource_uses_the_cluster_provider(dev_run, prod_run):
    for run in (dev_run, prod_run):
        [provider] = run.by_type("pulumi:providers:kubernetes")
        k8s = [r for r in run.registrations if r.custom and r.type.startswith("kubernetes:")]
        for r in k8s:
            assert r.provider == provider.urn, f"{r.name} does not use the cluster provider"


def test_kubeconfig_output_is_secret_and_names_the_api_endpoint():
    from components.config import read_stack_config
    from components.stack import Platform

    def program():
        cfg, secrets = read_stack_config()
        platform = Platform("k3s", cfg, secrets)
        out = platform.cluster.kubeconfig

        async def check():
            assert await out.is_secret()
            return await out.future()

        return pulumi.Output.from_input(check())

    run = run_stack("prod", program=program)
    assert "server: https://k8s.home.example.org:6443" in run.outputs["returned"]


def test_joiners_use_the_first_servers_ca_pinned_token(dev_run, prod_run):
    # A plain secret lets anything answering at apiHostname collect it; the K10 form makes
    # each joiner verify the cluster CA first.
    read = reg(prod_run, "k3s-cluster-join-token")
    assert "k3s-cluster-cp1-install" in deps(prod_run, "k3s-cluster-join-token")
    assert read.inputs["logging"] == "none"
    for node in ("cp2", "cp3", "w1", "w2"):
        stdin_from = {d.split("::")[-1] for d in reg(prod_run, f"k3s-cluster-{node}-install").property_dependencies["stdin"]}
        assert stdin_from == {"k3s-cluster-join-token"}, node
        assert rpc.is_rpc_secret(reg(prod_run, f"k3s-cluster-{node}-install").inputs["stdin"])
    first = {d.split("::")[-1] for d in reg(prod_run, "k3s-cluster-cp1-install").property_dependencies["stdin"]}
    assert first == {"k3s-cluster-token"}
    assert not [r for r in dev_run.registrations if r.name.endswith("-join-token")]


def test_no_remote_step_sends_environment(dev_run, prod_run):
    # pulumi-command sends `environment` with SSH Setenv; a stock sshd (Debian, Ubuntu:
    # AcceptEnv LANG LC_*) refuses it and the command fails. Generations travel in the text.
    for run in (dev_run, prod_run):
        steps = [r for r in run.registrations if r.type.startswith("command:remote:")]
        assert steps
        for r in steps:
            assert not r.inputs.get("environment"), r.name


def test_provider_has_a_stable_cluster_identifier(dev_run, prod_run):
    # pulumi-kubernetes replaces its provider (and every object on it) when the kubeconfig is
    # computed, unless a clusterIdentifier is set and unchanged.
    for run, stack in ((dev_run, "dev"), (prod_run, "prod")):
        [provider] = run.by_type("pulumi:providers:kubernetes")
        assert provider.inputs["clusterIdentifier"] == f"k3s-platform/k3s-platform/{stack}/k3s-cluster"


def test_cluster_token_is_protected_and_never_regenerated(dev_run, prod_run):
    for run in (dev_run, prod_run):
        [token] = run.by_type("random:index/randomPassword:RandomPassword")
        assert token.protect is True
        assert set(token.ignore_changes) >= {"length", "special"}


def test_members_are_removed_one_server_at_a_time_first_server_last(prod_run):
    # A destroy deletes a resource before what it depends on: members chained this way are
    # removed cp3, cp2, then cp1 (agents before cp1), never two etcd members at once.
    assert "k3s-cluster-cp1-member" in deps(prod_run, "k3s-cluster-cp2-member")
    assert "k3s-cluster-cp2-member" in deps(prod_run, "k3s-cluster-cp3-member")
    for agent in ("w1", "w2"):
        assert "k3s-cluster-cp1-member" in deps(prod_run, f"k3s-cluster-{agent}-member")
    assert not any(d.endswith("-member") for d in deps(prod_run, "k3s-cluster-cp1-member"))


def test_haproxy_sends_ingress_only_to_the_nodes_traefik_runs_on(prod_run):
    backends = {r.name: r.inputs["payload"] for r in prod_run.registrations
                if r.name in ("k3s-router-haproxy-backend-ingress-http", "k3s-router-haproxy-backend-ingress-https")}
    assert len(backends) == 2
    for payload in backends.values():
        assert sorted(s["address"] for s in payload["servers"]) == ["192.168.30.21", "192.168.30.22"]
    [traefik] = [r for r in prod_run.by_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "traefik"]
    [term] = traefik.inputs["values"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert term["matchExpressions"][0]["values"] == ["w1", "w2"]


def test_adopted_cas_are_read_once_and_sign_the_same_kubeconfigs(tmp_path):
    """`certificateAuthorities: adopt`: no CA resources and no placement step; one create-only
    read on the first server after its install; the provider and the people's certificates
    take the adopted client CA."""
    import yaml

    from tools.paths import ROOT

    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    doc["config"]["k3s-platform:cluster"]["certificateAuthorities"] = "adopt"
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    run = run_stack("prod", path)
    assert not [r for r in run.registrations if r.name.startswith("k3s-cluster-")
                and (r.name.endswith("-cas") or r.name.endswith("-ca-key"))]
    read = reg(run, "k3s-cluster-cas-read")
    assert "update" not in read.inputs and read.inputs["logging"] == "none"
    assert "k3s-cluster-cp1-install" in deps(run, "k3s-cluster-cas-read")
    signed = {d.split("::")[-1] for d in reg(run, "k3s-people-carol-cert").property_dependencies["caPrivateKeyPem"]}
    assert signed == {"k3s-cluster-cas-read"}
    [provider] = run.by_type("pulumi:providers:kubernetes")
    assert "k3s-cluster-cas-read" in {d.split("::")[-1] for d in provider.property_dependencies["kubeconfig"]}


def test_token_generation_two_rotates_the_first_server_before_any_node_gets_it(tmp_path):
    import yaml

    from tools.paths import ROOT

    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    doc["config"]["k3s-platform:cluster"]["tokenGeneration"] = 2
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    run = run_stack("prod", path)
    tokens = {r.name: r for r in run.by_type("random:index/randomPassword:RandomPassword")}
    assert set(tokens) == {"k3s-cluster-token", "k3s-cluster-token-2"}  # the first keeps its name
    assert all(t.protect for t in tokens.values())
    rotate = reg(run, "k3s-cluster-token-rotate")
    assert rpc.is_rpc_secret(rotate.inputs["stdin"])
    assert {d.split("::")[-1] for d in rotate.property_dependencies["stdin"]} == set(tokens)
    assert rotate.inputs["connection"] == reg(run, "k3s-cluster-cp1-install").inputs["connection"]
    for node in ("cp1", "cp2", "cp3", "w1", "w2"):
        assert "k3s-cluster-token-rotate" in deps(run, f"k3s-cluster-{node}-install"), node
    first = {d.split("::")[-1] for d in reg(run, "k3s-cluster-cp1-install").property_dependencies["stdin"]}
    assert first == {"k3s-cluster-token-2"}
    join = {d.split("::")[-1] for d in reg(run, "k3s-cluster-join-token").property_dependencies["stdin"]}
    assert join == {"k3s-cluster-token-2"}  # re-read after the rotation: joiners get the new one


def _marked_dead(tmp_path, server):
    import yaml

    from tools.paths import ROOT

    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    for node in doc["config"]["k3s-platform:cluster"]["servers"]:
        if node["name"] == server:
            node["dead"] = True
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return run_stack("prod", path)


def test_a_dead_first_server_never_runs_its_member_delete_on_itself(tmp_path):
    run = _marked_dead(tmp_path, "cp1")
    assert reg(run, "k3s-cluster-cp1-member").retain_on_delete
    assert reg(run, "k3s-cluster-cp1-install").retain_on_delete
    assert not reg(run, "k3s-cluster-cp2-member").retain_on_delete


def test_a_dead_other_server_is_still_removed_from_the_first_one(tmp_path):
    run = _marked_dead(tmp_path, "cp3")
    assert not reg(run, "k3s-cluster-cp3-member").retain_on_delete  # runs on cp1: deletes the Node
    assert reg(run, "k3s-cluster-cp3-install").retain_on_delete
