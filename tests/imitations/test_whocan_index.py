"""The who-can evaluator answers from an index of bindings by subject.

Two properties: the index gives exactly the answers of a plain scan of every binding with
the API server's subject rule (``whocan._applies``), on random RBAC fixtures; and the
matrix's work grows linearly with the number of namespaces (it used to scan every
RoleBinding for every row: tenants x bindings).
"""

from __future__ import annotations

import random

import pytest

from tools.imitations import whocan
from tools.imitations.whocan import Authorizer, Subject, rbac_matrix_markdown

RBAC = "rbac.authorization.k8s.io"
NAMESPACES = ["a", "b", "c", None]  # None: a RoleBinding without metadata.namespace
NAMES = ["alice", "bob", "dev", "ops", "builder", "system:serviceaccount:a:builder"]


def _random_subject(rng: random.Random) -> dict:
    kind = rng.choice(["User", "Group", "ServiceAccount", "Robot"])
    subject = {"kind": kind, "name": rng.choice(NAMES + ["system:authenticated", "system:serviceaccounts:b"])}
    if kind == "ServiceAccount" and rng.random() < 0.6:
        subject["namespace"] = rng.choice(["a", "b", "c"])
    return subject


def _random_objects(rng: random.Random) -> list[dict]:
    objects = [
        {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": "view-all"},
         "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list"]}]},
        {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": "deployer"},
         "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create"]}]},
    ]
    for ns in ("a", "b", "c"):
        objects.append({"apiVersion": f"{RBAC}/v1", "kind": "Role", "metadata": {"name": "exec", "namespace": ns},
                        "rules": [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}]})
    for i in range(rng.randint(1, 12)):
        subjects = [_random_subject(rng) for _ in range(rng.randint(0, 3))]
        ref = rng.choice([("ClusterRole", "view-all"), ("ClusterRole", "deployer"), ("ClusterRole", "cluster-admin"),
                          ("Role", "exec"), ("ClusterRole", "missing")])
        if rng.random() < 0.3:
            objects.append({"apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": f"crb{i}"},
                            "roleRef": {"apiGroup": RBAC, "kind": ref[0], "name": ref[1]}, "subjects": subjects})
        else:
            meta = {"name": f"rb{i}"}
            ns = rng.choice(NAMESPACES)
            if ns:
                meta["namespace"] = ns
            objects.append({"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": meta,
                            "roleRef": {"apiGroup": RBAC, "kind": ref[0], "name": ref[1]}, "subjects": subjects})
    return objects


def _scan_bindings(authz: Authorizer, subject: Subject, namespace: str | None) -> list[str]:
    """The reference: every binding, in order, tested with the API server's subject rule."""
    username, groups = subject.user_info()
    found = [b for b in authz._cluster_role_bindings
             if any(whocan._applies(s, username, groups, "") for s in b.get("subjects") or [])]
    if namespace is not None:
        for b in authz._role_bindings:
            ns = (b.get("metadata") or {}).get("namespace") or "default"
            if ns == namespace and any(whocan._applies(s, username, groups, ns) for s in b.get("subjects") or []):
                found.append(b)
    return [whocan._describe(b) for b in found]


def _scan_report(authz: Authorizer, subject: Subject) -> list[str]:
    username, groups = subject.user_info()
    out = []
    for b in authz._cluster_role_bindings + authz._role_bindings:
        ns = (b.get("metadata") or {}).get("namespace") or ""
        if any(whocan._applies(s, username, groups, ns) for s in b.get("subjects") or []):
            out.append(whocan._describe(b))
    return sorted(out)


ASKERS = [Subject("User", "alice"), Subject("User", "bob", groups=("dev",)), Subject("Group", "ops"),
          Subject("ServiceAccount", "builder", namespace="a"), Subject("ServiceAccount", "builder", namespace="b"),
          Subject("User", "system:serviceaccount:c:builder")]


@pytest.mark.parametrize("seed", range(40))
def test_index_answers_as_a_scan_of_every_binding(seed):
    rng = random.Random(seed)
    authz = Authorizer(_random_objects(rng))
    for subject in ASKERS:
        assert authz.bindings_for(subject) == _scan_report(authz, subject), subject
        for namespace in ("a", "b", "c", "default", None):
            indexed = [whocan._describe(b) for b, _ in authz._bindings_for(subject, namespace)]
            assert indexed == _scan_bindings(authz, subject, namespace), (subject, namespace)


class CountingDict(dict):
    """A binding that counts how often it is read."""

    reads = 0

    def get(self, *args):
        CountingDict.reads += 1
        return super().get(*args)

    def __getitem__(self, key):
        CountingDict.reads += 1
        return super().__getitem__(key)


def _tenants(n: int) -> tuple[list[dict], dict[str, Subject], list[str]]:
    objects: list[dict] = [CountingDict(
        apiVersion=f"{RBAC}/v1", kind="ClusterRoleBinding", metadata={"name": "platops"},
        roleRef={"apiGroup": RBAC, "kind": "ClusterRole", "name": "cluster-admin"},
        subjects=[{"kind": "Group", "name": "platops"}])]
    objects.append({"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": "appops"},
                    "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create"]}]})
    namespaces = [f"t{i:04d}" for i in range(n)]
    for ns in namespaces:
        objects.append(CountingDict(
            apiVersion=f"{RBAC}/v1", kind="RoleBinding", metadata={"name": "appops", "namespace": ns},
            roleRef={"apiGroup": RBAC, "kind": "ClusterRole", "name": "appops"},
            subjects=[{"kind": "Group", "name": f"team-{ns}"}]))
    personas = {"PlatOps": Subject("Group", "platops"), "AppOps": Subject("Group", "team-t0000")}
    return objects, personas, namespaces


def _binding_reads(n: int) -> int:
    objects, personas, namespaces = _tenants(n)
    CountingDict.reads = 0
    rbac_matrix_markdown(objects, personas=personas, namespaces=namespaces)
    return CountingDict.reads


def test_matrix_reads_bindings_linearly_in_namespaces():
    small, large = _binding_reads(100), _binding_reads(400)
    # A scan of every RoleBinding per row would read ~16x more for 4x the namespaces.
    assert large <= 4.5 * small, (small, large)


def test_a_question_reads_only_the_bindings_of_its_asker():
    objects, personas, namespaces = _tenants(300)
    authz = Authorizer(objects)
    CountingDict.reads = 0
    assert authz.allowed(personas["AppOps"], "create", "deployments", namespace="t0000", api_group="apps")
    assert not authz.allowed(personas["AppOps"], "create", "deployments", namespace="t0001", api_group="apps")
    assert CountingDict.reads <= 4  # the one matching RoleBinding's roleRef (and metadata for reasons)


def _matrix_cell_by_cell(objects, personas, namespaces) -> list[str]:
    """The reference rows: every (persona, namespace, check) asked on its own."""
    from tools.imitations.whocan import DEFAULT_CHECKS

    authz = Authorizer(objects)
    rows = []
    for persona, subject in personas.items():
        for ns in namespaces:
            cells = ["yes" if authz.allowed(subject, c.verb, c.resource, namespace=None if c.cluster_scoped else ns,
                                            api_group=c.api_group, subresource=c.subresource) else "no"
                     for c in DEFAULT_CHECKS]
            rows.append("| " + " | ".join([persona, ns, *cells]) + " |")
    return rows


@pytest.mark.parametrize("seed", range(25))
def test_matrix_rows_equal_asking_every_cell(seed):
    rng = random.Random(seed)
    objects = _random_objects(rng)
    personas = {f"P{i}": s for i, s in enumerate(ASKERS)}
    namespaces = ["a", "b", "c", "default", "z"]
    text = rbac_matrix_markdown(objects, personas=personas, namespaces=namespaces)
    rows = [line for line in text.splitlines() if line.startswith("| P")]
    assert rows == _matrix_cell_by_cell(objects, personas, namespaces)


def test_matrix_asks_only_where_a_persona_is_bound(monkeypatch):
    objects, personas, namespaces = _tenants(300)
    asked = {"n": 0}
    real = Authorizer.allowed

    def counting(self, *args, **kwargs):
        asked["n"] += 1
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Authorizer, "allowed", counting)
    rbac_matrix_markdown(objects, personas=personas, namespaces=namespaces)
    checks = len(whocan.DEFAULT_CHECKS)
    # PlatOps: one row for everywhere; AppOps: its own namespace and one row for the rest.
    assert asked["n"] == checks * 3, asked
