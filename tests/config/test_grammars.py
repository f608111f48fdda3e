"""The grammars config values are checked against before they reach a script, a config file,
a profile or a Kubernetes object, and the rules that span keys (issue 16, items 4-10)."""

from pathlib import Path

import pytest

from components.config import (
    ConfigError,
    cron_problem,
    derived_names,
    image_problem,
    label_key_problem,
    parse_config_keys,
    parse_stack_config,
    pem_certificates_problem,
    split_keys,
)
from tests.config.test_config_fixtures import raw_config

PROD = Path(__file__).parent / "valid" / "prod-ha.yaml"


@pytest.mark.parametrize("schedule", ["0 */6 * * *", "*/15 2-4 1,15 jan-jun mon-fri", "@daily", "0 0 * * 7"])
def test_cron_accepts(schedule):
    assert cron_problem(schedule) is None


@pytest.mark.parametrize("schedule", ["", "every 6 hours", "0 */0 * * *", "60 * * * *", "0 0 32 * *",
                                      "0 0 * 13 *", "5-1 * * * *", "0 0 * * funday", "* * * * * *"])
def test_cron_refuses(schedule):
    assert cron_problem(schedule)


@pytest.mark.parametrize("image", ["traefik/whoami:v1.11.0", "nginx:1.27", "registry.local:5000/team/app:2",
                                   "ghcr.io/a/b@sha256:" + "a" * 64, "quay.io/x/y:1.0@sha256:" + "0" * 64])
def test_image_accepts(image):
    assert image_problem(image) is None


@pytest.mark.parametrize("image", ["nginx", "nginx:latest", "Nginx:1", "nginx:", "a b:1",
                                   "x/y@sha256:abc", "{{ .Values.image }}", "x/y:1@sha256:" + "g" * 64])
def test_image_refuses(image):
    assert image_problem(image)


@pytest.mark.parametrize("key", ["tier", "example.com/tier", "node-restriction.kubernetes.io/pool", "a_b.c-d"])
def test_label_key_accepts(key):
    assert label_key_problem(key) is None


@pytest.mark.parametrize("key", ["", "-tier", "tier-", "Example.com/tier", "a/b/c", "x" * 64, "/tier"])
def test_label_key_refuses(key):
    assert label_key_problem(key)


def test_pem_bundle_needs_real_certificate_blocks(ca_certificate_pem):
    good = ca_certificate_pem
    assert pem_certificates_problem(good) is None
    assert pem_certificates_problem(good + good) is None
    assert pem_certificates_problem("not a pem")
    assert pem_certificates_problem(good + "trailing junk")
    body = good.split("\n")[1]
    assert pem_certificates_problem(good.replace(body, "Zm9v"))


@pytest.mark.parametrize("body", [
    "MII" + "A" * 85,                    # a DER SEQUENCE header, then zeros
    "MIIB" + "B" * 120,                  # a SEQUENCE of junk
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A" + "A" * 64,  # the start of a public key, not a certificate
])
def test_pem_that_openssl_cannot_read_is_refused(body):
    """Issue 27, cause 6: PEM-shaped text that is no certificate gave a traceback at deploy."""
    fake = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"
    assert "OpenSSL" in (pem_certificates_problem(fake) or "")


def test_misspelled_prefix_is_named_with_the_expected_prefix():
    raw, problems = split_keys({"k3s-platform:domain": "a.example.org", "kubernetes:context": "x",
                                "pulumi:tags": {}, "k3s-platfrom:tenants": [], "domain": "b"})
    assert raw == {"domain": "a.example.org"}
    assert problems == [
        "domain: 'domain' is neither this project's config namespace nor a provider's — write the key as "
        "k3s-platform:domain",
        "k3s-platfrom:tenants: 'k3s-platfrom' is neither this project's config namespace nor a provider's"
        " — write the key as k3s-platform:tenants",
    ]


def test_credentials_in_api_url_are_never_echoed():
    raw = raw_config(PROD)
    raw["router"]["apiUrl"] = "https://admin:s3cr3t-pw@192.168.10.1"
    with pytest.raises(ConfigError) as err:
        parse_stack_config(raw)
    assert "s3cr3t-pw" not in err.value.report("prod")


def test_public_admin_range_needs_the_opt_in():
    raw = raw_config(PROD)
    raw["network"]["adminCidrs"] = ["0.0.0.0/0"]
    with pytest.raises(ConfigError):
        parse_stack_config(raw)
    raw["network"]["allowPublicAdmin"] = True
    assert parse_stack_config(raw).network.allow_public_admin


def test_narrow_outside_admin_range_needs_the_opt_in_too():
    # Issue 27, cause 5: containment, not size — a /32 outside the owned networks opens as much.
    raw = raw_config(PROD)
    raw["network"]["adminCidrs"] = ["192.168.10.0/24", "203.0.113.7/32", "10.99.0.0/24"]
    with pytest.raises(ConfigError) as err:
        parse_stack_config(raw)
    assert [p.split(":")[0] for p in err.value.problems] == ["network.adminCidrs[1]", "network.adminCidrs[2]"]
    raw["network"]["allowPublicAdmin"] = True
    parse_stack_config(raw)


def test_vpn_off_leaves_its_tunnel_out_of_the_overlap_checks():
    raw = raw_config(PROD)
    raw["router"]["vpn"] = {"enabled": False, "tunnelCidr": "192.168.10.0/28"}
    raw["network"]["adminCidrs"] = ["192.168.10.0/24"]
    parse_stack_config(raw)


def test_every_name_family_is_collected():
    raw = raw_config(PROD)
    cfg = parse_stack_config(raw)
    names = [n for n, _, _ in derived_names(dict(cfg))]
    assert "dns-blog-home-example-org" in names and "dns-k8s-home-example-org" in names
    assert "fw-admin-192-168-10-0-24" in names and "vlan-igc1-10" in names
    assert "vpn-client-alice-cert" in names and "vpn-client-alice-import" in names and "node cp1" in names and "tenant shop" in names
    assert len(names) == len(set(names))


def test_a_section_error_does_not_hide_the_domain_check():
    raw = raw_config(PROD)
    raw["domain"] = "not a domain"
    raw["ingress"]["replicas"] = 0
    with pytest.raises(ConfigError) as err:
        parse_config_keys({f"k3s-platform:{k}": v for k, v in raw.items()})
    assert [p.split(":")[0] for p in err.value.problems] == ["domain", "ingress.replicas"]


def test_ha_stack_keeps_a_spare_traefik():
    # Checked here once (it was traefik_values' own check before issue 15).
    raw = raw_config(PROD)
    raw["ingress"]["replicas"] = 1
    with pytest.raises(ConfigError) as err:
        parse_stack_config(raw)
    assert err.value.problems == [
        "ingress.replicas: 1 leaves no spare Traefik in an HA stack — set it to 2 or more"]


def test_revoked_clients_name_their_blocking_overrides():
    raw = raw_config(PROD)
    raw["router"]["vpn"]["revokedClients"] = ["carol"]
    names = {n: key for n, key, _ in derived_names(dict(parse_stack_config(raw)))}
    assert names["vpn-revoked-carol"] == "router.vpn.revokedClients[0]"


# Issue 27, cause 5: admin ranges by containment. (admin ranges, extra config, expected keys)
_ADMIN_CASES = [
    (["198.51.100.0/24"], {}, ["network.adminCidrs[0]"]),                     # a public /24
    (["0.0.0.0/1", "128.0.0.0/1"], {"tunnelCidr": "64.0.0.0/8"}, ["network.adminCidrs[0]", "network.adminCidrs[1]"]),
    (["128.0.0.0/1"], {"tunnelCidr": "0.0.0.0/1"}, ["network.adminCidrs[0]"]),  # as wide as a public tunnel
    (["10.42.1.0/24"], {}, ["network.adminCidrs[0]"]),                         # inside the pod range
    (["10.43.0.10/32"], {}, ["network.adminCidrs[0]"]),                        # inside the service range
    (["192.168.11.0/24"], {}, ["network.adminCidrs[0]"]),                      # private, not owned
    (["172.16.0.0/12"], {}, ["network.adminCidrs[0]"]),                        # private, far wider
    (["192.168.10.0/25", "192.168.10.128/26"], {}, []),                        # inside the LAN
]


@pytest.mark.parametrize(("cidrs", "vpn", "keys"), _ADMIN_CASES)
def test_admin_ranges_must_lie_inside_owned_private_networks(cidrs, vpn, keys):
    raw = raw_config(PROD)
    raw["network"]["adminCidrs"] = cidrs
    raw["router"]["vpn"].update(vpn)
    if not keys:
        parse_stack_config(raw)
        return
    with pytest.raises(ConfigError) as err:
        parse_stack_config(raw)
    assert sorted({p.split(":")[0] for p in err.value.problems if p.startswith("network.adminCidrs")}) == keys


@pytest.mark.parametrize("cidr", ["10.42.0.0/24", "10.43.128.0/17"])
def test_pod_and_service_ranges_are_never_admin_even_with_the_opt_in(cidr):
    raw = raw_config(PROD)
    raw["network"]["adminCidrs"] = [cidr]
    raw["network"]["allowPublicAdmin"] = True
    with pytest.raises(ConfigError) as err:
        parse_stack_config(raw)
    assert err.value.problems[0].startswith("network.adminCidrs[0]: ") and "cluster." in err.value.problems[0]


def test_an_admin_range_inside_a_public_vlan_needs_the_opt_in():
    raw = raw_config(PROD)
    raw["network"]["vlans"] = [{"name": "pub", "tag": 20, "parent": "igc1", "cidr": "198.51.100.0/24",
                                "gateway": "198.51.100.1"}]
    raw["network"]["adminCidrs"] = ["198.51.100.0/25"]
    with pytest.raises(ConfigError) as err:
        parse_stack_config(raw)
    # The VLAN itself is refused at its key, and the admin range inside it still needs the opt-in.
    assert any(p.startswith("network.vlans[0].cidr:") and "not private" in p for p in err.value.problems)
    assert any(p.startswith("network.adminCidrs[0]:") and "not a private range" in p for p in err.value.problems)


# Issue 27, cause 8: credentials in charts.repository never reach the plan or the state.
@pytest.mark.parametrize("url", [
    "https://admin:s3cr3t-pw@charts.example.org", "https://s3cr3t-pw@charts.example.org/",
    "http://user:s3cr3t-pw@10.0.0.5:8879/charts", "https://charts.example.org/?token=s3cr3t-pw",
    "https://charts.example.org/index?access_token=s3cr3t-pw&x=1", "https://charts.example.org/#s3cr3t-pw",
    "https://charts.example.org:8443/repo?s3cr3t-pw", "  https://u:s3cr3t-pw@charts.example.org  ",
    # spellings the URL parser reads as user and password although urlsplit sees no netloc
    "https:u:s3cr3t-pw@charts.example.org", "https:/u:s3cr3t-pw@charts.example.org",
    "https:\\\\u:s3cr3t-pw@charts.example.org", "HTTPS://U:S3CR3T-PW@CHARTS.EXAMPLE.ORG",
    "https://charts\tx:s3cr3t-pw@example.org", "https://:s3cr3t-pw@charts.example.org",
    "https://u%3As3cr3t-pw@charts.example.org", "https://%40s3cr3t-pw@charts.example.org",
    # tokens after the path, in any of its forms
    "https://charts.example.org/?", "https://charts.example.org/#", "https://charts.example.org/x;token=s3cr3t-pw",
    "https://charts.example.org/repo\n?t=s3cr3t-pw", "https://charts.example.org/index.yaml?X-Amz-Signature=s3cr3t-pw",
    "https://charts.example.org/repo%3Ftoken=s3cr3t-pw", "https://charts.example.org/repo%3btoken=s3cr3t-pw",
    "https://charts.example.org/u%3As3cr3t-pw%40x", "https://charts.example.org/x%23s3cr3t-pw",
])
def test_chart_repository_credentials_are_refused_and_never_echoed(url):
    raw = raw_config(PROD)
    raw["charts"] = {"repository": url}
    with pytest.raises(ConfigError) as err:
        parse_stack_config(raw)
    report = err.value.report("prod")
    assert "s3cr3t-pw" not in report.lower() and err.value.problems[0].startswith("charts.repository: ")
    assert "takes no credentials for the chart repository" in report and "local mirror" in report


@pytest.mark.parametrize("url", ["http://charts.lan:8879", "https://charts.example.org/mirror/"])
def test_a_bare_chart_repository_is_fine(url):
    raw = raw_config(PROD)
    raw["charts"] = {"repository": url}
    assert parse_stack_config(raw).charts.repository is not None


# Issue 27, cause 9: values that break the deploy or widen access. (path, value, key named)
_BREAKING = [
    (("network", "lan", "gateway"), "192.168.10.0", "network.lan.gateway"),
    (("network", "lan", "gateway"), "192.168.10.255", "network.lan.gateway"),
    (("network", "lan", "gateway"), "192.168.10.150", "network.lan.dhcpRange"),
    (("network", "lan", "gateway"), "192.168.10.100", "network.lan.dhcpRange"),
    (("cluster", "servers", 0, "mac"), "00:00:00:00:00:00", "cluster.servers[0].mac"),
    (("cluster", "servers", 0, "mac"), "FF:FF:FF:FF:FF:FF", "cluster.servers[0].mac"),
    (("cluster", "servers", 0, "mac"), "01:00:5e:00:00:fb", "cluster.servers[0].mac"),
    (("cluster", "servers", 0, "mac"), "33-33-00-00-00-01", "cluster.servers[0].mac"),
    (("cluster", "podCidr"), "10.42.0.0/28", "cluster.podCidr"),
    (("cluster", "podCidr"), "8.8.0.0/16", "cluster.podCidr"),
    (("cluster", "serviceCidr"), "10.43.0.0/29", "cluster.serviceCidr"),
    (("cluster", "serviceCidr"), "1.0.0.0/16", "cluster.serviceCidr"),
    (("ingress", "replicas"), True, "ingress.replicas"),
    (("tenants", 0, "appPorts"), [False], "tenants[0].appPorts[0]"),
    (("tenants", 0, "quota", "pods"), "10", "tenants[0].quota.pods"),
    (("router", "timeoutSeconds"), 0.2, "router.timeoutSeconds"),
    (("router", "applyTimeoutSeconds"), 0.5, "router.applyTimeoutSeconds"),
    (("router", "retries"), True, "router.retries"),
]


@pytest.mark.parametrize(("path", "value", "key"), _BREAKING, ids=[f"{k}={v!r}" for _, v, k in _BREAKING])
def test_values_that_break_the_deploy_are_named(path, value, key):
    raw = raw_config(PROD)
    node = raw
    for part in path[:-1]:
        node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
    node[path[-1]] = value
    with pytest.raises(ConfigError) as err:
        parse_stack_config(raw)
    assert any(p.startswith(key + ":") for p in err.value.problems), err.value.problems


# Issue 27, cause 9: schedules that never fire (k3s would take them and never snapshot).
@pytest.mark.parametrize("schedule", ["0 0 31 2 *", "0 0 30 feb *", "0 0 31 4,6,9,11 *", "0 0 30-31 2 *",
                                      "15 3 31 apr *", "0 0 31,30 2 *"])
def test_never_firing_schedules_are_refused(schedule):
    assert "never fires" in (cron_problem(schedule) or "")


@pytest.mark.parametrize("schedule", ["0 0 29 2 *", "0 0 31 2 mon", "0 0 31 4-6 *", "0 0 5/30 2 *", "0 0 31 * *"])
def test_schedules_that_fire_sometimes_are_fine(schedule):
    assert cron_problem(schedule) is None
