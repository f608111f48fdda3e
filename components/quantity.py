"""Kubernetes resource quantities ("500m", "2", "512Mi", "1e3") as exact Decimals.

Shared by the config validation (LimitRange defaults within quota) and the tenant specs.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

from components.grammar import Grammar

# Ref: https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
_QUANTITY = Grammar(
    r"(?P<sign>[+-]?)(?P<number>\d+(?:\.\d*)?|\.\d+)"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|m|k|M|G|T|P|E)?"
)
# Kubernetes keeps quantities within int64 (about 9.2e18) and milli-units; a wider exponent
# means a typo, and a huge one (1e999999999) would overflow the Decimal context.
_MAX_EXPONENT = 18
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
    if suffix not in _SUFFIX_FACTORS and abs(int(suffix[1:])) > _MAX_EXPONENT:
        raise ValueError(
            f"{text!r} has the exponent {suffix[1:]}; a Kubernetes quantity stays within "
            f"10^-{_MAX_EXPONENT}..10^{_MAX_EXPONENT} (use a suffix such as Gi, or e-3 .. e18)"
        )
    # Enough digits that Ei and large exponents stay exact.
    with localcontext() as ctx:
        ctx.prec = 60
        number = Decimal(match["sign"] + match["number"])
        if suffix in _SUFFIX_FACTORS:
            value = number * _SUFFIX_FACTORS[suffix]
        else:  # decimal exponent: e3, E-2, e+1
            value = number.scaleb(int(suffix[1:]))
    return value
