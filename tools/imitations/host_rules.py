"""Changes the engine would run but the hosts and the router cannot take, for the change mode.

The engine rules (engine_rules.py) say which step each change becomes. Some steps are accepted
by the engine and still wrong on the other side; the change mode refuses them, naming what
works instead:

- **k3s settings it cannot change on a running cluster** (`cluster-cidr`, `service-cidr`,
  `secrets-encryption`, and the passed-through `cluster-dns`, `cluster-domain`,
  `flannel-backend`: `k3s_options.FIXED_AT_CREATION`): the config step would be an update and
  k3s would restart with a config its datastore contradicts (k3s docs: these are set at
  cluster creation; secrets encryption is switched with `k3s secrets-encrypt`). Every other
  changed key is an update noted as a restart of k3s on that node, naming the keys.
- **an upgrade across more than one minor** (`k3sVersion` v1.34 -> v1.36): Kubernetes' skew
  policy upgrades the control plane one minor at a time.
- **a datastore migration** (not refused, a warning): the first server's config gaining
  `cluster-init` — one server becoming three — moves k3s from SQLite into embedded etcd when
  it restarts; the report says to take a copy of the datastore first.
- **a natural key moving between resources**: one resource deletes a router object (a delete,
  or the first half of a replace) whose natural key another resource of the same run creates.
  The driver's create adopts an existing object by natural key, and the engine runs deletes
  after creates, so the delete removes the object the create just took: refused, for any kind
  (`natural_key_taken`). A node rename no longer does this: its DHCP mapping is named by the
  MAC (components/network/payloads.py), so a rename is an update of that one resource.
- **a node that moves to another address or network** (a new `ip`, `cluster.network` naming
  another network, or a VLAN network re-addressed under its nodes): its DHCP mapping would
  be updated in place while k3s keeps the old address (node IP, etcd peer URL, certificates);
  a node changes address by being rebuilt. Remove it in one `up`, add it back with its new
  address in the next (docs/operations.md). A VLAN network's router address changing while
  nodes live on it is refused too: their leases, HAProxy's address and the API name move.
- **a server renamed on the same host**: k3s keeps the node and etcd member name on disk, so
  the old name's member delete drains forever or removes the live member. Remove the server
  in one `up` and add it under its new name in the next (docs/operations.md).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace
from typing import Any

import yaml

from components import names
from components.config import k3s_options
from components.network.resources import router_host
from tools.imitations.harness import Registration, StackRun

# Which k3s keys a running cluster cannot take (components/config/k3s_options.py keeps the table
# beside the flag list, so a passed-through key is judged like the program's own).
FIXED_AT_CREATION = k3s_options.FIXED_AT_CREATION


def _unwrap(value: Any) -> Any:
    from pulumi.runtime import rpc

    return rpc.unwrap_rpc_secret(value) if rpc.is_rpc_secret(value) else value


def _config_text(reg: Registration) -> str | None:
    source = reg.inputs.get("source")
    text = getattr(source, "text", None)
    return text if isinstance(text, str) else None


def fixed_setting_changes(old: Registration, new: Registration) -> list[str]:
    """Messages for each k3s setting that differs between two renderings of a node's config."""
    old_text, new_text = _config_text(old), _config_text(new)
    if old_text is None or new_text is None or old_text == new_text:
        return []
    before, after = yaml.safe_load(old_text) or {}, yaml.safe_load(new_text) or {}
    out = []
    for key, how in FIXED_AT_CREATION.items():
        if before.get(key) != after.get(key):
            out.append(f"k3s cannot change {key} on a running cluster ({before.get(key)!r} -> "
                       f"{after.get(key)!r}) on {new.name}: {how}")
    return out


def datastore_migration(old: Registration, new: Registration) -> str | None:
    """The first server's config gaining `cluster-init`: one server becoming three, which moves
    k3s's datastore from SQLite into embedded etcd at the next start (k3s docs, "High
    Availability Embedded etcd": an existing SQLite server converts when restarted with
    cluster-init)."""
    old_text, new_text = _config_text(old), _config_text(new)
    if old_text is None or new_text is None:
        return None
    before, after = yaml.safe_load(old_text) or {}, yaml.safe_load(new_text) or {}
    if after.get("cluster-init") and not before.get("cluster-init"):
        node = after.get("node-name", new.name)
        return (f"datastore migration on {node}: k3s restarts with cluster-init and moves the cluster "
                "from SQLite into embedded etcd — snapshot first: stop k3s and copy "
                "/var/lib/rancher/k3s/server/db/ off the host (docs/operations.md, 'From one server to "
                "three'); the joining servers follow, one at a time")
    if before.get("cluster-init") and not after.get("cluster-init"):
        node = after.get("node-name", new.name)
        return (f"{node} loses cluster-init: k3s keeps its etcd datastore (there is no way back to "
                "SQLite); a single server on etcd keeps working, without a quorum to lose")
    return None


_TARGET = re.compile(r"^target='v1\.(\d+)\.\d+\+k3s\d+'$", re.M)


def minor_skip(old: Registration, new: Registration) -> str | None:
    """An upgrade step going up more than one Kubernetes minor (the skew policy allows one at a
    time: each control-plane minor must run before the next)."""
    before = _TARGET.search(str(old.inputs.get("create") or ""))
    after = _TARGET.search(str(new.inputs.get("create") or ""))
    if not (before and after) or int(after.group(1)) - int(before.group(1)) <= 1:
        return None
    return (f"{new.name}: k3s from v1.{before.group(1)} to v1.{after.group(1)} skips a minor — upgrade one "
            f"minor at a time (v1.{int(before.group(1)) + 1} first, `pulumi up`, then the next)")


def restart_note(old: Registration, new: Registration, node: str) -> str:
    """What a config update of `node` does on its host: the k3s keys it changes, each restarting k3s."""
    old_text, new_text = _config_text(old), _config_text(new)
    if old_text is None or new_text is None or old_text == new_text:
        return ""
    before, after = yaml.safe_load(old_text) or {}, yaml.safe_load(new_text) or {}
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return f"k3s restarts on {node} for: {', '.join(changed)}" if changed else ""


def _host(reg: Registration) -> str | None:
    connection = _unwrap(reg.inputs.get("connection"))
    return _unwrap(connection.get("host")) if isinstance(connection, dict) else None


PFSENSE_OBJECT = names.PFSENSE_OBJECT


def _router_object(reg: Registration, kind: str) -> dict[str, Any] | None:
    """The payload of a router object of `kind`, or None."""
    if reg.type != PFSENSE_OBJECT or _unwrap(reg.inputs.get("kind")) != kind:
        return None
    payload = _unwrap(reg.inputs.get("payload"))
    return payload if isinstance(payload, dict) else None


def node_move(old: Registration, new: Registration) -> str | None:
    """Why a node's DHCP mapping changing this way needs a rebuild, or None."""
    before, after = _router_object(old, "static_mapping"), _router_object(new, "static_mapping")
    if before is None or after is None:
        return None
    moved = [(f, before.get(f), after.get(f)) for f in ("ipaddr", "parent_id") if before.get(f) != after.get(f)]
    if not moved:
        return None
    what = ", ".join(f"{'address' if f == 'ipaddr' else 'interface'} {a} -> {b}" for f, a, b in moved)
    return (f"node {after.get('hostname')} would move ({what}): k3s keeps a node's address (node IP, etcd peer "
            "URL, certificates), so a node moves to another address or network only by a rebuild — remove it "
            "from the cluster in one `up`, then add it back with its new address in the next (docs/operations.md)")


def network_readdress(old: Registration, new: Registration, mappings: list[dict[str, Any]]) -> str | None:
    """Why re-addressing a VLAN network's interface is refused while nodes live on it, or None."""
    before, after = _router_object(old, "interface"), _router_object(new, "interface")
    if before is None or after is None:
        return None
    try:  # numbers come back from the wire as floats (24.0)
        was = ipaddress.IPv4Interface(f"{before.get('ipaddr')}/{int(before.get('subnet') or 0)}")
        now = ipaddress.IPv4Interface(f"{after.get('ipaddr')}/{int(after.get('subnet') or 0)}")
        held = sorted(str(m.get("hostname")) for m in mappings
                      if ipaddress.IPv4Address(str(m.get("ipaddr"))) in was.network)
    except (TypeError, ValueError):
        return None
    if was == now or not held:
        return None
    return (f"the VLAN network on {after.get('if')} would be re-addressed ({was} -> {now}) while nodes {', '.join(held)} live on it: their "
            "addresses, leases and the router's HAProxy address move with it — rebuild the nodes on the new network "
            "(remove them in one `up`, add them back in the next), or keep the network's addresses")


def router_identity(reg: Registration) -> tuple[str, str] | None:
    """Which router object a resource holds: (router host, natural key), or None for a
    resource without a natural key. The same key on another router is another object."""
    key = _unwrap(reg.inputs.get("naturalKey"))
    if not key:
        return None
    return router_host(_unwrap(reg.inputs.get("apiUrl"))), str(key)


def natural_key_taken(steps: list, old_by_urn: dict[str, Registration],
                      new_by_urn: dict[str, Registration]) -> dict[str, str]:
    """Errors by step URN: each step that deletes a router object (a delete, or a replace's
    delete of the old object) whose natural key a create (or a replace's create) of another
    resource in the same run holds."""
    takers: dict[tuple[str, str], Registration] = {}
    for step in steps:
        if step.op in ("create", "replace") and step.urn in new_by_urn:
            ident = router_identity(new_by_urn[step.urn])
            if ident is not None:
                takers.setdefault(ident, new_by_urn[step.urn])
    out = {}
    for step in steps:
        if step.op not in ("delete", "replace"):
            continue
        gone = old_by_urn.get(step.old_urn or step.urn)
        ident = router_identity(gone) if gone is not None else None
        taker = takers.get(ident) if ident is not None else None
        if gone is None or ident is None or taker is None or taker.urn == step.urn:
            continue
        what = "this delete" if step.op == "delete" else "this replace, deleting it first,"
        out[step.urn] = (f"{gone.name} and {taker.name} are the same pfSense object ({ident[1]}): the create "
                         f"adopts it and {what} then removes it — keep one resource for the object (the same "
                         "name, or an alias from the old one), or change it in two `up`s (remove it in one, "
                         "add it in the next)")
    return out


def apply(steps: list, old: StackRun, new: StackRun) -> list:
    """`steps` with an error set on each step the hosts or the router cannot take."""
    old_by_urn = {r.urn: r for r in old.registrations}
    new_by_urn = {r.urn: r for r in new.registrations}
    creates = [new_by_urn[s.urn] for s in steps if s.op == "create" and s.urn in new_by_urn]
    deletes = {s.urn: old_by_urn[s.urn] for s in steps if s.op == "delete" and s.urn in old_by_urn}

    taken = natural_key_taken(steps, old_by_urn, new_by_urn)
    clusters = {r.name for run in (old, new) for r in run.registrations if r.type == names.K3S_CLUSTER}

    def node_step(reg: Registration) -> tuple[str, str] | None:
        """(node, step) of a node step, read with the names module's own parser."""
        parsed = names.parse_node_step(reg.name, clusters)
        return (parsed[1], parsed[2]) if parsed is not None else None

    def is_step(reg: Registration, step: str) -> bool:
        parsed = node_step(reg)
        return parsed is not None and parsed[1] == step

    created_servers = {_host(r): r for r in creates if r.type == names.REMOTE_COMMAND
                       and is_step(r, "install") and _role(r) == "server"}

    old_mappings = [m for m in (_router_object(r, "static_mapping") for r in old.registrations) if m]

    out = []
    for step in steps:
        error = None
        was = old_by_urn.get(step.old_urn or step.urn)  # matched by URN or through an alias
        if step.op in ("update", "replace") and step.type == PFSENSE_OBJECT and was is not None \
                and step.urn in new_by_urn:
            now = new_by_urn[step.urn]
            error = node_move(was, now) or network_readdress(was, now, old_mappings)
        elif step.op == "update" and step.type == "command:remote:CopyToRemote" and step.urn in old_by_urn:
            problems = fixed_setting_changes(old_by_urn[step.urn], new_by_urn[step.urn])
            error = "; ".join(problems) or None
            parsed = node_step(new_by_urn[step.urn])
            note = restart_note(old_by_urn[step.urn], new_by_urn[step.urn], parsed[0]) if parsed else ""
            if note and not error:
                step = replace(step, note=f"{step.note}; {note}" if step.note else note)
            migration = datastore_migration(old_by_urn[step.urn], new_by_urn[step.urn])
            if migration:
                step = replace(step, warning=migration)
        elif (step.op == "update" and step.type == names.REMOTE_COMMAND and step.urn in old_by_urn
              and is_step(new_by_urn[step.urn], "upgrade")):
            error = minor_skip(old_by_urn[step.urn], new_by_urn[step.urn])
        elif step.op == "delete" and step.urn in deletes:
            gone = deletes[step.urn]
            gone_step = node_step(gone) if gone.type == names.REMOTE_COMMAND else None
            if gone_step is not None and gone_step[1] == "install" and _role(gone) == "server":
                renamed = created_servers.get(_host(gone))
                renamed_step = node_step(renamed) if renamed is not None else None
                if renamed_step is not None:
                    error = (f"server {gone_step[0]} renamed to {renamed_step[0]} on the same host {_host(gone)}: k3s keeps "
                             "the node and etcd member name on disk; remove the server in one `up`, then add it "
                             "under its new name in the next (docs/operations.md)")
        error = "; ".join(e for e in (taken.get(step.urn), error) if e) or None
        if error:
            step = replace(step, error=f"{step.error}; {error}" if step.error else error)
        out.append(step)
    return out


def _role(reg: Registration) -> str | None:
    """`server` or `agent`, from the install script's first comment (render.install_script)."""
    script = str(reg.inputs.get("create") or "")
    for role in ("server", "agent"):
        if f"# Install or reconfigure k3s {role} on " in script:
            return role
    return None
