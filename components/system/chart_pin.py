"""`ChartPin`: where a Helm chart comes from and which version (pure data, no imports).

Each chart's pin sits beside its values (`TRAEFIK_CHART` in traefik_values.py,
`CERT_MANAGER_CHART` in cert_manager_values.py); `./run schemas` reads them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChartPin:
    """Where a chart comes from and which version; `app_version` is the image tag it ships."""

    chart: str
    version: str
    repo: str
    app_version: str
