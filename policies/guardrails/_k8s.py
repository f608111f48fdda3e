"""Shared helpers for reading Kubernetes objects as the policy engine passes them.

Properties arrive in their wire form (camelCase, `apiVersion`/`kind`/`metadata`/`spec`),
wrapped by pulumi-policy in read-only Mapping/Sequence proxies that raise
`UnknownValueError` on values not known during preview. Everything here therefore
tests for `Mapping`/`Sequence`, never `dict`/`list`, and lets unknown values that
could hide a pod template propagate (the engine then reports "can't run policy").
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_ARRAY_VALUE, UNKNOWN_OBJECT_VALUE, UnknownValueError

from ._settings import Settings, merged, schema

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")

# Kinds that may contain the word "containers" in a schema but never run pods.
_NOT_WORKLOADS = {"CustomResourceDefinition"}

# Subtrees that never hold a pod template; skipping them also avoids tripping over
# unknown annotation or data values during preview.
_SKIP_KEYS = {"metadata", "status"}
# A ConfigMap's or Secret's payload: skipped at the top of an object only. Deeper down a key
# of that name is any custom resource's field, and may hold a pod template.
_TOP_LEVEL_SKIP_KEYS = {"data", "stringData", "binaryData"}


# Types already answered, so that the abstract-base-class check runs once per type, not once
# per value: pulumi-policy's read-only proxies are learnt here the first time one is met,
# without naming its (private) classes.
_MAP_TYPES: set[type] = {dict}
_LIST_TYPES: set[type] = {list, tuple}
_OTHER_TYPES: set[type] = {str, bytes, int, float, bool, type(None)}


def _learn(kind: type, value: Any) -> None:
    if isinstance(value, Mapping):
        _MAP_TYPES.add(kind)
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        _LIST_TYPES.add(kind)
    else:
        _OTHER_TYPES.add(kind)


def is_map(value: Any) -> bool:
    kind = type(value)
    if kind not in _MAP_TYPES and kind not in _LIST_TYPES and kind not in _OTHER_TYPES:
        _learn(kind, value)
    return kind in _MAP_TYPES


def is_list(value: Any) -> bool:
    kind = type(value)
    if kind not in _MAP_TYPES and kind not in _LIST_TYPES and kind not in _OTHER_TYPES:
        _learn(kind, value)
    return kind in _LIST_TYPES


def get(obj: Any, *path: Any, default: Any = None) -> Any:
    """Walk `path` (keys or list indexes) through nested maps/lists; `default` if absent."""
    cur = obj
    for key in path:
        if is_map(cur):
            if key not in cur:
                return default
            cur = cur[key]
        elif is_list(cur) and isinstance(key, int):
            if key >= len(cur):
                return default
            cur = cur[key]
        else:
            return default
        if cur is None:
            return default
    return cur


def as_list(value: Any) -> list:
    return list(value) if is_list(value) else []


def kind_of(resource_type: str, props: Any) -> str:
    """The object's kind: from `kind` when present, else the last part of the type token."""
    kind = get(props, "kind")
    if isinstance(kind, str) and kind:
        return kind
    return resource_type.rsplit(":", 1)[-1]


def is_kubernetes(resource_type: str) -> bool:
    # Helm Chart / ConfigFile components are not objects the API server receives.
    return resource_type.startswith("kubernetes:") and not resource_type.startswith(
        ("kubernetes:helm.sh/", "kubernetes:yaml/", "kubernetes:kustomize/")
    ) and resource_type != "pulumi:providers:kubernetes"


@dataclass(frozen=True)
class PodSpec:
    """A pod spec found inside an object: where it is, its metadata and spec."""

    path: str          # e.g. "spec.jobTemplate.spec.template.spec"
    metadata: Any      # the pod (template) metadata, possibly None
    spec: Any          # the pod spec mapping


@dataclass(frozen=True)
class Container:
    """One container of a pod spec, with its location for messages."""

    list_name: str     # containers | initContainers | ephemeralContainers
    index: int
    body: Any

    @property
    def name(self) -> str:
        return str(get(self.body, "name", default=f"#{self.index}"))

    def label(self, pod: PodSpec) -> str:
        return f"{pod.path}.{self.list_name}[{self.index}] ({self.name!r})"


def pod_specs(resource_type: str, props: Any) -> Iterator[PodSpec]:
    """Every pod spec in the object, at any depth.

    A pod spec is a mapping with a `containers` list. That covers Pod (`spec`),
    Deployment/StatefulSet/DaemonSet/ReplicaSet/Job (`spec.template.spec`), CronJob
    (`spec.jobTemplate.spec.template.spec`), PodTemplate (`template.spec`) and custom
    resources that embed a pod template, without a per-kind table.
    """
    if not is_kubernetes(resource_type) or kind_of(resource_type, props) in _NOT_WORKLOADS:
        return
    if not is_map(props):
        return
    yield from _walk(props, "", get(props, "metadata"))


def _walk(node: Any, path: str, meta: Any) -> Iterator[PodSpec]:
    if is_map(node):
        if "containers" in node and is_list(node["containers"]):
            yield PodSpec(path.lstrip("."), meta, node)
            return
        for key in list(node.keys()):
            if key in _SKIP_KEYS or (not path and key in _TOP_LEVEL_SKIP_KEYS):
                continue
            child = _child(node, key)
            if child is None:
                continue
            # The metadata that belongs to a pod spec is the sibling of its `spec` key.
            child_meta = get(node, "metadata") if key == "spec" else None
            yield from _walk(child, f"{path}.{key}", child_meta)
    elif is_list(node):
        for i in range(len(node)):
            child = _child(node, i)
            if child is not None:
                yield from _walk(child, f"{path}[{i}]", None)


def _child(node: Any, key: Any) -> Any:
    try:
        value = node[key]
    except UnknownValueError as err:
        # An unknown scalar cannot hide a pod; an unknown object or array could.
        if err.unknown_type_sentinel in (UNKNOWN_OBJECT_VALUE, UNKNOWN_ARRAY_VALUE):
            raise
        return None
    return value if (is_map(value) or is_list(value)) else None


def containers(pod: PodSpec, lists: tuple[str, ...] = CONTAINER_LISTS) -> Iterator[Container]:
    for list_name in lists:
        for i, body in enumerate(as_list(get(pod.spec, list_name))):
            if is_map(body):
                yield Container(list_name, i, body)


def is_windows(pod: PodSpec) -> bool:
    return get(pod.spec, "os", "name") == "windows"


def resource_policy(name: str, description: str, check: Callable[[str, Any, dict], Iterable[str]],
                    settings: Settings) -> ResourceValidationPolicy:
    """A per-resource policy around a pure `check(resource_type, props, config) -> messages`,
    which receives its config already merged over the defaults of `settings`."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in check(args.resource_type, args.props, merged(settings, args.get_config())):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=name, description=description, validate=validate,
        config_schema=PolicyConfigSchema(schema(settings)))


def stack_policy(name: str, description: str,
                 check: Callable[[list[StackObject], dict], Iterable[tuple[str, str]]],
                 settings: Settings) -> StackValidationPolicy:
    """A whole-stack policy around a pure `check(objects, config) -> (urn, message)` pairs,
    which receives its config already merged over the defaults of `settings`."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        objects = stack_objects(args)
        # Never pass what could not be seen: an object with neither outputs nor inputs is a
        # violation of every stack policy, not an absent object.
        for obj in objects:
            if not obj.seen:
                report_violation(f"{obj.kind} {obj.urn.rsplit('::', 1)[-1]}: its properties reached "
                                 "neither Analyze nor AnalyzeStack, so this policy cannot check it", obj.urn)
        for urn, message in check([o for o in objects if o.seen], merged(settings, args.get_config())):
            report_violation(message, urn)

    return StackValidationPolicy(
        name=name, description=description, validate=validate,
        config_schema=PolicyConfigSchema(schema(settings)))


def fmt_num(value: Any) -> str:
    """Numbers come back from protobuf Struct as floats; print 0.0 as 0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class InputsSeen:
    """Each resource's inputs as `Analyze` saw them, by URN, for the stack policies.

    Stack policies receive resources' *outputs*. In the preview of a stack whose Kubernetes
    provider is not configured yet (its kubeconfig is unknown: the first preview of a new
    stack), the engine gives every object of that provider empty outputs, so a stack policy
    would see a Namespace without a name and report it, or see nothing and pass it. The
    engine calls `Analyze` (with the inputs) on every resource before `AnalyzeStack`, in the
    same pack process; what it saw there stands in for the missing outputs.
    """

    def __init__(self) -> None:
        self._by_urn: dict[str, Any] = {}
        self._lock = threading.Lock()

    def record(self, urn: str, resource_type: str, props: Any) -> None:
        if urn and is_kubernetes(resource_type):
            with self._lock:
                self._by_urn[urn] = props

    def get(self, urn: str) -> Any:
        with self._lock:
            return self._by_urn.get(urn)

    def clear(self) -> None:
        with self._lock:
            self._by_urn.clear()


SEEN_INPUTS = InputsSeen()


@dataclass(frozen=True)
class StackObject:
    """A stack resource reduced to what stack policies need (pure-function input).

    `seen` is False when neither its outputs nor its inputs reached the pack."""

    urn: str
    type: str
    props: Any
    dependencies: tuple[str, ...] = ()
    seen: bool = True

    @functools.cached_property
    def kind(self) -> str:
        return kind_of(self.type, self.props)

    def namespace(self) -> Any:
        return known(lambda: get(self.props, "metadata", "namespace"))

    def name(self) -> Any:
        return known(lambda: get(self.props, "metadata", "name"))


UNKNOWN = object()
"""Stands for a value not known during preview (e.g. an auto-generated name)."""


def known(read: Any) -> Any:
    try:
        return read()
    except UnknownValueError:
        return UNKNOWN


def stack_objects(args: Any) -> list[StackObject]:
    """Kubernetes objects of a StackValidationArgs, with their dependency URNs."""
    out = []
    for r in args.resources:
        if not is_kubernetes(r.resource_type):
            continue
        props = r.props if is_map(r.props) else None
        if not props:  # no outputs: the provider was not configured in this preview
            props = SEEN_INPUTS.get(r.urn)
        deps = tuple(d.urn for d in (r.dependencies or []))
        if props is not None and is_map(props) and len(props):
            out.append(StackObject(r.urn, r.resource_type, props, deps))
        else:
            out.append(StackObject(r.urn, r.resource_type, {}, deps, seen=False))
    return out


def in_namespace(obj: StackObject, ns: StackObject) -> bool:
    """Whether `obj` lives in namespace object `ns`.

    By name when both are known; when the namespace name is only known after
    creation (auto-naming), an object that depends on the Namespace resource and whose
    own namespace is unknown is taken to be in it.
    """
    ns_name, obj_ns = ns.name(), obj.namespace()
    if ns_name is not UNKNOWN and obj_ns is not UNKNOWN:
        return ns_name is not None and obj_ns == ns_name
    return ns.urn in obj.dependencies


class NamespaceIndex:
    """`in_namespace(obj, ns)` for a set of objects, answered per namespace without a scan.

    Objects are filed by their known namespace name, and those whose namespace is unknown
    by the URNs they depend on, so `members(ns)` costs what it returns: a stack policy
    over N namespaces and their objects stays linear. Same answers, in the objects' order,
    as `[o for o in objects if in_namespace(o, ns)]`.
    """

    def __init__(self, objects: Iterable[StackObject]) -> None:
        self._objects = list(objects)
        self._by_name: dict[Any, list[int]] = {}
        self._by_dependency: dict[str, list[int]] = {}          # every object
        self._unknown_by_dependency: dict[str, list[int]] = {}  # objects whose namespace is unknown
        self._unhashable: list[int] = []
        for pos, obj in enumerate(self._objects):
            obj_ns = obj.namespace()
            if obj_ns is UNKNOWN:
                for urn in set(obj.dependencies):
                    self._unknown_by_dependency.setdefault(urn, []).append(pos)
            elif _hashable(obj_ns):
                self._by_name.setdefault(obj_ns, []).append(pos)
            else:
                self._unhashable.append(pos)
            for urn in set(obj.dependencies):
                self._by_dependency.setdefault(urn, []).append(pos)

    def members(self, ns: StackObject) -> list[StackObject]:
        name = ns.name()
        if name is UNKNOWN:
            found = self._by_dependency.get(ns.urn, [])
        elif not _hashable(name):
            return [o for o in self._objects if in_namespace(o, ns)]
        else:
            found = (self._by_name.get(name, []) if name is not None else [])
            found = found + self._unknown_by_dependency.get(ns.urn, [])
            found = found + [pos for pos in self._unhashable if in_namespace(self._objects[pos], ns)]
        return [self._objects[pos] for pos in sorted(set(found))]


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
