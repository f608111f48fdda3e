"""components.kube: the typed entry point refuses an object of another kind before anything
is registered (a Namespace dict never becomes a ResourceQuota)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components import kube


def test_apply_as_refuses_an_object_of_another_kind():
    obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}
    with pytest.raises(ValueError, match="v1 Namespace is not a ResourceQuota"):
        kube.apply_as(k8s.core.v1.ResourceQuota, "x", obj, pulumi.ResourceOptions())


def test_apply_as_refuses_a_custom_resource():
    obj = {"apiVersion": "traefik.io/v1alpha1", "kind": "TLSOption", "metadata": {"name": "x"}}
    with pytest.raises(ValueError, match="is not a Namespace"):
        kube.apply_as(k8s.core.v1.Namespace, "x", obj, pulumi.ResourceOptions())
