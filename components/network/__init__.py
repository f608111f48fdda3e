"""Network layer: the pfSense Router component and its settings/inventory types."""

from .inventory import RouterInventory, RouterNode
from .router import Router
from .settings import RouterSettings, VlanSettings, VpnSettings

__all__ = ["Router", "RouterInventory", "RouterNode", "RouterSettings", "VlanSettings", "VpnSettings"]
