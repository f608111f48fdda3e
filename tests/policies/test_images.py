"""`image-tag-pinned` (guardrails/images.py) through the validator the analyzer calls: pinned
tags and digests pass; floating, missing and malformed references fail."""

from __future__ import annotations

import pytest
from guardrails import images

from tests.policies.helpers import good_pod_spec, messages, pod, run_policy, workload


@pytest.mark.parametrize("image,ok", [
    ("ghcr.io/example/app:1.2.3", True),
    ("registry.local:5000/app@sha256:" + "a" * 64, True),
    ("traefik:v3.7.11", True),
    ("nginx:latest", False),
    ("nginx", False),
    ("registry.local:5000/app", False),   # the port is not a tag
    ("", False),
])
def test_images(image, ok):
    spec = good_pod_spec()
    spec["containers"][0]["image"] = image
    found = messages(run_policy(images.POLICY, workload("Deployment", spec)))
    assert (found == []) is ok, found


def test_images_digest_required_by_config():
    assert run_policy(images.POLICY, pod(), {"requireDigest": True}) != []


# Issue 16, item 15: rules that were gaps.

@pytest.mark.parametrize("image", ["nginx:", "app@sha256:abc", "app@sha256:" + "a" * 63, "{{ .Values.image }}",
                                   "{{ .Values.image.repository }}:{{ .Values.image.tag }}", "Nginx:1.27",
                                   "nginx:1.27 ", "ghcr.io//app:1"])
def test_images_refuse_malformed_references(image):
    spec = good_pod_spec()
    spec["containers"][0]["image"] = image
    assert run_policy(images.POLICY, workload("Deployment", spec)) != []
