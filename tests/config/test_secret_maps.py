"""The secret maps (`etcdS3Credentials`, `registryAuth`): required exactly when a setting
reads them, checked by shape, and never quoted in a message. Offline, the plan stands in for
absent ones (as for every absent secret) so a fresh clone still plans."""

from __future__ import annotations

import copy

import pytest

from components.config import ConfigError, parse_config_keys
from tests.config.fixtures import base_document
from tools.imitations.harness import load_config_file

S3 = {"endpoint": "nas.home.example.org:9000", "bucket": "k3s-etcd"}
SECRET = "a-secret-that-must-not-be-printed"


def config(s3=True, registry_auth=False, **extra):
    doc = copy.deepcopy(base_document()["config"])
    values = {k: v for k, v in doc.items() if not (isinstance(v, dict) and "secure" in v)}
    if s3:
        values["k3s-platform:cluster"]["etcdSnapshots"] = {"s3": S3}
    if registry_auth:
        values["k3s-platform:cluster"]["registries"] = {"configs": {"registry.home.example.org": {"auth": True}}}
    values.update({f"k3s-platform:{k}": v for k, v in extra.items()})
    return values


def problems(values):
    with pytest.raises(ConfigError) as err:
        parse_config_keys(values)
    return err.value.problems


def test_s3_needs_its_credentials():
    assert problems(config()) == [
        "etcdS3Credentials: is required by cluster.etcdSnapshots.s3 — set it with `pulumi config set "
        "--secret --path 'etcdS3Credentials.accessKey' ...` (and secretKey)"]
    parse_config_keys(config(etcdS3Credentials={"accessKey": "ak", "secretKey": SECRET}))


def test_a_malformed_secret_map_is_named_without_its_values():
    found = problems(config(etcdS3Credentials={"accessKey": SECRET, "secretkey": SECRET}))
    assert found == ["etcdS3Credentials.secretKey: is required — set it with `pulumi config set --secret "
                     "--path 'etcdS3Credentials.secretKey' ...`",
                     "etcdS3Credentials.secretkey: is not a known key — the fields are accessKey, secretKey"]
    assert SECRET not in "\n".join(found)
    assert problems(config(etcdS3Credentials=SECRET)) == [
        "etcdS3Credentials: not a map — set each field with `pulumi config set --secret --path "
        "'etcdS3Credentials.accessKey' ...`"]


def test_registry_auth_matches_the_registries_that_log_in():
    found = problems(config(s3=False, registry_auth=True))
    assert found == ["registryAuth.registry.home.example.org: is required by "
                     "cluster.registries.configs.registry.home.example.org.auth — set `pulumi config set "
                     "--secret --path 'registryAuth[\"registry.home.example.org\"].username' ...` (and password)"]
    parse_config_keys(config(s3=False, registry_auth=True, registryAuth={
        "registry.home.example.org": {"username": "robot", "password": SECRET}}))
    assert problems(config(s3=False, registryAuth={"other.example.org": {"username": "u", "password": "p"}})) == [
        "registryAuth.other.example.org: no cluster.registries.configs.other.example.org with auth: true uses "
        "it — remove it, or set that auth"]


def test_the_plan_stands_in_for_absent_secret_maps(tmp_path):
    import yaml

    doc = {"config": config(registry_auth=True)}
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(doc))
    values, secret_keys = load_config_file("prod", path)
    assert {"k3s-platform:etcdS3Credentials", "k3s-platform:registryAuth"} <= secret_keys
    assert set(values["k3s-platform:registryAuth"]) == {"registry.home.example.org"}
    parse_config_keys(values)
