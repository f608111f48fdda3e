"""K3sCluster: k3s installed over SSH on every node of the stack.

Creates, as children:
- `<name>-token`: the cluster token (random, secret), generated here so that every node can
  be configured before the first server exists — no read-back on the critical path;
- per node `<name>-<node>-prepare` (staging directory), `<name>-<node>-config` (CopyToRemote
  of the rendered `/etc/rancher/k3s/config.yaml`), `<name>-<node>-install` (install or
  reconfigure; uninstall on delete) and `<name>-<node>-upgrade` (brings the node to the
  pinned version, in a safe order);
- `<name>-kubeconfig`: reads the first server's kubeconfig; `<name>-provider`: the
  `kubernetes.Provider` every Kubernetes resource of the program uses.

Order on create: joining servers one after another (etcd adds one member at a time); agents
in parallel as soon as the first server is up. Order on upgrade (docs/adr/0002): servers one
at a time, then agents — carried by the separate upgrade chain so it never slows a create.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from pulumi_command import remote

from components.cluster import render
from components.cluster.order import step_order
from components.config import Cluster


def cluster_spec(cluster: Cluster) -> render.ClusterSpec:
    snapshots = cluster.etcd_snapshots
    return render.ClusterSpec(
        k3s_version=cluster.k3s_version,
        api_hostname=cluster.api_hostname,
        pod_cidr=str(cluster.pod_cidr),
        service_cidr=str(cluster.service_cidr),
        ha=cluster.ha,
        secrets_encryption=cluster.secrets_encryption,
        etcd_snapshot_schedule=snapshots.schedule if snapshots.enabled else None,
        etcd_snapshot_retention=snapshots.retention if snapshots.enabled else None,
    )


def node_specs(cluster: Cluster) -> list[render.NodeSpec]:
    """Servers first (the first one bootstraps), then agents; joiners use the API endpoint."""
    url = render.api_url(cluster.api_hostname)
    specs = []
    for i, node in enumerate(cluster.servers):
        specs.append(render.NodeSpec(
            name=node.name, ip=str(node.ip), role="server", first=i == 0,
            server_url=None if i == 0 else url, labels=dict(node.labels), taints=node.taints))
    for node in cluster.agents:
        specs.append(render.NodeSpec(
            name=node.name, ip=str(node.ip), role="agent", server_url=url,
            labels=dict(node.labels), taints=node.taints))
    return specs


class K3sCluster(pulumi.ComponentResource):
    """A k3s cluster on existing hosts reachable over SSH.

    Args:
        cluster: validated cluster config.
        ssh_private_key: the secret SSH key (PEM/OpenSSH text).
        endpoint_ready: resources that must exist before a node registers through
            `apiHostname` (prod: the router's DNS override and HAProxy). Default: none.
        protect: protect the install steps (their delete uninstalls k3s and its data).
    """

    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    api_url: str

    def __init__(
        self,
        name: str,
        cluster: Cluster,
        ssh_private_key: pulumi.Input[str],
        endpoint_ready: Sequence[pulumi.Resource] = (),
        protect: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("k3s-platform:cluster:K3sCluster", name, None, opts)
        spec = cluster_spec(cluster)
        self.api_url = render.api_url(cluster.api_hostname)

        token = random.RandomPassword(
            f"{name}-token", length=64, special=False,
            opts=pulumi.ResourceOptions(parent=self))
        # The engine marks `result` secret (additional_secret_outputs); say it here too so
        # no path — mocks, previews, a future SDK — can carry it in clear.
        token_value = pulumi.Output.secret(token.result)

        nodes = node_specs(cluster)
        order = step_order(nodes)
        installs: dict[str, remote.Command] = {}
        upgrades: dict[str, remote.Command] = {}

        for node in nodes:  # servers first, so every step named in `order` already exists
            connection = remote.ConnectionArgs(
                host=node.ip, user=cluster.ssh.user, port=cluster.ssh.port,
                private_key=ssh_private_key)
            config_text = render.node_config_yaml(node, spec)

            prepare = remote.Command(
                f"{name}-{node.name}-prepare",
                connection=connection,
                create=render.prepare_script(cluster.ssh.user),
                opts=pulumi.ResourceOptions(parent=self))
            copy = remote.CopyToRemote(
                f"{name}-{node.name}-config",
                connection=connection,
                source=pulumi.StringAsset(config_text),
                remote_path=render.STAGED_CONFIG_PATH,
                triggers=[render.sha256(config_text)],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[prepare]))

            waits_for = [copy, *(installs[n] for n in order.install_after[node.name])]
            if node.name in order.needs_endpoint:
                waits_for += endpoint_ready
            script = render.install_script(node, spec, config_text)
            installs[node.name] = remote.Command(
                f"{name}-{node.name}-install",
                connection=connection,
                create=script,
                update=script,
                delete=render.uninstall_script(node),
                stdin=token_value,
                # The token only travels on stdin; output holds no secret but stays quiet.
                logging=remote.Logging.STDERR,
                triggers=[render.sha256(config_text)],
                opts=pulumi.ResourceOptions(parent=self, depends_on=waits_for, protect=protect))

            # On create the upgrade step only confirms the version; on a version change it
            # upgrades, in the order `step_order` gives.
            upgrade_script = render.upgrade_script(node, spec)
            upgrades[node.name] = remote.Command(
                f"{name}-{node.name}-upgrade",
                connection=connection,
                create=upgrade_script,
                update=upgrade_script,
                triggers=[cluster.k3s_version],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[
                    installs[node.name], *(upgrades[n] for n in order.upgrade_after[node.name])]))

        first = cluster.servers[0]
        read = remote.Command(
            f"{name}-kubeconfig",
            connection=remote.ConnectionArgs(
                host=str(first.ip), user=cluster.ssh.user, port=cluster.ssh.port,
                private_key=ssh_private_key),
            create=render.READ_KUBECONFIG,
            logging=remote.Logging.NONE,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[installs[first.name]], additional_secret_outputs=["stdout"]))

        self.kubeconfig = pulumi.Output.secret(read.stdout.apply(
            lambda text: render.rewrite_kubeconfig(text, cluster.api_hostname, name)))
        self.provider = k8s.Provider(
            f"{name}-provider", kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self))
        self.installs = installs

        self.register_outputs({"kubeconfig": self.kubeconfig, "apiUrl": self.api_url})
