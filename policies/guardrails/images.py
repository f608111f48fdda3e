"""Policy `image-tag-pinned`: every container image names a version.

Creates one ResourceValidationPolicy: an image must be a well-formed reference
(`[registry[:port]/]path[:tag][@algorithm:hex]`; an empty tag such as `nginx:`, a digest
of the wrong length or an unrendered template such as `{{ .Values.image }}` is not) and
carry a tag other than the forbidden ones (default `latest`) or a digest (`@sha256:...`).
An untagged image means `latest` to the container runtime, so it is rejected too. Covers
containers, init containers and ephemeral containers of every workload.
"""

from __future__ import annotations

import re
from typing import Any

from ._k8s import containers, get, pod_specs, resource_policy
from ._settings import Setting

NAME = "image-tag-pinned"

SETTINGS = {
    "forbiddenTags": Setting(["latest"], {"type": "array", "items": {"type": "string"}},
                             "Tags that float and so are not accepted. Default: [\"latest\"]."),
    "requireDigest": Setting(False, {"type": "boolean"},
                             "Require an immutable @sha256 digest. Default: false."),
}


# Ref: https://github.com/distribution/reference (reference grammar)
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,})?$"
)
_DIGEST_LENGTHS = {"sha256": 64, "sha512": 128}


def reference_problem(image: str) -> str | None:
    """Why `image` is not a well-formed image reference, or None."""
    if "{{" in image or "}}" in image:
        return f"image {image!r} is an unrendered template expression"
    if not _REFERENCE.match(image):
        return f"image {image!r} is not a valid image reference ([registry/]name[:tag][@sha256:<64 hex>])"
    _, _, digest = image.partition("@")
    algorithm, _, hexpart = digest.partition(":")
    if digest and len(hexpart) != _DIGEST_LENGTHS.get(algorithm, len(hexpart)):
        return f"image {image!r} has a malformed {algorithm} digest ({len(hexpart)} hex digits)"
    return None


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of an image reference; a registry port is not a tag."""
    rest, _, digest = image.partition("@")
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        return rest[:colon], rest[colon + 1:], digest or None
    return rest, None, digest or None


def image_problem(image: Any, cfg: dict) -> str | None:
    if not isinstance(image, str) or not image.strip():
        return "has no image"
    problem = reference_problem(image)
    if problem:
        return problem
    _, tag, digest = split_image(image.strip())
    if cfg["requireDigest"] and not digest:
        return f"image {image!r} is not pinned by digest (@sha256:...)"
    if digest:
        return None
    if tag is None:
        return f"image {image!r} has no tag (means :latest); pin a version"
    if tag in cfg["forbiddenTags"]:
        return f"image {image!r} uses the floating tag {tag!r}; pin a version"
    return None


def check_images(resource_type: str, props: Any, cfg: dict) -> list[str]:
    problems = []
    for pod in pod_specs(resource_type, props):
        for c in containers(pod):
            problem = image_problem(get(c.body, "image"), cfg)
            if problem:
                problems.append(f"{c.label(pod)}: {problem}")
    return problems


POLICY = resource_policy(
    NAME,
    "Container images must be pinned to a version tag or digest (no :latest, no untagged).",
    check_images, SETTINGS)
