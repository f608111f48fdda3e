"""The architecture picture of one stack, drawn from the captured registrations.

`architecture_dot(run, config=None)` is pure: it reads only `run.registrations` (and, when
given, the validated `StackConfig` for tenant hosts that no IngressRoute names) and returns
Graphviz DOT text, sorted so that two runs give the same bytes. It draws:

- the pfSense router, its subsystems summarised by pfSense object kind (VLANs, DHCP mappings,
  DNS overrides, NAT, firewall rules, HAProxy, OpenVPN);
- each VLAN network (an `interface` assignment): its device, the router's address on it, its
  DHCP server; the nodes whose DHCP mapping lies in it hang off it instead of the router;
- each k3s node, from the `command:remote:Command` steps named `<cluster>-<node>-install`
  (role from the stack config's servers and agents);
- Traefik and cert-manager, from `kubernetes:helm.sh/v4:Chart` registrations when present,
  otherwise from their Namespace objects, otherwise a dashed "not in this run" node;
- each tenant namespace (Namespace labelled `k3s-platform/tenant`) with its hosts
  (IngressRoute `Host(...)` rules and Certificate dnsNames, else the config's `tenants[].hosts`) and Issuer kind;
- the personas: PlatOps (the cluster-wide binding) and AppOps (per-namespace RoleBindings).

`render_svg_png(dot_text, out_dir)` runs Graphviz's `dot` to write `architecture.svg` and
`architecture.png`.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from components import names
from components.platform.rbac import APPOPS_BINDING, PLATOPS_BINDING
from tools.imitations.harness import Registration, StackRun, redact

HELM_CHART = names.HELM_RELEASE
REMOTE_COMMAND = names.REMOTE_COMMAND
CLUSTER_COMPONENT = names.K3S_CLUSTER
PFSENSE_OBJECT = names.PFSENSE_OBJECT
TENANT_LABEL = names.TENANT_LABEL
SYSTEM_CHARTS = (("traefik", "Traefik"), ("cert-manager", "cert-manager"))

# pfSense object kinds (components/network/kinds.py) grouped into the router's subsystems.
_SUBSYSTEMS = (
    ("VLANs", ("vlan",)),
    ("VLAN networks (interfaces, DHCP servers)", ("interface", "dhcp_server")),
    ("DHCP static mappings", ("static_mapping",)),
    ("DNS host overrides", ("host_override",)),
    ("NAT port forwards", ("port_forward",)),
    ("firewall rules", ("firewall_rule",)),
    ("HAProxy backends/frontends", ("haproxy_",)),
    ("OpenVPN server + certificates", ("openvpn_", "certificate")),
)
_HOST_RULE = re.compile(r"Host\(([^)]*)\)")
_QUOTED = re.compile(r"[`\"']([^`\"']+)[`\"']")


GRAPHVIZ_HINT = ("graphviz's `dot` is not on PATH — install graphviz "
                 "(e.g. sudo apt-get install graphviz; ./run does it when run as root)")


class GraphvizMissing(RuntimeError):
    """Graphviz's `dot` is not on PATH."""


# --- reading the registrations --------------------------------------------------------------


def _inputs(reg: Registration) -> dict:
    value = redact(reg.inputs)
    return value if isinstance(value, dict) else {}


def _k8s_kind(reg: Registration) -> str:
    return reg.type.rsplit(":", 1)[-1] if reg.type.startswith("kubernetes:") else ""


def _meta(inputs: dict) -> dict:
    meta = inputs.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _router_summary(run: StackRun) -> list[str]:
    kinds: Counter = Counter()
    api = ""
    for reg in run.by_type(PFSENSE_OBJECT):
        inputs = _inputs(reg)
        kinds[str(inputs.get("kind", "?"))] += 1
        api = api or str(inputs.get("apiUrl", ""))
    lines = []
    taken: set[str] = set()
    for label, prefixes in _SUBSYSTEMS:
        n = sum(c for k, c in kinds.items() if k not in taken and k.startswith(prefixes))
        taken.update(k for k in kinds if k.startswith(prefixes))
        if n:
            lines.append(f"{label}: {n}")
    rest = sum(c for k, c in kinds.items() if k not in taken)
    if rest:
        lines.append(f"other objects: {rest}")
    return ([api] if api else []) + lines


def _dns_overrides(run: StackRun) -> list[str]:
    hosts = []
    for reg in run.by_type(PFSENSE_OBJECT):
        inputs = _inputs(reg)
        payload = inputs.get("payload")
        if inputs.get("kind") == "host_override" and isinstance(payload, dict):
            hosts.append(f"{payload.get('host')}.{payload.get('domain')}")
    return sorted(hosts)


def _vlan_networks(run: StackRun) -> list[tuple[str, ipaddress.IPv4Interface, bool]]:
    """(device, router address/prefix, has a DHCP server) for each interface assignment."""
    # A DHCP server is told apart by what it hands out as DNS: the router's address on it (its
    # interface id is pfSense's, unknown to the plan).
    dhcp = {str(dns) for r in run.by_type(PFSENSE_OBJECT) if _inputs(r).get("kind") == "dhcp_server"
            for dns in ((_inputs(r).get("payload") or {}).get("dnsserver") or [])}
    found = []
    for reg in run.by_type(PFSENSE_OBJECT):
        inputs = _inputs(reg)
        payload = inputs.get("payload")
        if inputs.get("kind") != "interface" or not isinstance(payload, dict):
            continue
        try:
            address = ipaddress.IPv4Interface(f"{payload.get('ipaddr')}/{int(payload.get('subnet') or 0)}")
        except (TypeError, ValueError):
            continue
        found.append((str(payload.get("if")), address, str(address.ip) in dhcp))
    return sorted(found, key=lambda v: v[0])


def _node_addresses(run: StackRun) -> dict[str, ipaddress.IPv4Address]:
    """Node name -> the address of its DHCP mapping."""
    out = {}
    for reg in run.by_type(PFSENSE_OBJECT):
        inputs = _inputs(reg)
        payload = inputs.get("payload")
        if inputs.get("kind") == "static_mapping" and isinstance(payload, dict):
            try:
                out[str(payload.get("hostname"))] = ipaddress.IPv4Address(str(payload.get("ipaddr")))
            except ValueError:
                continue
    return out


def _node_roles(config: Any) -> dict[str, str]:
    """Node name -> "server"/"agent", from the typed stack config (no config: no roles)."""
    cluster = getattr(config, "cluster", None)
    if cluster is None:
        return {}
    return {**{n.name: "server" for n in cluster.servers}, **{n.name: "agent" for n in cluster.agents}}


def _nodes(run: StackRun, roles: dict[str, str]) -> list[tuple[str, str, str]]:
    """(cluster, node, role) for each `<cluster>-<node>-install` step; role from the config."""
    clusters = [r.name for r in run.by_type(CLUSTER_COMPONENT)]
    found = []
    for reg in run.by_type(REMOTE_COMMAND):
        parsed = names.parse_node_step(reg.name, clusters)
        if parsed is not None and parsed[2] == "install":
            cluster, node, _ = parsed
            found.append((cluster, node, roles.get(node, "node")))
    return sorted(found, key=lambda n: (n[0], n[2] != "server", n[1]))


def _hosts_of_route(inputs: dict) -> list[str]:
    hosts = []
    for route in (inputs.get("spec") or {}).get("routes") or []:
        for rule in _HOST_RULE.findall(str(route.get("match", ""))):
            hosts += _QUOTED.findall(rule)
    return hosts


def _config_hosts(config: Any) -> dict[str, list[str]]:
    if config is None:
        return {}
    return {t.name: [str(h) for h in t.hosts] for t in getattr(config, "tenants", ())}


# --- DOT -------------------------------------------------------------------------------------


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(lines: list[str]) -> str:
    return _q("\n".join(lines)).replace("\n", "\\n")


def _node(node_id: str, lines: list[str], **attrs: str) -> str:
    extra = "".join(f", {k}={_q(v)}" for k, v in sorted(attrs.items()))
    return f"    {_q(node_id)} [label={_label(lines)}{extra}];"


def _edge(a: str, b: str, label: str = "", **attrs: str) -> str:
    all_attrs = dict(attrs, **({"label": label} if label else {}))
    extra = ", ".join(f"{k}={_q(v)}" for k, v in sorted(all_attrs.items()))
    return f"  {_q(a)} -> {_q(b)}" + (f" [{extra}]" if extra else "") + ";"


def architecture_dot(run: StackRun, config: Any = None) -> str:
    """Graphviz DOT of the stack's architecture, from `run`'s registrations (deterministic)."""
    k8s = [(r, _inputs(r)) for r in sorted(run.registrations, key=lambda r: r.urn)
           if r.type.startswith("kubernetes:") and r.type != HELM_CHART]
    namespaces = {_meta(i).get("name"): i for r, i in k8s if _k8s_kind(r) == "Namespace"}
    tenants = sorted((str(_meta(i).get("labels", {}).get(TENANT_LABEL)), str(ns))
                     for ns, i in namespaces.items()
                     if isinstance(_meta(i).get("labels"), dict) and TENANT_LABEL in _meta(i)["labels"])
    route_hosts: dict[str, set[str]] = defaultdict(set)
    issuers: dict[str, set[str]] = defaultdict(set)
    appops: dict[str, set[str]] = defaultdict(set)
    platops: set[str] = set()
    for reg, inputs in k8s:
        kind, ns = _k8s_kind(reg), str(_meta(inputs).get("namespace", ""))
        if kind == "IngressRoute":
            route_hosts[ns].update(_hosts_of_route(inputs))
        elif kind == "Certificate":  # a tenant without a sample app still has its host set
            route_hosts[ns].update(str(h) for h in (inputs.get("spec") or {}).get("dnsNames") or [])
        elif kind in ("Issuer", "ClusterIssuer"):
            spec = inputs.get("spec") or {}
            kinds = sorted(k for k in ("acme", "ca", "selfSigned", "vault", "venafi") if k in spec)
            issuers[ns if kind == "Issuer" else "*"].add(kind + (f" ({', '.join(kinds)})" if kinds else ""))
        elif kind == "ClusterRoleBinding" and _meta(inputs).get("name") == PLATOPS_BINDING:
            role = (inputs.get("roleRef") or {}).get("name", "?")
            platops.update(f"{s.get('kind')} {s.get('name')} -> {role}" for s in inputs.get("subjects") or [])
        elif kind == "RoleBinding" and _meta(inputs).get("name") == APPOPS_BINDING:
            for s in inputs.get("subjects") or []:
                appops[str(s.get("name"))].add(ns)
    config_hosts = _config_hosts(config)
    dns = set(_dns_overrides(run))

    out = ["digraph architecture {",
           f"  label={_q(f'k3s-platform — stack {run.stack} (from the offline plan)')};",
           '  labelloc="t"; rankdir="LR"; compound=true; fontname="Helvetica";',
           '  node [shape="box", style="rounded,filled", fillcolor="white", fontname="Helvetica", fontsize="10"];',
           '  edge [fontname="Helvetica", fontsize="9"];',
           ""]

    vlans = _vlan_networks(run)
    out += ['  subgraph "cluster_router" {', '    label="router"; style="dashed";',
            _node("router", ["pfSense router", *_router_summary(run)], fillcolor="#fde9d9")]
    for device, address, dhcp in vlans:
        out.append(_node(f"vlan:{device}", [f"VLAN network {device}", str(address.network),
                                            f"router {address.ip}", "DHCP server" if dhcp else "no DHCP server"],
                         fillcolor="#fbe5d6"))
    out.append("  }")

    nodes = _nodes(run, _node_roles(config))
    out += ['  subgraph "cluster_k3s" {', '    label="k3s cluster"; style="rounded";']
    for cluster, node, role in nodes:
        out.append(_node(f"node:{node}", [node, f"k3s {role}"],
                         fillcolor="#dbe8f6" if role == "server" else "#eef4fb"))
    if not nodes:
        out.append(_node("node:none", ["no k3s nodes in this run"], style="dashed"))

    charts = {}
    for reg in sorted(run.by_type(HELM_CHART), key=lambda r: r.urn):
        inputs = _inputs(reg)
        charts[str(inputs.get("chart", reg.name))] = inputs
    system_ids = {}
    for chart_name, title in SYSTEM_CHARTS:
        node_id = f"system:{chart_name}"
        system_ids[chart_name] = node_id
        if chart_name in charts:
            c = charts[chart_name]
            out.append(_node(node_id, [title, f"chart {chart_name} {c.get('version', '')}".strip(),
                                       f"namespace {c.get('namespace', '?')}"], fillcolor="#e2f0d9"))
        elif chart_name in namespaces:
            out.append(_node(node_id, [title, f"namespace {chart_name}", "(no Chart registration in this run)"],
                             fillcolor="#e2f0d9"))
        else:
            out.append(_node(node_id, [title, "(not registered in this run)"], style="dashed"))

    for tenant, ns in tenants:
        hosts = sorted(route_hosts.get(ns) or config_hosts.get(tenant) or ())
        lines = [f"tenant {tenant}", f"namespace {ns}"]
        lines += [f"{h}{' (DNS override)' if h in dns else ''}" for h in hosts]
        lines += sorted(issuers.get(ns, ()))
        out.append(_node(f"tenant:{ns}", lines, fillcolor="#fff2cc"))
    out.append("  }")

    out.append('  subgraph "cluster_personas" {')
    out.append('    label="personas"; style="dotted";')
    if platops:
        out.append(_node("persona:platops", ["PlatOps", *sorted(platops)], shape="ellipse"))
    for group in sorted(appops):
        out.append(_node(f"persona:appops:{group}", ["AppOps", f"Group {group}"], shape="ellipse"))
    out += ["  }", ""]

    for device, _, _ in vlans:
        out.append(_edge("router", f"vlan:{device}", "802.1Q"))
    addresses = _node_addresses(run)
    for _, node, role in nodes:
        ip = addresses.get(node)
        on = next((d for d, a, _ in vlans if ip is not None and ip in a.network), None)
        out.append(_edge(f"vlan:{on}" if on else "router", f"node:{node}",
                         "DHCP, HAProxy :6443" if role == "server" else "DHCP"))
    out.append(_edge("router", system_ids["traefik"], "ingress :80, :443"))
    for tenant, ns in tenants:
        out.append(_edge(system_ids["traefik"], f"tenant:{ns}", "routes"))
        if issuers.get(ns):
            out.append(_edge(system_ids["cert-manager"], f"tenant:{ns}", "certificates"))
    if platops and nodes:
        out.append(_edge("persona:platops", f"node:{nodes[0][1]}", "cluster-wide", lhead="cluster_k3s"))
    for group in sorted(appops):
        for ns in sorted(appops[group]):
            if any(ns == t_ns for _, t_ns in tenants):
                out.append(_edge(f"persona:appops:{group}", f"tenant:{ns}", "namespace"))
    out.append("}")
    return "\n".join(out) + "\n"


# --- rendering -------------------------------------------------------------------------------


# Above this many nodes dot's crossing minimisation and network simplex dominate the plan
# (1,000 tenants: ~2,000 nodes, minutes of CPU, growing faster than the graph), so their
# iterations are bounded; below it (dev, prod) dot runs with its defaults.
# Ref: https://graphviz.org/docs/attrs/mclimit/  https://graphviz.org/docs/attrs/nslimit/
LARGE_GRAPH_NODES = 100
LARGE_GRAPH_LIMITS = ("-Gmclimit=0.05", "-Gnslimit=2", "-Gnslimit1=2", "-Gsearchsize=10")
_NODE_LINE = re.compile(r'^    "[^"\n]*" \[label=', re.MULTILINE)


def layout_args(dot_text: str) -> tuple[str, ...]:
    """Extra `dot` arguments for this graph: none, or iteration limits for a large one."""
    return LARGE_GRAPH_LIMITS if len(_NODE_LINE.findall(dot_text)) > LARGE_GRAPH_NODES else ()


def render_svg_png(dot_text: str, out_dir: str | Path, stem: str = "architecture") -> tuple[Path, Path]:
    """Write `<stem>.svg` and `<stem>.png` into `out_dir` with Graphviz; returns both paths.

    One `dot` run lays the graph out once and writes both formats.
    """
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizMissing(GRAPHVIZ_HINT)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    svg, png = out / f"{stem}.svg", out / f"{stem}.png"
    result = subprocess.run([dot, *layout_args(dot_text), "-Tsvg", "-o", str(svg), "-Tpng", "-o", str(png)],
                            input=dot_text.encode(), capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"dot -Tsvg -Tpng failed: {result.stderr.decode(errors='replace').strip()}")
    return svg, png
