"""Kubernetes resource quantities ("500m", "2", "512Mi", "1e3") as exact Decimals.

Shared by the config validation (LimitRange defaults within quota) and the tenant specs.
"""

from __future__ import annotations

import re
from decimal import Decimal, localcontext

# Ref: https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
_QUANTITY = re.compile(
    r"^(?P<sign>[+-]?)(?P<number>\d+(?:\.\d*)?|\.\d+)"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|m|k|M|G|T|P|E)?$"
)
_SUFFIX_FACTORS = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}


def parse_quantity(q: str | int) -> Decimal:
    """Return the exact value of a Kubernetes quantity (``500m`` -> 0.5, ``1Gi`` -> 1073741824).

    Accepts the decimal SI suffixes (m, k, M, G, T, P, E), the binary ones (Ki .. Ei) and
    decimal exponents (``1e3``, ``2E-1``). An int is accepted as a plain number, because
    YAML config gives ``pods: 10`` as an int. Raises ValueError on anything else.
    """
    if isinstance(q, bool) or not isinstance(q, (str, int)):
        raise ValueError(f"{q!r} is not a Kubernetes quantity (expected a string such as '500m' or '1Gi')")
    text = str(q)
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(
            f"{text!r} is not a Kubernetes quantity "
            "(expected a number with an optional suffix: 500m, 2, 1.5Gi, 10M, 1e3)"
        )
    suffix = match["suffix"] or ""
    # Enough digits that Ei and large exponents stay exact.
    with localcontext() as ctx:
        ctx.prec = 60
        number = Decimal(match["sign"] + match["number"])
        if suffix in _SUFFIX_FACTORS:
            value = number * _SUFFIX_FACTORS[suffix]
        else:  # decimal exponent: e3, E-2, e+1
            value = number.scaleb(int(suffix[1:]))
    return value
