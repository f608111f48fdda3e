"""The pack settings that follow the stack config (issue 16, items 6 and 15): the schema
version the plan validates against and the pack's PlatOps group / Pod Security version."""

from pathlib import Path

import yaml

from tools.imitations import schemas
from tools.imitations.harness import stack_config
from tools.pack_settings import disagreements
from tools.paths import ROOT
from tools.plan.__main__ import main as plan_main

DEVICE_CLASS = {"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": "gpu"},
                "spec": {}}


def test_schema_version_is_the_clusters_minor():
    assert schemas.schema_version("v1.35") == "1.35.0"
    # resource.k8s.io/v1 exists from Kubernetes 1.34 on: the version given is the one used.
    assert schemas.validate(DEVICE_CLASS, "v1.34") == []
    assert schemas.validate(DEVICE_CLASS, "v1.32") == [
        "DeviceClass/gpu: unknown kind resource.k8s.io/v1 DeviceClass for Kubernetes 1.32.0"]


def _renamed(tmp_path: Path, group: str | None = None, version: str | None = None) -> Path:
    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    if group:
        doc["config"]["k3s-platform:platops"] = {"group": group}
    if version:
        doc["config"]["k3s-platform:cluster"]["k3sVersion"] = version
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_the_pack_config_must_carry_a_renamed_platops_group(tmp_path):
    cfg = stack_config("prod", _renamed(tmp_path, group="sre"))
    people = {"platopsUsers": ["alice"]}
    assert disagreements("prod", cfg, {"all": "mandatory", "rbac-least-privilege": people}) == [
        'policies/config/prod.json: leaves the pack default rbac-least-privilege.platopsGroup = "platops", '
        "but Pulumi.prod.yaml's platops.group makes it \"sre\" — write "
        '"rbac-least-privilege": {"platopsGroup": "sre"} in policies/config/prod.json']
    assert disagreements("prod", cfg, {"rbac-least-privilege": {"platopsGroup": "sre", **people}}) == []


def test_the_pack_config_must_carry_the_clusters_minor(tmp_path):
    cfg = stack_config("prod", _renamed(tmp_path, version="v1.35.0+k3s1"))
    people = {"rbac-least-privilege": {"platopsUsers": ["alice"]}}
    [line] = disagreements("prod", cfg, people)
    assert "pod-security-restricted.kubernetesVersion = \"1.34\"" in line and '"1.35"' in line
    assert disagreements("prod", cfg, {"pod-security-restricted": {"kubernetesVersion": "1.35"}, **people}) == []


def test_the_pack_config_must_list_every_platops_person(tmp_path):
    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    doc["config"]["k3s-platform:people"].append({"name": "frank", "role": "platops"})
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(doc))
    cfg = stack_config("prod", path)
    [line] = disagreements("prod", cfg, {"rbac-least-privilege": {"platopsUsers": ["alice"]}})
    assert 'people makes it ["alice", "frank"]' in line
    assert '"rbac-least-privilege": {"platopsUsers": ["alice", "frank"]}' in line
    assert disagreements("prod", cfg, {"rbac-least-privilege": {"platopsUsers": ["alice", "frank"]}}) == []


def test_the_plan_names_the_file_to_change_when_the_group_is_renamed(tmp_path, capsys):
    code = plan_main(["prod", "--out", str(tmp_path / "o"), "--config-file", str(_renamed(tmp_path, group="sre"))])
    err = capsys.readouterr().err
    assert code == 2
    assert '"rbac-least-privilege": {"platopsGroup": "sre"} in policies/config/prod.json' in err
    assert "Traceback" not in err


def test_both_stacks_agree_with_their_pack_config():
    from tools.imitations.policy_runner import load_stack_config
    for stack in ("dev", "prod"):
        assert disagreements(stack, stack_config(stack), load_stack_config(stack)) == []


def test_every_supported_minor_has_a_schema_and_pod_security_rules():
    import sys

    from kubernetes_validate.utils import all_versions

    from components.config import SUPPORTED_KUBERNETES_MINORS
    sys.path.insert(0, str(ROOT / "policies"))
    from guardrails import restricted
    from guardrails._settings import merged

    schema_minors = {v.rsplit(".", 1)[0] for v in all_versions()}
    for minor in SUPPORTED_KUBERNETES_MINORS:
        assert f"1.{minor}" in schema_minors
        assert restricted.check_restricted("kubernetes:core/v1:Pod", {"kind": "Pod", "spec": {"containers": []}},
                                           merged(restricted.SETTINGS, {"kubernetesVersion": f"1.{minor}"})) == []
