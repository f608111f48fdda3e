"""`RouterDriver` is the whole of what the dynamic resources call on a router: a second router
needs only a class with those members (mypy checks `PfRestDriver` has them)."""

import ast
import inspect

from components.network import resources
from components.network.driver import PfRestDriver, RouterDriver


def _members_resources_use() -> set[str]:
    """Attributes resources.py reads off a driver: `driver.X` or `driver_from_props(...).X`."""
    used = set()
    for node in ast.walk(ast.parse(inspect.getsource(resources))):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id == "driver":
            used.add(node.attr)
        elif isinstance(owner, ast.Call) and getattr(owner.func, "id", None) == "driver_from_props":
            used.add(node.attr)
    return used


def _protocol_members() -> set[str]:
    return {name for name in vars(RouterDriver) if not name.startswith("_")} | set(RouterDriver.__annotations__)


def test_resources_call_only_what_the_protocol_declares():
    used = _members_resources_use()
    assert used, "the scan found no driver calls in resources.py: it no longer sees them"
    assert used <= _protocol_members(), f"resources.py calls {sorted(used - _protocol_members())} outside RouterDriver"


def test_pfrest_driver_has_every_protocol_member():
    for name in _protocol_members():
        assert hasattr(PfRestDriver, name) or name in inspect.signature(PfRestDriver.__init__).parameters, name

