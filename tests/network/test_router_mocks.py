"""The Router component under Pulumi mocks: which children it registers, their payloads,
parents and dependencies, and that the API key, private keys and client configs stay secret.

The engine request (parent, dependencies, secret markers) is captured in a MockMonitor
subclass, since `Mocks.new_resource` does not see dependencies."""

from __future__ import annotations

import json

import pulumi
from google.protobuf import json_format
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from components.network import Router

from .conftest import dev_inventory, make_settings, prod_inventory

API_KEY = "super-secret-api-key-42"
FAKE_PEM = "-----BEGIN {0}-----\nMIIfake\n-----END {0}-----\n"


class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outs = dict(args.inputs)
        if args.typ == "tls:index/privateKey:PrivateKey":
            outs["privateKeyPem"] = FAKE_PEM.format("EC PRIVATE KEY")
        elif args.typ in ("tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert"):
            outs["certPem"] = FAKE_PEM.format("CERTIFICATE")
        elif args.typ == "tls:index/certRequest:CertRequest":
            outs["certRequestPem"] = FAKE_PEM.format("CERTIFICATE REQUEST")
        elif args.typ == "random:index/randomBytes:RandomBytes":
            outs["hex"] = "ab" * 256
            outs["base64"] = "q" * 344
        elif args.inputs.get("kind") == "interface":
            outs["assignedId"] = "opt7"  # the id pfSense picks for the assignment
        return f"{args.name}-id", outs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


class CapturingMonitor(MockMonitor):
    def __init__(self, mocks) -> None:
        super().__init__(mocks)
        self.requests: dict[str, dict] = {}
        self.outputs: dict[str, dict] = {}

    def RegisterResource(self, request):
        raw = json_format.MessageToDict(request.object)
        self.requests[request.name] = {
            "type": request.type,
            "parent": request.parent,
            "dependencies": list(request.dependencies),
            "raw": raw,
            "inputs": rpc.deserialize_properties(request.object) if request.type != "pulumi:pulumi:Stack" else {},
        }
        return super().RegisterResource(request)

    def RegisterResourceOutputs(self, request):
        name = request.urn.split("::")[-1]
        self.outputs[name] = json_format.MessageToDict(request.outputs)
        return super().RegisterResourceOutputs(request)


def _is_secret(value) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def _strip_secrets(value):
    if _is_secret(value):
        return "[secret]"
    if isinstance(value, dict):
        return {k: _strip_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_secrets(v) for v in value]
    return value


def _run(inventory_factory, check, settings=None):
    mocks = Mocks()
    monitor = CapturingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, preview=False, monitor=monitor)

    @pulumi.runtime.test
    def body():
        router = Router("router", settings or make_settings(), inventory_factory(), pulumi.Output.secret(API_KEY))
        urns = [r.urn for r in router.objects.values()] + [a.urn for a in router.applies.values()]
        return pulumi.Output.all(router.urn, router.vpn_client_configs, *urns).apply(
            lambda args: check(router, monitor.requests, args[0], args[1])
        )

    body()


def _of_kind(requests, kind):
    return {n: r for n, r in requests.items() if r["type"].endswith("PfSenseObject") and r["inputs"].get("kind") == kind}


def test_dev_plan():
    def check(router, reqs, router_urn, configs):
        maps = _of_kind(reqs, "static_mapping")
        assert [r["inputs"]["payload"]["ipaddr"] for r in maps.values()] == ["192.168.10.11"]
        assert len(_of_kind(reqs, "host_override")) == 4  # 3 ingress hosts + the API name
        nat = _of_kind(reqs, "port_forward")
        assert {r["inputs"]["payload"]["target"] for r in nat.values()} == {"192.168.10.11"}
        assert _of_kind(reqs, "haproxy_backend") == {} and "haproxy" not in router.applies
        # The iot VLAN network brings its interface assignment (and its apply).
        assert sorted(router.applies) == ["dhcp", "dns", "firewall", "interfaces", "nat", "openvpn"]
        assert [a._name for a in router.ready] == ["router-apply-dns"]  # the nodes are on the LAN
        assert sorted(configs) == ["alice", "bob"] and "<tls-crypt>" in configs["alice"]

    _run(dev_inventory, check)


def test_prod_plan_and_dependencies():
    def check(router, reqs, router_urn, configs):
        assert len(_of_kind(reqs, "static_mapping")) == 5
        nat = _of_kind(reqs, "port_forward")
        assert {r["inputs"]["payload"]["target"] for r in nat.values()} == {"192.168.10.1"}
        backends = {r["inputs"]["payload"]["name"]: r for r in _of_kind(reqs, "haproxy_backend").values()}
        assert len(backends["ingress-https"]["inputs"]["payload"]["servers"]) == 5
        assert len(backends["k3s-api"]["inputs"]["payload"]["servers"]) == 3
        assert "router-vpn-server" in reqs
        # every apply depends on each object of its subsystem
        apply_haproxy = reqs["router-apply-haproxy"]
        haproxy_urns = {router.objects[r].urn for r in router.objects if r.startswith("haproxy-")}
        assert len(haproxy_urns) == 6
        assert [a._name for a in router.ready][-1] == "router-apply-haproxy"
        # frontends wait for their backend
        frontend = reqs["router-haproxy-frontend-k3s-api"]
        assert any(d.endswith("router-haproxy-backend-k3s-api") for d in frontend["dependencies"])
        assert sum(1 for d in apply_haproxy["dependencies"] if "haproxy-" in d) == 6
        # the OpenVPN server waits for the CA and server certificate imports
        server_deps = reqs["router-vpn-server"]["dependencies"]
        assert any(d.endswith("router-vpn-ca-import") for d in server_deps)
        assert any(d.endswith("router-vpn-server-cert-import") for d in server_deps)
        # every child is parented to the Router
        for name, req in reqs.items():
            if name != "router" and req["type"] != "pulumi:pulumi:Stack":
                assert req["parent"] == router_urn, name

    _run(prod_inventory, check)


def test_revoked_clients_are_blocked_on_the_router():
    def check(router, reqs, router_urn, configs):
        overrides = _of_kind(reqs, "openvpn_client_override")
        assert sorted(overrides) == ["router-vpn-revoked-bob", "router-vpn-revoked-carol"]
        bob = overrides["router-vpn-revoked-bob"]
        assert bob["inputs"]["naturalKey"] == "openvpn_client_override:bob"
        assert bob["inputs"]["payload"] == {
            "common_name": "bob", "block": True, "disable": False,
            "description": "k3s-platform: revoked vpn admin bob", "server_list": [],
        }
        assert bob["parent"] == router_urn
        assert any(d.endswith("router-vpn-server") for d in bob["dependencies"])
        # applied (verified present) with the rest of OpenVPN; no certificate for a revoked admin
        assert any(d.endswith("router-vpn-revoked-bob") for d in reqs["router-apply-openvpn"]["dependencies"])
        assert sorted(configs) == ["alice"] and "router-vpn-client-bob-import" not in reqs

    settings = make_settings(vpn={"enabled": True, "clients": ["alice"], "revokedClients": ["bob", "carol"]})
    _run(dev_inventory, check, settings)


def test_secrets_stay_secret():
    def check(router, reqs, router_urn, configs):
        dynamic = {n: r for n, r in reqs.items() if r["type"].startswith("pulumi-python:dynamic/network:")}
        assert dynamic
        for name, req in dynamic.items():
            fields = req["raw"]
            assert _is_secret(fields["apiKey"]), f"{name}: apiKey not secret"
            visible = json.dumps(_strip_secrets(fields))
            assert API_KEY not in visible, f"{name}: API key visible"
            assert "PRIVATE KEY" not in visible, f"{name}: private key visible"
            assert "OpenVPN Static key" not in visible, f"{name}: tls key visible"
        for role in ("router-vpn-server-cert-import", "router-vpn-client-alice-import", "router-vpn-server"):
            assert _is_secret(reqs[role]["raw"]["payload"]), role
        # public objects stay reviewable in the plan
        assert not _is_secret(reqs["router-dhcp-cp1"]["raw"]["payload"])

    _run(prod_inventory, check)


def test_component_outputs_keep_client_configs_secret():
    mocks = Mocks()
    monitor = CapturingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, preview=False, monitor=monitor)

    @pulumi.runtime.test
    def body():
        router = Router("router", make_settings(), dev_inventory(), API_KEY)  # a plain str key too
        return pulumi.Output.all(router.urn, router.vpn_client_configs, router.vpn_ca_cert_pem).apply(lambda _: None)

    body()
    outputs = monitor.outputs["router"]
    assert _is_secret(outputs["vpnClientConfigs"])
    assert not _is_secret(outputs["vpnCaCertPem"])
    assert "PRIVATE KEY" not in json.dumps(_strip_secrets(outputs))
    assert _is_secret(monitor.requests["router-nat-http"]["raw"]["apiKey"])
