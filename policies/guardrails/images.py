"""Policy `image-tag-pinned`: every container image names a version.

Creates one ResourceValidationPolicy: an image must carry a tag other than the
forbidden ones (default `latest`) or a digest (`@sha256:...`). An untagged image means
`latest` to the container runtime, so it is rejected too. Covers containers, init
containers and ephemeral containers of every workload.
"""

from __future__ import annotations

from typing import Any

from ._k8s import containers, get, pod_specs, resource_policy

NAME = "image-tag-pinned"

DEFAULTS: dict[str, Any] = {"forbiddenTags": ["latest"], "requireDigest": False}
_DESCRIPTIONS = {
    "forbiddenTags": "Tags that float and so are not accepted. Default: [\"latest\"].",
    "requireDigest": "Require an immutable @sha256 digest. Default: false.",
}
_TYPES = {
    "forbiddenTags": {"type": "array", "items": {"type": "string"}},
    "requireDigest": {"type": "boolean"},
}


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


def check_images(resource_type: str, props: Any, cfg: dict | None = None) -> list[str]:
    cfg = {**DEFAULTS, **(cfg or {})}
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
    check_images, DEFAULTS, _DESCRIPTIONS, _TYPES)
