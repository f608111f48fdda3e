"""People, end to end: prod's Kubernetes layers under the real engine on the lab's API server
(people's certificates signed by the lab's CA, as k3s's client CA would), then each person's
kubeconfig — taken from the secret stack output with `./run kubeconfig` — is used *as that
person* (their own certificate, no impersonation): the API server's authentication names
them, and its authorizer answers every cell of their rows of the plan's rbac.md as the matrix
says. Then one person leaves the config: the next `up` deletes only their certificate and
bindings, and their old kubeconfig, still a valid certificate, is refused."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import pytest
import yaml

from tests.lab.test_rbac import CHECKS, access_review, parse_matrix
from tests.shared_data import SHARED, serve
from tools import kubeconfig as kubeconfig_command
from tools.engine import inline
from tools.lab import binaries, cluster
from tools.paths import ROOT

from .conftest import assert_no_errors
from .lab_cluster import lab_for, objects_program, stack_file

STACK = "prod"
LEAVER = "carol"


def kubectl_as(path, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(binaries.ensure_kubectl()), "--kubeconfig", str(path), *args],
                          input=input, capture_output=True, text=True, timeout=120)


def self_reviews(path, cells: list[tuple[str, str]]) -> list[bool]:
    """SelfSubjectAccessReviews for (namespace, check label), asked with the person's own kubeconfig."""
    items = []
    for ns, label in cells:
        review = access_review("x", [], CHECKS[label], ns)
        items.append({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                      "spec": {"resourceAttributes": review["spec"]["resourceAttributes"]}})
    answers = []
    # One per call (kubectl prints a List's results as separate documents); no client-side
    # validation: it lists CRDs, which an AppOps person may not.
    for item in items:
        proc = kubectl_as(path, "create", "--validate=false", "-o", "json", "-f", "-", input=yaml.safe_dump(item))
        assert proc.returncode == 0, proc.stderr
        answers.append(bool(json.loads(proc.stdout)["status"].get("allowed")))
    return answers


def people_of(config_path) -> list[dict]:
    return yaml.safe_load(config_path.read_text())["config"]["k3s-platform:people"]


def test_each_person_can_do_what_rbac_md_says_and_a_removed_person_is_refused(engine_bins, work, monkeypatch):
    if not (SHARED / "charts" / "index.yaml").is_file():
        pytest.fail(f"{SHARED}/charts/index.yaml not found: the local chart repository is test data in "
                    "../shared/charts (K3SP_SHARED=DIR to look elsewhere)", pytrace=False)
    plan = subprocess.run([sys.executable, "-m", "tools.plan", STACK, "--out", str(work / "plan")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert plan.returncode == 0, plan.stderr[-2000:]
    personas, rows = parse_matrix((work / "plan" / "rbac.md").read_text())
    lab = lab_for(STACK)
    try:
        with serve(SHARED / "charts") as charts:
            config = stack_file(STACK, work / f"{STACK}.yaml", charts)
            engine = inline.EngineStack(STACK, work, config_file=config, echo=None, program=objects_program(lab))
            first = engine.up()
            inline.write_events(first, work / "up-1.events.jsonl")
            assert_no_errors(first)

            # The kubeconfigs come out of the state the way an operator gets them.
            for key, value in engine.env.items():
                monkeypatch.setenv(key, value)
            files = {}
            for person in people_of(config):
                name = person["name"]
                files[name] = work / f"{name}.kubeconfig"
                rc = kubeconfig_command.main([STACK, name, "--out", str(files[name]),
                                              "--pulumi", str(inline.cli_dir(inline.bin_dir()) / "pulumi"),
                                              "--cwd", str(work / "project")])
                assert rc == 0
                assert stat.S_IMODE(files[name].stat().st_mode) == 0o600

            asked, every_answer = 0, []
            for person, path in files.items():
                whoami = kubectl_as(path, "auth", "whoami", "-o", "json")
                assert whoami.returncode == 0, whoami.stderr
                info = json.loads(whoami.stdout)["status"]["userInfo"]
                assert info["username"] == person
                assert set(info.get("groups", [])) == {"system:authenticated"}  # no group in the certificate
                [label] = [p for p, s in personas.items() if s.kind == "User" and s.name == person]
                cells = [(ns, lab_) for p, ns, row in rows if p == label for lab_ in row]
                expected = [row[lab_] for p, ns, row in rows if p == label for lab_ in row]
                assert cells, f"rbac.md has no rows for {person}"
                answers = self_reviews(path, cells)
                asked += len(answers)
                every_answer += expected
                wrong = [f"{person} in {ns}: {lab_}: rbac.md says {e}, the API server says {a}"
                         for (ns, lab_), e, a in zip(cells, expected, answers) if e != a]
                assert not wrong, "\n".join(wrong)
            assert asked and True in every_answer and False in every_answer  # not a vacuous matrix
            # The leaver can work in their tenant before they leave.
            assert kubectl_as(files[LEAVER], "get", "pods", "-n", "shop").returncode == 0

            engine.set_config("people", [p for p in people_of(config) if p["name"] != LEAVER])
            second = engine.up()
            inline.write_events(second, work / "up-2.events.jsonl")
            assert_no_errors(second)
            deleted = second.ops("delete")
            assert deleted and all(f"k3s-people-{LEAVER}-" in urn.rsplit("::", 1)[-1] for urn in deleted), deleted
            assert not second.ops("create", "update", "replace")
            refused = kubectl_as(files[LEAVER], "get", "pods", "-n", "shop")
            assert refused.returncode != 0 and "Forbidden" in refused.stderr, refused.stderr
            assert self_reviews(files[LEAVER], [("shop", "create deployments")]) == [False]
            assert LEAVER not in engine.outputs()["peopleKubeconfigs"]
            # Everyone else keeps their access.
            assert kubectl_as(files["dave"], "get", "pods", "-n", "shop").returncode == 0
    finally:
        cluster.stop(lab, keep=True)
        (work / "lab").symlink_to(lab.workdir)
