"""The rehearsal lab: a real `pulumi up` of each whole stack on simulated hosts
(tools/lab/rehearsal.py), then the day-2 changes operators make, one scenario per test, in
order, on the same deployed stack. Each scenario is asserted from the engine's events and from
the hosts, the fake router and the API server; each keeps its preview beside its result
(lab-out/<stack>/results/) and checks them against each other and against the offline plan's
change mode (tools/lab/scenario.py)."""

from __future__ import annotations

import copy
import json
import subprocess
import threading
import time
import urllib.request

import pytest

from tests.shared_data import SHARED, serve
from tools.engine import inline
from tools.lab import binaries
from tools.lab import rehearsal as lab
from tools.lab.scenario import rehearse
from tools.paths import ROOT

STACKS = ("dev", "prod")
# An agent to add and remove, and one that dies, per stack (on the nodes' network).
NEW_AGENT = {"dev": {"name": "lab2", "ip": "192.168.20.12", "mac": "52:54:00:20:00:12"},
             "prod": {"name": "w3", "ip": "192.168.30.23", "mac": "52:54:00:10:00:23"}}
DEAD_AGENT = {"dev": {"name": "lab3", "ip": "192.168.20.13", "mac": "52:54:00:20:00:13"},
              "prod": {"name": "w4", "ip": "192.168.30.24", "mac": "52:54:00:10:00:24"}}
PATCH = "v1.34.3+k3s1"


def cluster(doc: dict) -> dict:
    return doc["config"]["k3s-platform:cluster"]


def edited(doc: dict, edit) -> dict:
    new = copy.deepcopy(doc)
    edit(new["config"])
    return new


def assert_clean(change) -> None:
    assert not change.problems, "\n".join(change.problems)


class Deployed:
    """One stack's rehearsal and the config it runs now."""

    def __init__(self, reh: lab.Rehearsal, doc: dict) -> None:
        self.reh, self.doc = reh, doc

    def change(self, label: str, edit=None, **kwargs):
        doc = edited(self.doc, edit) if edit else self.doc
        result = rehearse(self.reh, doc, label, **kwargs)
        if result.up is not None and result.up.error is None:
            self.doc = doc
        return result

    def kubectl(self, *args: str):
        plane = self.reh.k3s.control_plane
        assert plane is not None, "no control plane runs"
        return plane.kubectl(*args)

    def nodes(self) -> dict[str, dict]:
        got = json.loads(self.kubectl("get", "nodes", "-o", "json").stdout)
        return {n["metadata"]["name"]: n for n in got["items"]}

    def mappings(self) -> dict[str, str]:
        return {m["mac"]: m.get("hostname", "") for m in self.reh.router.objects["static_mapping"]}


@pytest.fixture(scope="module")
def charts():
    if not (SHARED / "charts" / "index.yaml").is_file():
        pytest.fail(f"{SHARED}/charts/index.yaml not found: the local chart repository is test data in "
                    "../shared/charts (K3SP_SHARED=DIR to look elsewhere)", pytrace=False)
    with serve(SHARED / "charts") as url:
        yield url


@pytest.fixture(scope="module", params=STACKS)
def deployed(request, charts):
    stack = request.param
    if not lab.in_private_mount_namespace():
        pytest.fail("the rehearsal runs through ./run lab test (a private mount namespace for its names)",
                    pytrace=False)
    try:
        inline.bin_dir()
        reh = lab.Rehearsal(stack, ROOT / "lab-out" / stack, lab.read_doc(ROOT / f"Pulumi.{stack}.yaml"),
                            charts)
    except (lab.RehearsalError, inline.EngineUnavailable) as err:
        pytest.fail(str(err), pytrace=False)
    try:
        yield Deployed(reh, reh.doc)
    finally:
        reh.close()


def test_scenario_1_up_on_a_fresh_stack_then_up_again_changes_nothing(deployed):
    first = deployed.change("1-up")
    assert_clean(first)
    assert set(first.up.changes) == {"create"}, first.up.changes
    assert first.up.policy_violations("mandatory") == []
    config = cluster(deployed.doc)
    names = [n["name"] for n in (*config["servers"], *config.get("agents", []))]
    # hosts: k3s runs on each, installed the air-gap way, with the program's CAs
    for name in names:
        host = deployed.reh.lan.hosts[name]
        assert host.host.state.joinpath("running-k3s" if name in [s["name"] for s in config["servers"]]
                                        else "running-k3s-agent").exists(), name
        assert any(c.startswith("installer ") and "skip=true" in c for c in first.calls[name]), first.calls[name]
    state = {r["urn"].rsplit("::", 1)[-1]: r for r in deployed.reh.state()}
    first_server = deployed.reh.lan.hosts[config["servers"][0]["name"]]
    assert first_server.read("/var/lib/rancher/k3s/server/tls/server-ca.crt").strip() == \
        state["k3s-cluster-server-ca"]["outputs"]["certPem"].strip()
    # the API server: every node registered and Ready, the charts' workloads ready
    nodes = deployed.nodes()
    assert sorted(nodes) == sorted(names)
    assert all(any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
               for n in nodes.values())
    # the router: a mapping per node, the API name where the hosts file says, theirs untouched
    assert set(deployed.mappings()) == {n["mac"] for n in (*config["servers"], *config.get("agents", []))}
    assert deployed.reh.foreign_intact()

    again = deployed.change("1-up-again")
    assert_clean(again)
    assert set(again.up.changes) == {"same"}, again.up.changes
    assert all(calls == [] for calls in again.calls.values()), again.calls


def test_scenario_2_patch_upgrade_servers_one_at_a_time_then_agents(deployed):
    plane = deployed.reh.k3s.control_plane
    failures: list[str] = []
    stop = threading.Event()

    def poll() -> None:  # the API answers throughout (the program's own kubeconfig's server)
        import ssl
        ctx = ssl.create_default_context(cafile=str(plane.workdir) + "/pki/server-ca.crt")
        ctx.load_cert_chain(str(plane.workdir) + "/pki/admin.crt", str(plane.workdir) + "/pki/admin.key")
        while not stop.is_set():
            try:
                urllib.request.urlopen(f"{plane.server}/readyz", context=ctx, timeout=3).read()
            except OSError as err:
                failures.append(str(err))
            time.sleep(0.5)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    log_start = len(deployed.reh.k3s.log)
    try:
        upgrade = deployed.change("2-upgrade", lambda c: c["k3s-platform:cluster"].update(k3sVersion=PATCH))
    finally:
        stop.set()
        poller.join()
    assert_clean(upgrade)
    changed = upgrade.changed()
    assert changed and set(changed.values()) == {"update"}, changed
    # the upgrade steps, and the install steps whose script names the version (they rerun in
    # place: config unchanged, no restart of their own)
    assert {k.rsplit("-", 1)[-1] for k in changed} <= {"upgrade", "install"}, changed
    assert any(k.endswith("-upgrade") for k in changed), changed
    config = cluster(deployed.doc)
    servers = [s["name"] for s in config["servers"]]
    agents = [a["name"] for a in config.get("agents", [])]
    for name in servers + agents:
        assert any(c.startswith(f"installer version={PATCH}") for c in upgrade.calls[name]), upgrade.calls[name]
        assert not [c for c in upgrade.calls[name] if c.startswith("uninstall")]
    restarts = [line.split()[1].rstrip(":") for line in deployed.reh.k3s.log[log_start:] if "restarted" in line]
    order = list(dict.fromkeys(restarts))
    assert order[:len(servers)] == servers and sorted(order[len(servers):]) == sorted(agents), order
    assert failures == [], failures[:3]


def unprotect_node(deployed, name: str) -> list[str]:
    """The runbook's step before a node leaves a stack whose host steps are protected (prod):
    `pulumi state unprotect` of its member and install steps (docs/operations.md)."""
    steps = {f"k3s-cluster-{name}-member", f"k3s-cluster-{name}-install"}
    urns = [r["urn"] for r in deployed.reh.state() if r.get("protect") and r["urn"].rsplit("::", 1)[-1] in steps]
    inline.unprotect(deployed.reh.current, urns)
    return urns


def test_scenario_3_add_remove_and_remove_a_dead_agent(deployed):
    stack = deployed.reh.stack
    new, dead = NEW_AGENT[stack], DEAD_AGENT[stack]
    first = cluster(deployed.doc)["servers"][0]["name"]

    added = deployed.change("3-add-agent", lambda c: c["k3s-platform:cluster"].setdefault("agents", []).append(dict(new)))
    assert_clean(added)
    assert new["name"] in deployed.nodes()
    assert deployed.mappings().get(new["mac"]) is not None

    unprotect_node(deployed, new["name"])
    removed = deployed.change("3-remove-agent", lambda c: c["k3s-platform:cluster"].update(
        agents=[a for a in c["k3s-platform:cluster"]["agents"] if a["name"] != new["name"]]))
    assert_clean(removed)
    assert f"k3s kubectl drain {new['name']} --ignore-daemonsets --delete-emptydir-data --timeout=300s" in \
        removed.calls[first]
    assert any(c.startswith("uninstall") for c in removed.calls[new["name"]]), removed.calls[new["name"]]
    assert new["name"] not in deployed.nodes()
    assert new["mac"] not in deployed.mappings()

    # A dead agent: the runbook's two `up`s (docs/operations.md, "Removing a dead node").
    joined = deployed.change("3-add-doomed-agent", lambda c: c["k3s-platform:cluster"]["agents"].append(dict(dead)))
    assert_clean(joined)
    deployed.reh.stop_host(dead["name"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready = [c["status"] for c in deployed.nodes()[dead["name"]]["status"]["conditions"] if c["type"] == "Ready"]
        if ready != ["True"]:
            break
        time.sleep(2)
    else:
        pytest.fail(f"node {dead['name']} stayed Ready after its host died")

    def mark(c):
        for a in c["k3s-platform:cluster"]["agents"]:
            if a["name"] == dead["name"]:
                a["dead"] = True

    marked = deployed.change("3-mark-dead", mark)
    assert_clean(marked)
    unprotect_node(deployed, dead["name"])
    gone = deployed.change("3-remove-dead", lambda c: c["k3s-platform:cluster"].update(
        agents=[a for a in c["k3s-platform:cluster"]["agents"] if a["name"] != dead["name"]]))
    assert_clean(gone)
    assert dead["name"] not in deployed.nodes()
    assert dead["mac"] not in deployed.mappings()
    assert any(f"k3s kubectl delete node {dead['name']}" in c for c in gone.calls[first]), gone.calls[first]


def test_scenario_4_labels_and_taints_change_the_node_without_a_restart(deployed):
    config = cluster(deployed.doc)
    target = (config.get("agents") or config["servers"])[0]["name"]

    def label(c):
        for n in (*c["k3s-platform:cluster"]["servers"], *c["k3s-platform:cluster"].get("agents", [])):
            if n["name"] == target:
                n["labels"] = {"tier": "edge"}
                n["taints"] = ["dedicated=edge:PreferNoSchedule"]

    changed = deployed.change("4-labels", label)
    assert_clean(changed)
    node = deployed.nodes()[target]
    assert node["metadata"]["labels"].get("tier") == "edge"
    assert {"key": "dedicated", "value": "edge", "effect": "PreferNoSchedule"} in node["spec"].get("taints", [])
    assert not [c for calls in changed.calls.values() for c in calls if c.startswith("systemctl restart")], changed.calls

    def unlabel(c):
        for n in (*c["k3s-platform:cluster"]["servers"], *c["k3s-platform:cluster"].get("agents", [])):
            if n["name"] == target:
                n.pop("labels", None)
                n.pop("taints", None)

    back = deployed.change("4-labels-removed", unlabel)
    assert_clean(back)
    node = deployed.nodes()[target]
    assert "tier" not in node["metadata"]["labels"]
    assert not [t for t in node["spec"].get("taints", []) if t["key"] == "dedicated"]


def not_ready_deployments(deployed, wait: float = 120) -> list[str]:
    """Deployments whose replicas are not all ready, once they settle (up to `wait` s)."""
    deadline = time.monotonic() + wait
    while True:
        got = json.loads(deployed.kubectl("get", "deployments", "-A", "-o", "json").stdout)
        not_ready = [d["metadata"]["name"] for d in got["items"]
                     if d["status"].get("readyReplicas") != d["spec"]["replicas"]]
        if not not_ready or time.monotonic() > deadline:
            return not_ready
        time.sleep(3)


def _people_kubeconfigs(deployed) -> dict[str, str]:
    engine = deployed.reh.engine(deployed.doc, "people-read")
    return dict(engine.outputs()["peopleKubeconfigs"])


def _can_i(kubeconfig_text: str, work, *args: str) -> str:
    path = work / "person.kubeconfig"
    path.write_text(kubeconfig_text)
    path.chmod(0o600)
    proc = subprocess.run([str(binaries.ensure_kubectl()), "--kubeconfig", str(path), "auth", "can-i", *args],
                          capture_output=True, text=True, timeout=60)
    return proc.stdout.strip() or proc.stderr.strip()


def test_scenario_5_add_and_remove_a_tenant(deployed):
    domain = deployed.doc["config"]["k3s-platform:domain"]
    tenant = {"name": "wiki", "hosts": [f"wiki.{domain}"], "appPorts": [8080]}
    appops = next(p for p in deployed.doc["config"]["k3s-platform:people"] if p["role"] == "appops")
    kept = appops["tenants"][0]
    work = deployed.reh.work
    before = _can_i(_people_kubeconfigs(deployed)[appops["name"]], work, "create", "deployments", "-n", kept)
    assert before == "yes", before

    added = deployed.change("5-add-tenant", lambda c: c["k3s-platform:tenants"].append(dict(tenant)))
    assert_clean(added)
    for kind in ("namespace/wiki",):
        assert deployed.kubectl("get", kind).returncode == 0
    assert deployed.kubectl("get", "resourcequota", "-n", "wiki", "-o", "name").stdout.strip()
    assert deployed.kubectl("get", "networkpolicy", "-n", "wiki", "-o", "name").stdout.strip()
    assert deployed.kubectl("get", "rolebinding", "appops", "-n", "wiki").returncode == 0  # the AppOps group's
    overrides = {o["host"] for o in deployed.reh.router.objects["host_override"]}
    assert "wiki" in overrides, overrides

    removed = deployed.change("5-remove-tenant", lambda c: c.update(
        {"k3s-platform:tenants": [t for t in c["k3s-platform:tenants"] if t["name"] != "wiki"]}))
    assert_clean(removed)
    assert deployed.kubectl("get", "namespace", "wiki").returncode != 0 or \
        "Terminating" in deployed.kubectl("get", "namespace", "wiki").stdout
    assert "wiki" not in {o["host"] for o in deployed.reh.router.objects["host_override"]}
    after = _can_i(_people_kubeconfigs(deployed)[appops["name"]], work, "create", "deployments", "-n", kept)
    assert after == "yes", after
    assert deployed.reh.foreign_intact()


def test_scenario_6_renaming_a_server_on_its_host_is_refused_before_anything_runs(deployed):
    config = cluster(deployed.doc)
    old = config["servers"][-1]["name"]

    def rename(c):
        c["k3s-platform:cluster"]["servers"][-1]["name"] = f"{old}-renamed"

    result = deployed.change("6-rename-server", rename, run_up=False)
    assert result.up is None
    assert any("renamed" in r for r in result.model_refusals), result.model_refusals
    if result.preview.error is not None:
        # prod: the old name's install and member steps are protected; the engine stops too
        assert "protect" in result.preview.error, result.preview.error[-1500:]
    else:
        # dev: the real preview would delete the old name's steps on the same host
        deletes = [k for k, op in result.preview_ops.items() if op == "delete" and f"-{old}-" in k]
        assert deletes, result.preview_ops
    assert all(calls == [] for calls in result.calls.values()), result.calls


def test_scenario_7_rotate_the_router_api_key_then_refresh(deployed):
    new_key = "rotated-key-9876543210"
    deployed.reh.router.api_key = new_key
    deployed.reh.api_key = new_key
    rotated = deployed.change("7-rotate-router-key")
    assert_clean(rotated)
    # kwok's simulated kubelets can report a pod not ready for a moment on a loaded machine;
    # a refresh then records the Service as not initialised (and the next preview retries it)
    assert not_ready_deployments(deployed) == []
    engine = deployed.reh.engine(deployed.doc, "7-refresh")
    refreshed = engine.refresh()
    inline.write_events(refreshed, deployed.reh.work / "results" / "7-refresh.events.jsonl")
    assert refreshed.error is None, refreshed.error
    assert not refreshed.diagnostics("error")
    again = engine.preview()
    inline.write_events(again, deployed.reh.work / "results" / "7-after-refresh.preview.events.jsonl")
    assert again.error is None, again.error
    assert set(again.changes) <= {"same"}, [s for s in again.steps() if s["op"] != "same"]


def test_scenario_8_destroy_completes_in_one_run_and_leaves_the_router_as_it_was(deployed):
    engine = deployed.reh.engine(deployed.doc, "8-destroy")
    inline.unprotect_all(engine)  # the runbook's first step (docs/operations.md)
    log_start = len(deployed.reh.k3s.log)
    gone = engine.destroy()
    inline.write_events(gone, deployed.reh.work / "results" / "8-destroy.events.jsonl")
    assert gone.error is None, gone.error
    assert set(gone.changes) == {"delete"}, gone.changes
    assert deployed.reh.ours() == {}, deployed.reh.ours()
    assert deployed.reh.foreign_intact()
    config = cluster(deployed.doc)
    servers = [s["name"] for s in config["servers"]]
    calls = {n: h.calls() for n, h in deployed.reh.lan.hosts.items() if n not in deployed.reh.k3s.dead}
    for name in servers + [a["name"] for a in config.get("agents", [])]:
        assert any(c.startswith("uninstall") for c in calls[name]), (name, calls[name])
    # members left one at a time: agents before the first server, the other servers last
    # first, the first server last; the control plane stopped with it
    stops = [line.split()[1].rstrip(":") for line in deployed.reh.k3s.log[log_start:] if line.endswith(" stopped")]
    assert stops[-1] == servers[0], stops
    assert [s for s in stops if s in servers] == servers[::-1], stops
    assert deployed.reh.k3s.control_plane is None
    assert any("control plane stops" in line for line in deployed.reh.k3s.log[log_start:])
    assert [r for r in engine.export().get("resources", []) if not r["type"].startswith("pulumi:")] == []
