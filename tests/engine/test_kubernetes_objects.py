"""Both stacks' Kubernetes objects under the real kubernetes provider, against the lab's API
server with kwok nodes: the charts as helm.v3.Release from the local chart repository, the
Traefik CRD objects, cert-manager Issuers and Certificates, tenants and RBAC. Created, up again
with 0 changes, destroyed; asserted from the engine's events and from the API server."""

from __future__ import annotations

import json
import time

import pytest

from tests.shared_data import SHARED, serve
from tools.engine import inline
from tools.lab import cluster

from .conftest import assert_no_errors
from .lab_cluster import lab_for, objects_program, stack_file


def not_ready_deployments(lab, wait: float = 90) -> list[str]:
    """Deployments whose replicas are not all ready, once they settle. kwok's simulated kubelets
    can report a pod not ready for a moment on a loaded machine, so this waits (up to `wait`
    seconds) for every Deployment to be ready and returns those still not ready."""
    deadline = time.monotonic() + wait
    while True:
        deployments = json.loads(lab.kubectl("get", "deployments", "-A", "-o", "json", check=True).stdout)
        not_ready = [d["metadata"]["name"] for d in deployments["items"]
                     if d["status"].get("readyReplicas") != d["spec"]["replicas"]]
        if not not_ready or time.monotonic() > deadline:
            return not_ready
        time.sleep(3)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_objects_up_again_and_destroy_on_the_lab_api_server(stack, engine_bins, work):
    if not (SHARED / "charts" / "index.yaml").is_file():
        pytest.fail(f"{SHARED}/charts/index.yaml not found: the local chart repository is test data in "
                    "../shared/charts (K3SP_SHARED=DIR to look elsewhere)", pytrace=False)
    lab = lab_for(stack)
    try:
        with serve(SHARED / "charts") as charts:
            config = stack_file(stack, work / f"{stack}.yaml", charts)
            engine = inline.EngineStack(stack, work, config_file=config, echo=None,
                                        program=objects_program(lab))
            first = engine.up()
            inline.write_events(first, work / "up-1.events.jsonl")
            assert_no_errors(first)
            assert set(first.changes) == {"create"}
            assert first.policy_violations("mandatory") == []

            releases = json.loads(lab.kubectl("get", "secrets", "-A", "-l", "owner=helm", "-o", "json",
                                              check=True).stdout)["items"]
            assert {r["metadata"]["labels"]["name"] for r in releases} == {"traefik", "cert-manager"}
            assert all(r["metadata"]["labels"]["status"] == "deployed" for r in releases)
            assert not_ready_deployments(lab) == []
            tenants = lab.kubectl("get", "namespaces", "-l", "k3s-platform/tenant", "-o", "name").stdout.split()
            assert tenants
            issuers = lab.kubectl("get", "issuers.cert-manager.io", "-A", "-o", "name").stdout.split()
            assert len(issuers) >= len(tenants)

            again = engine.up()
            inline.write_events(again, work / "up-2.events.jsonl")
            assert_no_errors(again)
            assert set(again.changes) == {"same"}, again.changes

            gone = engine.destroy()
            inline.write_events(gone, work / "destroy.events.jsonl")
            assert_no_errors(gone)
            assert set(gone.changes) == {"delete"}
            left = lab.kubectl("get", "namespaces", "-l", "k3s-platform/tenant", "-o", "name").stdout.split()
            assert left == []
            assert lab.kubectl("get", "secrets", "-A", "-l", "owner=helm", "-o", "name").stdout.split() == []
    finally:
        cluster.stop(lab, keep=True)
        (work / "lab").symlink_to(lab.workdir)
