"""k3s-platform: load the stack config, build the platform, export what operators need."""

import pulumi

from components.config import ConfigError, config_warnings, read_stack_config
from components.stack import Platform


def main() -> None:
    try:
        config, secrets = read_stack_config()
    except ConfigError as err:
        # RunError: the CLI prints the message alone, without a Python traceback.
        raise pulumi.RunError(err.report(pulumi.get_stack())) from None
    for warning in config_warnings(config):  # allowed, but it widens access: say so
        pulumi.log.warn(warning)

    platform = Platform("k3s", config, secrets)

    pulumi.export("apiUrl", platform.cluster.api_url)
    pulumi.export("kubeconfig", platform.cluster.kubeconfig)  # secret: the program's own (system:masters)
    # secret: one kubeconfig per person of `people` (./run kubeconfig <stack> <person>)
    pulumi.export("peopleKubeconfigs", pulumi.Output.secret(platform.people.kubeconfigs))
    pulumi.export("ingressHosts", list(config.ingress_hosts))
    pulumi.export("vpnCaCertificate", platform.router.vpn_ca_cert_pem)
    pulumi.export("vpnClientConfigs", platform.router.vpn_client_configs)  # secret


if __name__ == "__main__":
    main()
