"""Typed, validated stack configuration — the only place that rejects input.

One module per section (`network`, `cluster`, `system`, `platform`, `router`), the shared
field types in `types`, the whole stack and its derived facts and cross-field rules in
`stack`, the entry points in `parse`. Callers import from here:
`from components.config import StackConfig, read_stack_config, ...`.
"""

from components.config.cluster import (
    API_PORT,
    Cluster,
    EtcdS3,
    EtcdSnapshots,
    Installer,
    Member,
    Node,
    Registries,
    Role,
    Ssh,
)
from components.config.network import DhcpRange, Lan, Network, VlanNetwork
from components.config.parse import (
    PROJECT,
    PROVIDER_NAMESPACES,
    SECRET_KEYS,
    STRING_KEYS,
    Secrets,
    parse_config_keys,
    parse_stack_config,
    read_stack_config,
    split_keys,
)
from components.config.platform import (
    RESERVED_NAMESPACES,
    EgressAllow,
    Limits,
    Person,
    PlatOps,
    Quota,
    SampleApp,
    Tenant,
)
from components.config.router import (
    RouterInventory,
    RouterSettings,
    VpnSettings,
    pem_certificates_problem,
)
from components.config.stack import (
    CROSS_RULES,
    HAPROXY_PORTS,
    PROGRAM_USER,
    StackConfig,
    config_warnings,
    cross_check,
    derived_names,
)
from components.config.system import Certificates, Charts, Ingress
from components.config.types import (
    SUPPORTED_KUBERNETES_MINORS,
    ConfigError,
    Model,
    cron_problem,
    image_problem,
    label_key_problem,
    label_value_problem,
)

__all__ = [
    "CROSS_RULES", "HAPROXY_PORTS", "PROJECT", "PROVIDER_NAMESPACES", "RESERVED_NAMESPACES", "SECRET_KEYS",
    "STRING_KEYS", "SUPPORTED_KUBERNETES_MINORS",
    "Certificates", "Charts", "API_PORT", "Cluster", "ConfigError", "DhcpRange", "EgressAllow", "EtcdS3", "EtcdSnapshots", "Ingress",
    "Installer", "Lan", "Limits", "Member", "Model", "Network", "Node", "PROGRAM_USER", "Person", "PlatOps", "Quota", "RouterInventory",
    "Registries", "Role", "RouterSettings", "SampleApp", "Secrets", "Ssh", "StackConfig", "Tenant", "VlanNetwork", "VpnSettings",
    "cron_problem", "cross_check", "derived_names", "image_problem", "label_key_problem", "label_value_problem",
    "config_warnings", "parse_config_keys", "parse_stack_config", "pem_certificates_problem", "read_stack_config",
    "split_keys",
]
