"""The step order as data: fast creates, safe upgrades (ADR 0002)."""

from components.cluster.order import step_order
from tests.cluster.members import member

URL = "https://k8s.home.example.org:6443"
PROD = [member("cp1", "10.0.0.11", first=True), member("cp2", "10.0.0.12", server_url=URL),
        member("cp3", "10.0.0.13", server_url=URL), member("w1", "10.0.0.21", "agent", server_url=URL),
        member("w2", "10.0.0.22", "agent", server_url=URL)]


def test_create_order_servers_in_sequence_agents_behind_first_server():
    order = step_order(PROD)
    assert order.install_after == {"cp1": (), "cp2": ("cp1",), "cp3": ("cp2",), "w1": ("cp1",), "w2": ("cp1",)}


def test_upgrade_order_servers_one_at_a_time_then_agents():
    order = step_order(PROD)
    assert order.upgrade_after == {"cp1": (), "cp2": ("cp1",), "cp3": ("cp2",), "w1": ("cp3",), "w2": ("cp3",)}


def test_only_joiners_need_the_api_endpoint():
    assert step_order(PROD).needs_endpoint == {"cp2", "cp3", "w1", "w2"}
    single = step_order(PROD[:1])
    assert single.install_after == {"cp1": ()} and not single.needs_endpoint
