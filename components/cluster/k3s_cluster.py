"""K3sCluster: k3s installed over SSH on every node of the stack.

Creates, as children:
- `<name>-token` (and `<name>-token-<n>` for each later `tokenGeneration`): the cluster token
  (random, secret, protected), generated here so that every node can be configured before the
  first server exists — no read-back on the critical path; `<name>-token-rotate` (from
  generation 2 on) moves the first server to the newest one before any node is given it;
- per node `<name>-<node>-prepare` (staging directory), `<name>-<node>-config` (CopyToRemote
  of the rendered `/etc/rancher/k3s/config.yaml`), `<name>-<node>-install` (install or
  reconfigure in place; uninstall on delete), `<name>-<node>-upgrade` (brings the node to the
  pinned version, in a safe order), `<name>-<node>-member` (on the first server: waits for
  the node to be Ready; on delete drains it, or deletes it at once when it is not Ready,
  before the uninstall) and `<name>-<node>-labels` (on the first server: the live Node's
  labels and taints as configured);
- the cluster's CAs (`cluster_cas.py`): created by the program and put on every server by
  `<name>-<server>-cas` before its install, or (`certificateAuthorities: adopt`) read once
  from the first server;
- `<name>-join-token`: the first server's CA-pinned join token (`K10<ca-hash>::...`, secret),
  which joining servers and agents use, so they verify the server before trusting it;
- `<name>-program-{key,csr,cert}`: the program's own client certificate, and from it the
  kubeconfig of `<name>-provider`, the `kubernetes.Provider` every Kubernetes resource of the
  program uses. It is known at preview whenever the CAs exist (nothing is read from a host),
  and the provider waits for the nodes before the engine configures it.

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

from components import names
from components.cluster import cluster_cas, render
from components.cluster.order import step_order
from components.config import Cluster, Member


def node_connection(cluster: Cluster, node: Member, ssh_private_key: pulumi.Input[str]) -> remote.ConnectionArgs:
    """SSH to one node; its host key is pinned when the config gives one."""
    return remote.ConnectionArgs(
        host=str(node.ip), user=cluster.ssh.user, port=cluster.ssh.port,
        private_key=ssh_private_key, host_key=node.host_key)


def cluster_identifier(name: str) -> str:
    """The Kubernetes provider's identity: this stack's cluster, whatever its kubeconfig says."""
    return f"k3s-platform/{pulumi.get_project()}/{pulumi.get_stack()}/{name}"


def secret_files(node: Member, cluster: Cluster, etcd_s3_credentials: pulumi.Input[dict] | None,
                 registry_auth: pulumi.Input[dict] | None) -> tuple[tuple[str, ...], str, pulumi.Output[str]] | None:
    """The secret-bearing files of one node: (their file_names, what the plan may see, the bundle
    for stdin as a secret), or None when it has none."""
    registries = cluster.registries
    file_names: list[str] = []
    if registries is not None:
        file_names.append("registries.yaml")
    if node.role == "server" and cluster.active_etcd_s3 is not None:
        file_names.append("etcd-s3.yaml")
    if not file_names:
        return None
    shown = render.registries_yaml(registries, None) if registries is not None else ""

    def bundle(values: list) -> str:
        s3, auth = values
        files = {}
        if "registries.yaml" in file_names and registries is not None:
            files["registries.yaml"] = render.registries_yaml(registries, auth or {})
        if "etcd-s3.yaml" in file_names:
            files["etcd-s3.yaml"] = render.etcd_s3_secrets_yaml(s3)
        return render.ca_bundle(files)

    stdin: pulumi.Output[str] = pulumi.Output.secret(
        pulumi.Output.all(etcd_s3_credentials, registry_auth).apply(bundle))
    return tuple(file_names), shown, stdin


class _NodeSteps:
    """Registers each node's steps under the cluster component, in `order` (servers first, so
    every step a node waits for already exists), and keeps what later steps wait for."""

    def __init__(self, name: str, cluster: Cluster, nodes: Sequence[Member], parent: pulumi.Resource, *,
                 ssh_private_key: pulumi.Input[str], token_value: pulumi.Output[str],
                 cas: cluster_cas.ProgramCas | None, endpoint_ready: Sequence[pulumi.Resource], protect: bool,
                 etcd_s3_credentials: pulumi.Input[dict] | None, registry_auth: pulumi.Input[dict] | None) -> None:
        self.name, self.cluster, self.parent = name, cluster, parent
        self.order = step_order(nodes)
        self.first = nodes[0]
        self.connections = {n.name: node_connection(cluster, n, ssh_private_key) for n in nodes}
        self.token_value = token_value
        self.cas, self.endpoint_ready, self.protect = cas, endpoint_ready, protect
        self.etcd_s3_credentials, self.registry_auth = etcd_s3_credentials, registry_auth
        # Stacks made before 0.2 carry a hash in `triggers`, which pulumi-command turns into a
        # replace (and so an uninstall); ignoring the old value keeps every change an update.
        self.step = pulumi.ResourceOptions(parent=parent, ignore_changes=["triggers"])
        self.rotation: list[pulumi.Resource] = []
        self.installs: dict[str, remote.Command] = {}
        self.members: dict[str, remote.Command] = {}
        self.upgrades: dict[str, remote.Command] = {}
        self.join_token: pulumi.Output[str] | None = None

    def rotate_token(self, tokens: Sequence[random.RandomPassword]) -> None:
        """From generation 2 on: the first server moves to the new token before any node is
        given it (k3s's token API, on that server); each install step then writes it and restarts."""
        if len(tokens) < 2:
            return
        rotation_stdin: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.concat(tokens[-2].result, "\n", tokens[-1].result, "\n"))
        self.rotation.append(remote.Command(
            names.cluster_resource(self.name, names.TOKEN_ROTATE),
            connection=self.connections[self.first.name],
            create=render.rotate_token_script(self.first),
            update=render.rotate_token_script(self.first),
            stdin=rotation_stdin,
            add_previous_output_in_env=False,
            logging=remote.Logging.STDERR,
            opts=pulumi.ResourceOptions(parent=self.parent)))

    def add(self, node: Member) -> None:
        # A dead host cannot be dialed: once marked, its host steps leave the state
        # without running their delete (the member step, on the first server, still runs).
        on_host = pulumi.ResourceOptions.merge(self.step, pulumi.ResourceOptions(
            retain_on_delete=node.dead))
        config_text = render.node_config_yaml(node, self.cluster)
        waits_for = self._before_install(node, on_host, config_text)
        self._install(node, on_host, config_text, waits_for)
        if node.first and len(self.connections) > 1:  # nobody joins a single server
            self._read_join_token(node)
        self._member(node)
        self._labels(node)
        self._upgrade(node, on_host)

    def _before_install(self, node: Member, on_host: pulumi.ResourceOptions,
                        config_text: str) -> list[pulumi.Resource]:
        """prepare, config and (when there are any) the CAs and secret files: what the install waits for."""
        name, connection = self.name, self.connections[node.name]
        install_after = [self.installs[n] for n in self.order.install_after[node.name]]
        prepare = remote.Command(
            names.node_step(name, node.name, "prepare"),
            connection=connection,
            create=render.prepare_script(self.cluster.ssh.user),
            add_previous_output_in_env=False,
            opts=on_host)
        after_prepare = pulumi.ResourceOptions.merge(on_host, pulumi.ResourceOptions(depends_on=[prepare]))
        copy = remote.CopyToRemote(
            names.node_step(name, node.name, "config"),
            connection=connection,
            source=pulumi.StringAsset(config_text),
            remote_path=render.STAGED_CONFIG_PATH,
            opts=after_prepare)

        waits_for: list[pulumi.Resource] = [copy, *self.rotation, *install_after]
        if self.cas is not None and node.role == "server":
            # Before k3s first starts, or it makes CAs of its own. The script refuses a host
            # that already holds other CAs (a cluster k3s made: `adopt` is for that).
            waits_for.append(remote.Command(
                names.node_step(name, node.name, "cas"),
                connection=connection,
                create=render.place_cas_script(node),
                update=render.place_cas_script(node),
                stdin=self.cas.bundle(),
                add_previous_output_in_env=False,
                logging=remote.Logging.STDERR,
                opts=after_prepare))
        files = secret_files(node, self.cluster, self.etcd_s3_credentials, self.registry_auth)
        if files is not None:
            # registries.yaml and the S3 credentials: on stdin into root-only files before
            # k3s starts; a later change restarts k3s there, one server after another.
            file_names, shown, bundle = files
            waits_for.append(remote.Command(
                names.node_step(name, node.name, "secret-files"),
                connection=connection,
                create=render.secret_files_script(node, file_names, shown),
                update=render.secret_files_script(node, file_names, shown),
                delete=render.remove_secret_files_script(node),
                stdin=bundle,
                add_previous_output_in_env=False,
                logging=remote.Logging.STDERR,
                opts=pulumi.ResourceOptions.merge(on_host, pulumi.ResourceOptions(depends_on=[
                    prepare, *install_after]))))
        if node.name in self.order.needs_endpoint:
            waits_for += self.endpoint_ready
        return waits_for

    def _install(self, node: Member, on_host: pulumi.ResourceOptions, config_text: str,
                 waits_for: list[pulumi.Resource]) -> None:
        # Joiners get the first server's CA-pinned token; the first server the plain one.
        stdin = self.token_value if self.join_token is None else self.join_token
        # create = update: a config, label, taint or token change reruns the script in
        # place, which restarts k3s only when the config or token really changed.
        script = render.install_script(node, self.cluster, config_text)
        self.installs[node.name] = remote.Command(
            names.node_step(self.name, node.name, "install"),
            connection=self.connections[node.name],
            create=script,
            update=script,
            delete=render.uninstall_script(node),
            stdin=stdin,
            add_previous_output_in_env=False,
            # The token only travels on stdin; output holds no secret but stays quiet.
            logging=remote.Logging.STDERR,
            opts=pulumi.ResourceOptions.merge(on_host, pulumi.ResourceOptions(
                depends_on=waits_for, protect=self.protect)))

    def _read_join_token(self, node: Member) -> None:
        read_token = remote.Command(
            names.cluster_resource(self.name, names.JOIN_TOKEN),
            connection=self.connections[node.name],
            create=render.READ_JOIN_TOKEN,
            update=render.READ_JOIN_TOKEN,
            # Unused by the script: a new cluster token changes this input, so the
            # step reads the first server's token again (an update).
            stdin=self.token_value,
            add_previous_output_in_env=False,
            logging=remote.Logging.NONE,
            opts=pulumi.ResourceOptions(parent=self.parent, depends_on=[self.installs[node.name]],
                                        additional_secret_outputs=["stdout"]))
        self.join_token = pulumi.Output.secret(read_token.stdout)

    def _member(self, node: Member) -> None:
        # Runs on the first server: waits for the node to be Ready; when the node leaves
        # the config it drains it and deletes its Node object *before* the uninstall (a
        # server's etcd member goes with its Node object). Members depend on the previous
        # server's member (agents on the first server's), so a destroy removes them one
        # server at a time, last server first, and the first server's own member last:
        # never two etcd members at once, never the first server while others remain.
        member_after = [self.members[n] for n in self.order.member_after.get(node.name, ())]
        # A dead *first* server's member step would run its delete on that same dead host:
        # it leaves the state without running, and its Node is deleted by hand from a live
        # server (docs/operations.md, "Replacing a dead server").
        self.members[node.name] = remote.Command(
            names.node_step(self.name, node.name, "member"),
            connection=self.connections[self.first.name],
            create=render.member_ready_script(node),
            delete=render.member_remove_script(node),
            add_previous_output_in_env=False,
            logging=remote.Logging.STDERR,
            opts=pulumi.ResourceOptions.merge(self.step, pulumi.ResourceOptions(
                depends_on=[self.installs[node.name], self.installs[self.first.name], *member_after],
                protect=self.protect, retain_on_delete=node.first and node.dead)))

    def _labels(self, node: Member) -> None:
        # Runs on the first server: the live Node's labels and taints follow the config
        # (k3s applies its own `node-label`/`node-taint` only at registration).
        labels = render.labels_script(node)
        remote.Command(
            names.node_step(self.name, node.name, "labels"),
            connection=self.connections[self.first.name],
            create=labels,
            update=labels,
            add_previous_output_in_env=False,
            logging=remote.Logging.STDERR,
            opts=pulumi.ResourceOptions.merge(self.step, pulumi.ResourceOptions(
                depends_on=[self.members[node.name]])))

    def _upgrade(self, node: Member, on_host: pulumi.ResourceOptions) -> None:
        # On create the upgrade step only confirms the version; on a version change its
        # script text changes, so it runs in place, in the order `step_order` gives.
        upgrade_script = render.upgrade_script(node, self.cluster)
        self.upgrades[node.name] = remote.Command(
            names.node_step(self.name, node.name, "upgrade"),
            connection=self.connections[node.name],
            create=upgrade_script,
            update=upgrade_script,
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions.merge(on_host, pulumi.ResourceOptions(depends_on=[
                self.installs[node.name], *(self.upgrades[n] for n in self.order.upgrade_after[node.name])])))


def cluster_tokens(name: str, cluster: Cluster, parent: pulumi.Resource) -> list[random.RandomPassword]:
    """Every server and agent holds the token: a replacement would brick the cluster. So each
    generation is protected and its inputs ignored; rotating is `cluster.tokenGeneration`
    raised by one (token 1 keeps the name it always had). Earlier generations stay: a
    snapshot taken before a rotation restores only with the token of then."""
    return [random.RandomPassword(
        names.cluster_token(name, generation), length=64, special=False,
        opts=pulumi.ResourceOptions(parent=parent, protect=True, ignore_changes=["length", "special"]))
        for generation in range(1, cluster.token_generation + 1)]


class K3sCluster(pulumi.ComponentResource):
    """A k3s cluster on existing hosts reachable over SSH.

    Args:
        cluster: validated cluster config.
        ssh_private_key: the secret SSH key (PEM/OpenSSH text).
        endpoint_ready: resources that must exist before a node registers through
            `apiHostname` (prod: the router's DNS override and HAProxy). Default: none.
        protect: protect the install steps (their delete uninstalls k3s and its data).
        etcd_s3_credentials, registry_auth: the secret maps `etcdS3Credentials` and
            `registryAuth` (secret Outputs of dicts; default: none).
    """

    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    api_url: str
    access: cluster_cas.ClusterAccess

    def __init__(
        self,
        name: str,
        cluster: Cluster,
        ssh_private_key: pulumi.Input[str],
        endpoint_ready: Sequence[pulumi.Resource] = (),
        protect: bool = False,
        etcd_s3_credentials: pulumi.Input[dict] | None = None,
        registry_auth: pulumi.Input[dict] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(names.K3S_CLUSTER, name, None, opts)
        self.api_url = cluster.api_url
        tokens = cluster_tokens(name, cluster, self)
        # The engine marks `result` secret (additional_secret_outputs); say it here too so
        # no path — mocks, previews, a future SDK — can carry it in clear.
        token_value: pulumi.Output[str] = pulumi.Output.secret(tokens[-1].result)
        child = pulumi.ResourceOptions(parent=self)
        cas = cluster_cas.program_cas(name, child) if cluster.certificate_authorities == "program" else None

        nodes = cluster.members
        steps = _NodeSteps(name, cluster, nodes, self, ssh_private_key=ssh_private_key, token_value=token_value,
                           cas=cas, endpoint_ready=endpoint_ready, protect=protect,
                           etcd_s3_credentials=etcd_s3_credentials, registry_auth=registry_auth)
        steps.rotate_token(tokens)
        for node in nodes:
            steps.add(node)

        first_install = steps.installs[steps.first.name]
        if cas is not None:
            self.access = cluster_cas.program_access(name, self.api_url, cas)
        else:
            self.access = cluster_cas.adopted_access(
                name, self.api_url, steps.connections[steps.first.name],
                pulumi.ResourceOptions(parent=self, depends_on=[first_install]))
        self.kubeconfig = cluster_cas.program_kubeconfig(name, self.access, child)
        # The kubeconfig names apiHostname: the engine configures the provider when it is
        # registered, and a provider configured while the cluster is not there yet fails every
        # create ("cluster is unreachable"). So it waits for the router to serve that name and
        # for every node to be Ready at the pinned version. A stable clusterIdentifier: the
        # provider (and so every Kubernetes object) is replaced only if this changes, never
        # because the kubeconfig changed (a renewed client certificate is an update).
        self.provider = k8s.Provider(
            names.cluster_resource(name, names.PROVIDER), kubeconfig=self.kubeconfig,
            cluster_identifier=cluster_identifier(name),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*steps.members.values(), *steps.upgrades.values(), *endpoint_ready]))
        self.installs = steps.installs
        self.members = steps.members

        self.register_outputs({"kubeconfig": self.kubeconfig, "apiUrl": self.api_url})
