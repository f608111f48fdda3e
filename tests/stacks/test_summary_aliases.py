"""summary.json lists each resource's aliases as URNs: a reviewer sees which old URN a
renamed resource takes over (a state holding that URN moves to the new one)."""

from components import names
from tools.plan.render import resources


def test_each_resource_lists_its_aliases_as_urns(prod_run):
    listed = {r["urn"]: r["aliases"] for r in resources(prod_run)}
    assert all(isinstance(a, list) for a in listed.values())
    mapping = next(r for r in prod_run.registrations if r.name == f"k3s-router-{names.dhcp_mapping('52:54:00:10:00:21')}")
    old = f"{mapping.urn.rsplit('::', 1)[0]}::k3s-router-{names.legacy_dhcp_mapping('w1')}"
    assert listed[mapping.urn] == [old]
    assert all(a.startswith("urn:pulumi:prod::") for aliases in listed.values() for a in aliases)
    # and a resource without aliases says so with an empty list
    assert listed[next(r.urn for r in prod_run.registrations if r.name == "k3s-cluster-token")] == []
