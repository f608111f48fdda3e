"""Network layer: the pfSense Router component. Its settings and inventory types are config
(`components.config.router`)."""

from .router import Router

__all__ = ["Router"]
