"""What the Pulumi engine and our providers would do with the registrations a run captured.

Mocks accept every registration; the engine does not. This module holds, as plain functions
over `StackRun`s, the engine rules the offline plan checks (ADR 0004 says where the plan stands in for the engine):

- `construct_errors(run)`: a remote component (`RegisterResource` with `remote=True`, e.g.
  `kubernetes:helm.sh/v4:Chart`) is built by its provider's `Construct`, which the engine
  refuses while that provider's configuration holds an unknown value — the case on every
  first `pulumi preview`, when the configuration comes from another resource's output.
  Ref: pulumi/pulumi sdk/go/common/resource/plugin/provider_plugin.go (`Configure` leaves the
  provider unconfigured when any input but `version` contains unknowns; `Construct` then
  fails with CONSTRUCT_UNKNOWN).
- `diff_runs(old, new)`: the step the engine would take for each resource between two runs
  of the program (pulumi 3.272, pkg/resource/deploy/step_generator.go): match by URN, an
  alias, or a URN inherited from an alias of the parent; then the provider's diff rule
  (`DIFF_RULES`, one table), `ignoreChanges`, `replaceOnChanges`, `deleteBeforeReplace`
  (with the dependents it drags along), `protect` (a replace is refused while old and new
  are protected, a delete while the state is), `retainOnDelete`. A new provider reference
  replaces only when the new provider's DiffConfig says so (Kubernetes: another active
  cluster); a replaced provider replaces every resource it manages. Components have no
  provider: same when their inputs are equal, else update.
- A replace or delete of a pulumi-command `remote.Command` that has a `delete` script runs
  that script on a host: the step is flagged DESTRUCTIVE-ON-HOST (host and what it does).

Values never leave this module: a step names changed property paths, never their contents.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from dataclasses import replace as replace_step
from typing import Any, TypedDict

from components import names
from components.network.resources import CONNECTION_KEYS, router_moved
from tools.imitations.harness import Registration, StackRun

CONSTRUCT_UNKNOWN = "cannot construct components if the provider is configured with unknown values"

# Step kinds, in the order the report lists them.
SAME, UPDATE, REPLACE, CREATE, DELETE = "same", "update", "replace", "create", "delete"
STEP_ORDER = (REPLACE, DELETE, CREATE, UPDATE, SAME)
CREATE_REPLACEMENT, DELETE_REPLACED = "create-replacement", "delete-replaced"

ANY = ("*",)  # replace on a change of any input


# --- the diff rules of the providers this program uses ----------------------------------------


@dataclass(frozen=True)
class DiffRule:
    """How one provider diffs one resource type.

    `replaces`: top-level input keys whose change replaces (`ANY`: every key). `watch`: when
    set, only these keys are diffed at all (the provider ignores the rest). `kubernetes`: the
    per-kind immutable-field rules below. `delete_before_replace`: the provider asks for it.
    """

    types: str  # fnmatch pattern over the type token
    replaces: tuple[str, ...] = ()
    # For some of `replaces`: a change replaces only when this says the two values differ in
    # what matters (the pfSense providers: `apiUrl` names another router host).
    replaces_when: tuple[tuple[str, Callable[[Any, Any], bool]], ...] = ()
    watch: tuple[str, ...] | None = None
    kubernetes: bool = False
    delete_before_replace: bool = False
    source: str = ""



DIFF_RULES: tuple[DiffRule, ...] = (
    DiffRule(names.REMOTE_COMMAND, replaces=("triggers",),
             source="pulumi-command v1.2.1: only `triggers` replaces; create/update/delete scripts, stdin, "
                    "connection, environment, logging update (an update runs `update`, or `create` if unset)"),
    DiffRule("command:remote:CopyToRemote", replaces=("triggers",),
             source="pulumi-command v1.2.1: only `triggers` replaces; source, remotePath, connection update"),
    DiffRule("command:local:Command", replaces=("triggers",), source="pulumi-command v1.2.1, as remote.Command"),
    DiffRule("random:*", replaces=ANY, source="pulumi-random: every input forces a new resource"),
    DiffRule("tls:*", replaces=ANY, source="pulumi-tls: every input forces a new resource"),
    DiffRule(names.PFSENSE_OBJECT,
             replaces=("kind", "naturalKey", "apiUrl"), delete_before_replace=True,
             replaces_when=(("apiUrl", router_moved),),
             watch=("kind", "naturalKey", "payload", *CONNECTION_KEYS),
             source="components/network/resources.py PfSenseObjectProvider.diff"),
    DiffRule("pulumi-python:dynamic/network:PfSenseApply",
             replaces=("subsystem", "apiUrl"), replaces_when=(("apiUrl", router_moved),),
             watch=("subsystem", "objectsHash", *CONNECTION_KEYS),
             source="components/network/resources.py PfSenseApplyProvider.diff"),
    DiffRule(names.HELM_RELEASE, replaces=("name", "namespace"),
             source="pulumi-kubernetes Release: a new release name or namespace is a new release "
                    "(not verified offline); values, chart and version update"),
    DiffRule("pulumi:providers:kubernetes", kubernetes=True,
             source="pulumi-kubernetes DiffConfig: replaces when the kubeconfig's active cluster (or "
                    "renderYamlToDirectory) changes; then every resource it manages is replaced too"),
    DiffRule("pulumi:providers:*", source="provider configuration: other providers update in place"),
    DiffRule("kubernetes:*", kubernetes=True,
             source="pulumi-kubernetes v4: metadata.name/namespace, apiVersion group or kind, and the "
                    "API server's immutable fields replace; everything else updates"),
)

# Kubernetes fields whose change replaces, by kind (dotted paths into the object; `*` matches
# any list element or key). Ref: pulumi-kubernetes provider/pkg/provider (forceNew table) and
# the API server's immutable fields.
K8S_IMMUTABLE: dict[str, tuple[str, ...]] = {
    "*": ("metadata.name", "metadata.namespace"),
    "Service": ("spec.clusterIP", "spec.clusterIPs", "spec.type"),
    "Deployment": ("spec.selector",),
    "ReplicaSet": ("spec.selector",),
    "DaemonSet": ("spec.selector",),
    "StatefulSet": ("spec.selector", "spec.serviceName", "spec.volumeClaimTemplates", "spec.podManagementPolicy"),
    "Job": ("spec.selector", "spec.template"),
    "PersistentVolumeClaim": ("spec.accessModes", "spec.selector", "spec.storageClassName", "spec.volumeName",
                              "spec.volumeMode", "spec.dataSource", "spec.resources.limits"),
    "RoleBinding": ("roleRef",),
    "ClusterRoleBinding": ("roleRef",),
    "Secret": ("type",),
    "StorageClass": ("parameters", "provisioner"),
    "ResourceQuota": ("spec.scopes",),
}
# With `immutable: true`, the data of a Secret or ConfigMap cannot change in place.
K8S_IMMUTABLE_DATA = ("data", "stringData", "binaryData")


def rule_for(type_: str) -> DiffRule | None:
    for rule in DIFF_RULES:
        if fnmatch.fnmatchcase(type_, rule.types):
            return rule
    return None


# --- values ---------------------------------------------------------------------------------


class _Secret:
    """A secret value, compared by content, never shown."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Secret) and self.value == other.value

    def __hash__(self) -> int:
        return hash(json.dumps(self.value, sort_keys=True, default=str))


def canonical(value: Any) -> Any:
    """Inputs as comparable plain data: secrets wrapped, assets by content, numbers as the
    wire has them (doubles), SDK objects by their identity on the wire."""
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return _Secret(canonical(rpc.unwrap_rpc_secret(value)))
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    for attr in ("text", "path", "uri"):
        if value.__class__.__name__.endswith(("Asset", "Archive")) and getattr(value, attr, None) is not None:
            return {"asset": value.__class__.__name__, attr: getattr(value, attr)}
    urn = getattr(value, "urn", None)
    if urn is not None and hasattr(urn, "future"):
        return {"resource": value.__class__.__name__}
    return repr(value)


def changed_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths (`a.b[0].c`) where `new` differs from `old`; a secret is one leaf."""
    if isinstance(old, _Secret) or isinstance(new, _Secret):
        return [] if old == new else [prefix or "(value)"]
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            path = f"{prefix}.{key}" if prefix else key
            if key not in old or key not in new:
                out.append(path)
            else:
                out.extend(changed_paths(old[key], new[key], path))
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            out.extend(changed_paths(a, b, f"{prefix}[{i}]"))
        return out
    return [] if old == new else [prefix or "(value)"]


def _segments(path: str) -> list[str]:
    return [s for s in path.replace("[", ".[").split(".") if s]


def path_matches(pattern: str, path: str) -> bool:
    """True when a change at `path` falls under `pattern` (`*` / `[*]` match one segment):
    the pattern is a prefix of the path, or the path a prefix of the pattern (a whole subtree
    that appeared or went away)."""
    pat, seg = _segments(pattern), _segments(path)
    for p, s in zip(pat, seg, strict=False):
        if p in ("*", "[*]"):
            continue
        if p != s:
            return False
    return True


def _top(path: str) -> str:
    return _segments(path)[0].split("[")[0] if path else path


# --- steps ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    op: str  # same | update | replace | create | delete
    urn: str
    type: str
    name: str
    changed: tuple[str, ...] = ()  # property paths that differ (names only)
    replace_keys: tuple[str, ...] = ()  # what forces the replace
    order: tuple[str, ...] = ()  # for a replace: create-replacement/delete-replaced, in run order
    destructive: str | None = None  # "host <ip>: <what the delete script does>" when it runs there
    error: str | None = None  # the engine refuses this step
    warning: str | None = None  # accepted, but a step to prepare for (host_rules: a datastore migration)
    note: str = ""
    old_urn: str | None = None  # when matched through an alias

    @property
    def fails_change(self) -> bool:
        """A change that must not go ahead: refused, or a host-side delete of a resource the
        new config still has (a replace)."""
        return bool(self.error) or (self.op == REPLACE and bool(self.destructive))


class _StepIdentity(TypedDict):
    """The fields of a `Step` that name its resource (the same for every op)."""

    urn: str
    type: str
    name: str
    old_urn: str | None


def _parent_chain_type(urn: str) -> str:
    return urn.split("::")[2]


def _child_urn(parent_urn: str, type_: str, name: str) -> str:
    stack_part, project = parent_urn.split("::")[0:2]
    return "::".join([stack_part, project, f"{_parent_chain_type(parent_urn)}${type_}", name])


def candidate_urns(reg: Registration, by_urn: dict[str, Registration]) -> list[str]:
    """The URNs the engine would look for in the old state: the resource's own, its aliases,
    and the URNs it would have had under any alias of its parent (inherited aliases)."""
    out = [reg.urn, *reg.aliases]
    parent = by_urn.get(reg.parent or "")
    if parent is not None:
        for parent_urn in candidate_urns(parent, by_urn)[1:]:
            out.append(_child_urn(parent_urn, reg.type, reg.name))
    return list(dict.fromkeys(out))


def _unwrap(value: Any) -> Any:
    from pulumi.runtime import rpc

    return rpc.unwrap_rpc_secret(value) if rpc.is_rpc_secret(value) else value


def host_delete(reg: Registration) -> str | None:
    """For a pulumi-command remote.Command with a `delete` script: which host it runs on and
    what it does (the script's first comment, else its first command line)."""
    if reg.type != names.REMOTE_COMMAND:
        return None
    script = reg.inputs.get("delete")
    if not script:
        return None
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(script):
        summary = "[secret]"
    else:
        lines = [line.strip() for line in str(script).splitlines() if line.strip()]
        comments = [line.lstrip("#").strip() for line in lines if line.startswith("#") and not line.startswith("#!")]
        commands = [line for line in lines if not line.startswith("#")]
        summary = (comments or commands or ["(empty)"])[0]
    connection = _unwrap(reg.inputs.get("connection")) or {}
    host = _unwrap(connection.get("host")) if isinstance(connection, dict) else None
    return f"host {host or '?'}: {summary}"


def _active_cluster(provider_inputs: dict | None) -> Any:
    """The cluster entry the kubeconfig's current context points at (None: ambient config)."""
    import yaml

    raw = _unwrap((provider_inputs or {}).get("kubeconfig"))
    if not raw:
        return None
    try:
        doc = yaml.safe_load(raw) if isinstance(raw, str) else raw
    except yaml.YAMLError:
        return raw
    if not isinstance(doc, dict):
        return raw
    context_name = (provider_inputs or {}).get("context") or doc.get("current-context")
    contexts = {c.get("name"): c.get("context") or {} for c in doc.get("contexts") or []}
    cluster_name = (provider_inputs or {}).get("cluster") or contexts.get(context_name, {}).get("cluster")
    clusters = {c.get("name"): c.get("cluster") for c in doc.get("clusters") or []}
    return clusters.get(cluster_name)


def provider_config_replaces(type_: str, old_inputs: dict | None, new_inputs: dict | None) -> list[str]:
    """What a provider's DiffConfig says forces replacement between two configurations (old or
    new None: the default provider, configured from the ambient environment)."""
    if type_ != "pulumi:providers:kubernetes":
        return []
    old_c = {k: canonical(v) for k, v in (old_inputs or {}).items() if k != "version"}
    new_c = {k: canonical(v) for k, v in (new_inputs or {}).items() if k != "version"}
    changed = sorted({_top(p) for p in changed_paths(old_c, new_c)})
    # pulumi-kubernetes DiffConfig: a clusterIdentifier set on both sides decides alone — changed,
    # it replaces; unchanged, nothing replaces (its deferred reset of Replaces). Adding or
    # removing it leaves the rules below in charge.
    old_id = _unwrap((old_inputs or {}).get("clusterIdentifier"))
    new_id = _unwrap((new_inputs or {}).get("clusterIdentifier"))
    if old_id and new_id:
        return ["clusterIdentifier"] if old_id != new_id else []
    if _active_cluster(old_inputs) != _active_cluster(new_inputs):
        return changed or ["kubeconfig"]
    return [k for k in changed if k == "renderYamlToDirectory"]


def _kubernetes_replaces(old_inputs: dict, new_inputs: dict, changed: list[str],
                         provider_inputs: dict | None = None) -> list[str]:
    kind = new_inputs.get("kind") or old_inputs.get("kind")
    replaces = []
    old_group = str(old_inputs.get("apiVersion", "")).rpartition("/")[0]
    new_group = str(new_inputs.get("apiVersion", "")).rpartition("/")[0]
    if old_group != new_group:
        replaces.append("apiVersion")
    if old_inputs.get("kind") != new_inputs.get("kind"):
        replaces.append("kind")
    fields = [*K8S_IMMUTABLE["*"], *K8S_IMMUTABLE.get(str(kind), ())]
    if kind in ("Secret", "ConfigMap") and old_inputs.get("immutable") is True:
        fields += list(K8S_IMMUTABLE_DATA)
    if kind == "ConfigMap" and _unwrap((provider_inputs or {}).get("enableConfigMapMutable")) not in (True, "true"):
        fields += ["data", "binaryData"]  # the provider's default: a ConfigMap's data is replaced
    for path in changed:
        if any(path_matches(f, path) for f in fields):
            if kind == "PersistentVolumeClaim" and path.startswith("spec.resources.requests"):
                continue  # only storage requests can grow in place
            replaces.append(path)
    return replaces


def _keep_old_value(old: dict, new: dict, path: str) -> None:
    """`ignoreChanges`: the new inputs take the old value at `path` (or lose it if it had none)."""
    keys = [int(k[1:-1]) if k.startswith("[") else k for k in _segments(path)]
    src, dst = old, new
    for key in keys[:-1]:
        try:
            src, dst = src[key], dst[key]
        except (KeyError, IndexError, TypeError):
            return
    last = keys[-1]
    try:
        dst[last] = src[last]
    except (KeyError, IndexError, TypeError):
        if isinstance(dst, dict):
            dst.pop(last, None)


def diff_resource(old: Registration, new: Registration, *, provider_replaced: bool = False,
                  provider_inputs: tuple[dict | None, dict | None] = (None, None)) -> Step:
    """The step for one resource present in both runs. `provider_replaced`: the provider that
    manages it is itself replaced; `provider_inputs`: (old, new) configuration of its provider
    (None: the default provider), read when the provider reference changed."""
    base: _StepIdentity = {"urn": new.urn, "type": new.type, "name": new.name,
                           "old_urn": old.urn if old.urn != new.urn else None}
    old_in = {k: canonical(v) for k, v in old.inputs.items()}
    new_in = {k: canonical(v) for k, v in new.inputs.items()}
    for path in new.ignore_changes:
        _keep_old_value(old_in, new_in, path)

    if not new.custom:
        changed = changed_paths(old_in, new_in)
        note = "remote component: its provider re-renders its children (not visible offline)" if new.remote else ""
        return Step(UPDATE if changed else SAME, changed=tuple(changed), note=note, **base)

    rule = rule_for(new.type)
    if rule is not None and rule.watch is not None:
        old_in = {k: v for k, v in old_in.items() if k in rule.watch}
        new_in = {k: v for k, v in new_in.items() if k in rule.watch}
    changed = changed_paths(old_in, new_in)
    # A new provider reference replaces when the new provider's DiffConfig says its
    # configuration needs a replacement (pulumi 3.272 step_generator.providerChanged).
    provider_changed = (old.provider or "") != (new.provider or "") and bool(
        provider_config_replaces(_provider_type(new.provider or old.provider or ""), *provider_inputs))
    if not changed and not provider_changed and not provider_replaced:
        return Step(SAME, **base)

    replace_keys: list[str] = []
    note = "" if rule is not None else "no diff rule for this type: any change assumed an update"
    if provider_changed or provider_replaced:
        replace_keys.append("provider")
        if provider_replaced:
            note = "its provider is replaced"
    if rule is not None and rule.kubernetes and new.type.startswith("pulumi:providers:"):
        replace_keys += provider_config_replaces(new.type, old.inputs, new.inputs)
    elif rule is not None:
        if rule.replaces == ANY:
            replace_keys += [_top(p) for p in changed]
        else:
            replace_keys += [key for key in dict.fromkeys(_top(p) for p in changed)
                             if key in rule.replaces and _replaces_value(rule, key, old.inputs, new.inputs)]
        if rule.kubernetes:
            replace_keys += _kubernetes_replaces(old.inputs, new.inputs, changed, provider_inputs[1])
    for pattern in new.replace_on_changes:
        replace_keys += [_top(p) for p in changed if path_matches(pattern, p)]
    replace_keys = list(dict.fromkeys(replace_keys))

    if not replace_keys:
        return Step(UPDATE, changed=tuple(changed), note=note, **base)

    dbr = new.delete_before_replace or (rule is not None and rule.delete_before_replace)
    order = (DELETE_REPLACED, CREATE_REPLACEMENT) if dbr else (CREATE_REPLACEMENT, DELETE_REPLACED)
    error = None
    if new.protect and old.protect:
        # Dropping `protect` in the same change is allowed: the engine checks both.
        error = (f'unable to replace resource "{new.urn}": it is marked for protection '
                 "(the engine refuses; drop `protect` in the program first)")
    destructive = None if (old.retain_on_delete or new.retain_on_delete) else host_delete(old)
    if old.retain_on_delete or new.retain_on_delete:
        note = (note + "; " if note else "") + "retainOnDelete: the replaced resource is only dropped from the state"
    return Step(REPLACE, changed=tuple(changed), replace_keys=tuple(replace_keys), order=order,
                destructive=destructive, error=error, note=note, **base)


def inputs_unknown_in_preview(reg: Registration, old_by_urn: dict[str, Registration],
                              new_by_urn: dict[str, Registration]) -> list[str]:
    """The inputs of `reg` that the preview does not know: those fed by a resource the same
    run creates, updates or replaces (its outputs are computed until it has run)."""
    unknown = []
    for key, urns in reg.property_dependencies.items():
        for urn in urns:
            new_src, old_src = new_by_urn.get(urn), old_by_urn.get(urn)
            if new_src is None or old_src is None or not new_src.custom or \
                    diff_resource(old_src, new_src).op in (UPDATE, REPLACE):
                unknown.append(key)
                break
    return unknown


def _computed_kubeconfig(step: Step, old: Registration, new: Registration,
                         old_by_urn: dict[str, Registration], new_by_urn: dict[str, Registration]) -> Step:
    """pulumi-kubernetes' DiffConfig replaces the provider (and so every object on it) when its
    kubeconfig is unknown in the preview — unless `clusterIdentifier` is set and unchanged, which
    turns every provider change into an update (provider.go DiffConfig)."""
    if new.type != "pulumi:providers:kubernetes" or step.op == REPLACE:
        return step
    if "kubeconfig" not in inputs_unknown_in_preview(new, old_by_urn, new_by_urn):
        return step
    old_id, new_id = _unwrap(old.inputs.get("clusterIdentifier")), _unwrap(new.inputs.get("clusterIdentifier"))
    if new_id and old_id == new_id:
        note = "kubeconfig unknown in the preview (its source changes); an update: clusterIdentifier is unchanged"
        return replace_step(step, op=UPDATE, changed=tuple(dict.fromkeys((*step.changed, "kubeconfig"))), note=note)
    return replace_step(step, op=REPLACE, replace_keys=("kubeconfig",), order=(CREATE_REPLACEMENT, DELETE_REPLACED),
                   note="kubeconfig unknown in the preview (its source changes) and no stable clusterIdentifier: "
                        "pulumi-kubernetes replaces the provider and every object on it")


def _computed_command_inputs(step: Step, new: Registration, old_by_urn: dict[str, Registration],
                             new_by_urn: dict[str, Registration]) -> Step:
    """A command fed by a resource the same run changes sees that input unknown in the preview,
    and pulumi-command diffs an unknown input as a change: the preview shows an update even
    where the mocks' values match; the `up` runs it only if the value really changed (both seen
    in the engine tier: tests/engine/test_unknown_inputs.py)."""
    if not new.type.startswith("command:") or step.op != SAME:
        return step
    unknown = inputs_unknown_in_preview(new, old_by_urn, new_by_urn)
    if not unknown:
        return step
    return replace_step(step, op=UPDATE, changed=tuple(unknown),
                        note=f"{', '.join(unknown)} unknown in the preview (its source changes): an update "
                             "in the preview, run by the `up` only if the value changed")


def diff_runs(old: StackRun, new: StackRun) -> list[Step]:
    """Every step the engine would take to go from `old`'s resources to `new`'s: resources
    matched by URN or alias, one `Step` each, creates in program order, deletes last."""
    old_by_urn = {r.urn: r for r in old.registrations}
    new_by_urn = {r.urn: r for r in new.registrations}
    claimed: set[str] = set()
    steps: list[Step] = []
    # The engine resolves aliases of providers before resources: a provider reached through
    # an alias is not a provider change.
    provider_alias: dict[str, str] = {}
    matches: list[tuple[Registration, Registration | None]] = []
    for reg in new.registrations:
        found = None
        for urn in candidate_urns(reg, new_by_urn):
            if urn in old_by_urn and urn not in claimed:
                found = old_by_urn[urn]
                break
        if found is not None:
            claimed.add(found.urn)
            if found.urn != reg.urn:
                provider_alias[found.urn] = reg.urn
        matches.append((reg, found))

    def config(run_by_urn: dict[str, Registration], urn: str | None) -> dict | None:
        found = run_by_urn.get(urn or "")
        return found.inputs if found is not None else None

    # Providers first: a replaced provider replaces every resource it manages.
    by_new: dict[str, Step] = {}
    replaced_providers: set[str] = set()
    for reg, found in matches:
        if found is not None and reg.type.startswith("pulumi:providers:"):
            step = diff_resource(found, reg)
            step = _computed_kubeconfig(step, found, reg, old_by_urn, new_by_urn)
            by_new[reg.urn] = step
            if step.op == REPLACE:
                replaced_providers.add(reg.urn)
    for reg, found in matches:
        if found is None:
            steps.append(Step(CREATE, reg.urn, reg.type, reg.name))
            continue
        if reg.urn in by_new:
            steps.append(by_new[reg.urn])
            continue
        old_provider_inputs = config(old_by_urn, found.provider)
        if found.provider and found.provider in provider_alias:
            found = _with_provider(found, provider_alias[found.provider])  # aliased: the same provider
        step = diff_resource(
            found, reg, provider_replaced=reg.custom and reg.provider in replaced_providers,
            provider_inputs=(old_provider_inputs, config(new_by_urn, reg.provider)))
        steps.append(_computed_command_inputs(step, reg, old_by_urn, new_by_urn))
    steps = _dependent_replacements(steps, new_by_urn, old_by_urn)

    for reg in reversed(old.registrations):  # dependents are deleted before what they use
        if reg.urn in claimed:
            continue
        error = None
        if reg.protect:
            error = (f'unable to delete resource "{reg.urn}": it is marked for protection '
                     f"(the engine refuses; first: pulumi state unprotect '{reg.urn}')")
        retained = reg.retain_on_delete
        steps.append(Step(DELETE, reg.urn, reg.type, reg.name, error=error,
                          destructive=None if retained else host_delete(reg),
                          note="retainOnDelete: only dropped from the state" if retained else ""))
    from tools.imitations import host_rules  # what the hosts and the router cannot take

    return host_rules.apply(steps, old, new)


def _replaces_value(rule: DiffRule, key: str, old_inputs: dict, new_inputs: dict) -> bool:
    """Whether the change of `key`, one of `rule.replaces`, replaces (see `replaces_when`)."""
    for name, differs in rule.replaces_when:
        if name == key:
            return differs(old_inputs.get(key), new_inputs.get(key))
    return True


def would_replace(reg: Registration, keys: list[str]) -> bool:
    """Whether the provider would replace `reg` if the inputs `keys` became unknown (the
    engine's test for dependents of a delete-before-replace)."""
    if "provider" in keys:
        return True
    rule = rule_for(reg.type)
    if any(path_matches(pattern, key) for pattern in reg.replace_on_changes for key in keys):
        return True
    if rule is None:
        return False
    if rule.replaces == ANY or any(key in rule.replaces for key in keys):
        return True
    if rule.kubernetes:
        kind = reg.inputs.get("kind")
        fields = [*K8S_IMMUTABLE["*"], *K8S_IMMUTABLE.get(str(kind), ())]
        return any(path_matches(f, key) for f in fields for key in keys)
    return False


def _dependent_replacements(steps: list[Step], new_by_urn: dict[str, Registration],
                            old_by_urn: dict[str, Registration]) -> list[Step]:
    """A delete-before-replace deletes the old resource first, so everything whose inputs
    come from it, and that its provider would replace for that, is replaced with it
    (pkg/resource/deploy/step_generator.go calculateDependentReplacements)."""
    by_urn = {s.urn: i for i, s in enumerate(steps)}
    replace_set = {s.urn for s in steps if s.op == REPLACE and s.order[:1] == (DELETE_REPLACED,)}
    grew = bool(replace_set)
    while grew:
        grew = False
        for urn, i in by_urn.items():
            step, reg = steps[i], new_by_urn.get(urn)
            if reg is None or not reg.custom or step.op in (REPLACE, CREATE) or urn in replace_set:
                continue
            keys = sorted(k for k, urns in reg.property_dependencies.items() if set(urns) & replace_set)
            if reg.provider in replace_set:
                keys.append("provider")
            if not keys or not would_replace(reg, keys):
                continue
            old = old_by_urn.get(step.old_urn or urn)
            error = None
            if reg.protect and old is not None and old.protect:
                error = (f'unable to replace resource "{urn}" along with a delete-before-replace dependency: '
                         "it is marked for protection (the engine refuses)")
            steps[i] = replace_step(step, op=REPLACE, replace_keys=tuple(keys),
                                    order=(DELETE_REPLACED, CREATE_REPLACEMENT), error=error,
                                    destructive=host_delete(old) if old is not None and not old.retain_on_delete
                                    else None,
                                    note="replaced with a delete-before-replace dependency")
            replace_set.add(urn)
            grew = True
    return steps


def _provider_type(provider_urn: str) -> str:
    """`pulumi:providers:<pkg>` from a provider URN (its type is the last `$` segment)."""
    return provider_urn.split("::")[2].split("$")[-1] if provider_urn.count("::") >= 3 else ""


def _with_provider(reg: Registration, provider: str) -> Registration:
    from dataclasses import replace

    return replace(reg, provider=provider)


# --- fresh preview --------------------------------------------------------------------------


def construct_errors(run: StackRun) -> list[str]:
    """The engine's refusal to construct a remote component whose provider is configured
    with an unknown value, one message per component (empty when there is none)."""
    by_urn = {r.urn: r for r in run.registrations}
    errors = []
    for reg in sorted(run.registrations, key=lambda r: r.urn):
        if not reg.remote:
            continue
        package = reg.type.split(":", 1)[0]
        provider_urn = reg.provider or reg.providers.get(package)
        if not provider_urn:
            continue  # the default provider: configured from stack config, always known
        provider = by_urn.get(provider_urn)
        if provider is None:
            continue  # not registered in this run: none of its inputs is known to be unknown
        unknown = [k for k in provider.unknown_inputs if k != "version"]
        if not unknown:
            continue
        errors.append(
            f"error: {reg.urn} ({reg.type}): {CONSTRUCT_UNKNOWN}\n"
            f"  provider {provider.name} ({provider.type}) has unknown inputs: {', '.join(unknown)}")
    return errors


def unconfigured_provider_resources(run: StackRun) -> set[str]:
    """URNs of the custom resources whose explicit provider has an unknown input (other than
    its version): in a preview the engine does not configure that provider and gives each of
    its resources empty outputs, which is what stack policies then receive."""
    by_urn = {r.urn: r for r in run.registrations}
    out = set()
    for reg in run.registrations:
        if not reg.custom or reg.type.startswith("pulumi:providers:"):
            continue
        provider = by_urn.get(reg.provider or "")
        if provider is not None and [k for k in provider.unknown_inputs if k != "version"]:
            out.add(reg.urn)
    return out


# --- reporting ------------------------------------------------------------------------------


@dataclass
class ChangeReport:
    steps: list[Step]
    lines: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(s.fails_change for s in self.steps)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _line(step: Step) -> str:
    parts = [f"{step.op:<8}", step.type, step.name]
    if step.replace_keys:
        parts.append(f"[replace: {', '.join(step.replace_keys)}]")
    elif step.changed:
        shown = ", ".join(step.changed[:6]) + (" ..." if len(step.changed) > 6 else "")
        parts.append(f"[changed: {shown}]")
    if step.order:
        parts.append(f"({' then '.join(step.order)})")
    if step.destructive:
        parts.append(f"DESTRUCTIVE-ON-HOST {step.destructive}")
    if step.old_urn:
        parts.append(f"(was {step.old_urn})")
    if step.note:
        parts.append(f"-- {step.note}")
    return "  " + " ".join(parts)


def change_report(steps: Iterable[Step], title: str) -> ChangeReport:
    steps = list(steps)
    report = ChangeReport(steps)
    out = report.lines
    out.append(title)
    counts = {op: sum(1 for s in steps if s.op == op) for op in STEP_ORDER}
    out.append("steps: " + ", ".join(f"{counts[op]} {op}" for op in STEP_ORDER))
    errors = sorted((s for s in steps if s.error), key=lambda s: s.urn)
    destructive = sorted((s for s in steps if s.destructive), key=lambda s: (s.op, s.type, s.name))
    if destructive:
        out.append(f"destructive ({len(destructive)}):")
        out += [_line(s) for s in destructive]
    if errors:
        out.append(f"errors ({len(errors)}):")
        out += [f"  error: {s.error}" for s in errors]
    warnings = sorted((s for s in steps if s.warning), key=lambda s: s.urn)
    if warnings:
        out.append(f"warnings ({len(warnings)}):")
        out += [f"  warning: {s.warning}" for s in warnings]
    for op in STEP_ORDER:
        if op == SAME:
            continue
        group = [s for s in steps if s.op == op and not s.destructive]
        if group:
            out.append(f"{op} ({len(group)}):")
            out += [_line(s) for s in sorted(group, key=lambda s: (s.type, s.name))]
    refused = sum(1 for s in steps if s.error)
    host_replaces = sum(1 for s in steps if s.op == REPLACE and s.destructive)
    if refused or host_replaces:
        out.append(f"FAILED: {refused} step(s) the engine refuses, {host_replaces} replace(s) running a "
                   "delete script on a host for a resource the new config keeps")
    return report
