"""Issue 27, cause 10: what a config error shows of the input. Values and key names of any size
or content are cut and escaped — one problem is one line, never megabytes — and a router URL
whose host is no name or address is refused (the driver could never reach it)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from components.config import ConfigError, parse_stack_config
from tests.config.test_config_fixtures import raw_config

PROD = Path(__file__).parent / "valid" / "prod-ha.yaml"
BIG = "k" * 50_000


def _report(mutate) -> tuple[list[str], str]:
    raw = copy.deepcopy(raw_config(PROD))
    mutate(raw)
    with pytest.raises(ConfigError) as err:
        parse_stack_config(raw)
    return err.value.problems, err.value.report("prod")


@pytest.mark.parametrize("mutate,key", [
    (lambda r: r["cluster"].__setitem__("k3s", {BIG: 1}), "cluster.k3s."),
    (lambda r: r["tenants"][0].__setitem__(BIG, 1), "tenants[0]."),
    (lambda r: r.__setitem__(BIG, 1), ""),
    (lambda r: r["cluster"].__setitem__("registries", {"configs": {BIG + ".lan": {"auth": True}}}), "registryAuth."),
    (lambda r: r["router"]["vpn"].__setitem__("endpoint", BIG), "router.vpn.endpoint: "),
    (lambda r: r["tenants"][0]["hosts"].__setitem__(0, BIG + ".home.example.org"), "tenants[0].hosts[0]: "),
])
def test_huge_values_and_key_names_are_cut(mutate, key):
    problems, report = _report(mutate)
    assert any(p.startswith(key) for p in problems), problems
    assert len(report) < 2_000 and "characters)" in report


@pytest.mark.parametrize("name", ["x\n  - forged: problem", "x\r\x1b[2Jy", "x\u2028y", "x\x00y"])
def test_control_characters_in_key_names_never_forge_report_lines(name):
    problems, report = _report(lambda r: r["cluster"].__setitem__("k3s", {name: 1}))
    assert len(report.splitlines()) == 2 and "\x1b" not in report and "\x00" not in report
    assert problems[0].startswith("cluster.k3s.x")


@pytest.mark.parametrize("url", ["https://" + "a" * 300, "https://a_b.lan", "https://-x.lan", "https://a..b:8443",
                                 "https://%41.lan", "https://router.lan-:8443"])
def test_an_api_url_whose_host_is_no_name_or_address_is_refused(url):
    problems, _ = _report(lambda r: r["router"].__setitem__("apiUrl", url))
    assert any(p.startswith("router.apiUrl: ") and "no DNS name or IP address" in p for p in problems), problems


@pytest.mark.parametrize("url", ["https://pfsense:8443", "https://pfsense.lan", "https://[fd00::1]:8443"])
def test_api_urls_with_names_or_addresses_are_fine(url):
    raw = copy.deepcopy(raw_config(PROD))
    raw["router"]["apiUrl"] = url
    parse_stack_config(raw)
