"""YAML read the way the Go tools that consume our files read it.

    from components.go_yaml import V2, V3, GoYamlError, to_value
    nodes = safe_yaml.compose_all(text, source=path)   # checked node graphs
    value = to_value(nodes[0], V3, source=path)         # what yaml.v3 gives an interface{}

Creates nothing; pure nodes -> data. Python's YAML 1.1 loader and Go's decoders disagree on
plain (unquoted) scalars, and the disagreement decides what gets deployed:

- the Pulumi CLI reads stack files with gopkg.in/yaml.v3: only true/false are booleans
  (`no`, `on`, `y` are strings), no base-60 numbers (`52:54:00:10:00:11` is a string),
  `0o17` and `017` are octal, `1_000` is 1000, `1e3` is a float, a date stays a date;
- kubectl (sigs.k8s.io/yaml over its fork of gopkg.in/yaml.v2) reads manifests: `y`, `Y`,
  `yes`, `on`, `n`, `no`, `off` are booleans, `0o0` is the integer 0 and `0e0` the float 0,
  integers too long for 64 bits stay integers, dates stay text.

The rules below follow the pinned upstream sources (gopkg.in/yaml.v3 resolve.go/decode.go,
sigs.k8s.io/yaml goyaml.v2/resolve.go and yaml.go), written in our own code. Values are built
as the JSON those tools produce from them: a float with an integral value becomes an int
(Go's encoding/json writes 2.0 as 2), NaN and infinities are refused (encoding/json cannot
write them), timestamps become text. A mapping key that is not a string is refused where the
Go side would fail and converted where it converts (see `_key`).
"""

from __future__ import annotations

import base64
import binascii
import calendar
import math
import re
from dataclasses import dataclass

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

# Set by components.safe_yaml on every untagged plain scalar: only those are resolved by the
# rules; quoted and block scalars are strings, explicitly tagged ones follow their tag.
PLAIN_TAG = "tag:k3s-platform,2026:plain"
_YAML = "tag:yaml.org,2002:"


class GoYamlError(ValueError):
    """A value the Go decoder (or the JSON encoding after it) refuses; names where."""

    def __init__(self, source: str, node: Node, path: str, problem: str, fix: str) -> None:
        mark = node.start_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        where = f" at {path}" if path else ""
        super().__init__(f"{source}:{line}:{column}{where}: {problem} — {fix}")
        self.path = path


@dataclass(frozen=True)
class Rules:
    """One Go decoder's reading of plain scalars."""

    name: str
    booleans: dict[str, bool]
    big_ints: bool          # the Kubernetes fork of yaml.v2 keeps integers beyond 64 bits
    timestamps: str         # "rfc3339": time.Time through encoding/json; "text": kept as written


_V3_BOOLEANS = {**dict.fromkeys(("true", "True", "TRUE"), True), **dict.fromkeys(("false", "False", "FALSE"), False)}
V3 = Rules("gopkg.in/yaml.v3 (the Pulumi CLI)", _V3_BOOLEANS, big_ints=False, timestamps="rfc3339")
V2 = Rules("sigs.k8s.io/yaml over yaml.v2 (kubectl, the API server)", {
    **_V3_BOOLEANS,
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "off", "Off", "OFF"), False),
}, big_ints=True, timestamps="text")

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_SPECIAL_FLOATS = {**dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
                   **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
                   **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf)}
# strconv.ParseInt(s, 0, 64) and ParseUint: an optional sign (ParseInt only), then a base prefix.
_GO_INT = re.compile(r"([+-]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0([0-7]+)|([1-9][0-9]*|0))", re.ASCII)
_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?", re.ASCII)
_DOT_FLOAT = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?", re.ASCII)
# time.Parse layouts "2006-1-2T15:4:5.999999999Z07:00" (also with "t"), "2006-1-2 15:4:5.999999999",
# "2006-1-2": one- or two-digit fields, an optional fraction, `Z` or ±hh:mm.
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d\d?)-(\d\d?)"
    r"(?:(?:([Tt])(\d\d?):(\d\d?):(\d\d?)(?:[.,](\d+))?(Z|[+-]\d\d:\d\d))"
    r"|(?: (\d\d?):(\d\d?):(\d\d?)(?:[.,](\d+))?))?", re.ASCII)
_INT64 = 2 ** 63
_UINT64 = 2 ** 64


def _go_int(plain: str, big: bool) -> int | None:
    match = _GO_INT.fullmatch(plain)
    if not match:
        return None
    sign, hexa, octo, bina, old_octal, dec = match.groups()
    digits, base = next((d, b) for d, b in ((hexa, 16), (octo, 8), (bina, 2), (old_octal, 8), (dec, 10)) if d)
    value = int(digits, base) * (-1 if sign == "-" else 1)
    if -_INT64 <= value < _INT64 or (not sign and value < _UINT64) or big:
        return value
    return None


def _timestamp(text: str) -> str | None:
    """The RFC 3339 text encoding/json writes for a time yaml.v3 parsed, or None."""
    match = _TIMESTAMP.fullmatch(text)
    if not match:
        return None
    year, month, day = (int(g) for g in match.group(1, 2, 3))
    if match.group(4):
        hour, minute, second, fraction, zone = match.group(5, 6, 7, 8, 9)
    else:
        hour, minute, second, fraction = match.group(10, 11, 12, 13)
        zone = "Z"
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return None
    h, m, s = int(hour or 0), int(minute or 0), int(second or 0)
    if h > 23 or m > 59 or s > 59:
        return None
    if zone not in ("Z",) and (int(zone[1:3]) > 24 or int(zone[4:6]) > 60):
        return None
    if zone in ("+00:00", "-00:00"):
        zone = "Z"
    frac = (fraction or "")[:9].rstrip("0")
    return f"{year:04d}-{month:02d}-{day:02d}T{h:02d}:{m:02d}:{s:02d}{'.' + frac if frac else ''}{zone}"


def resolve_plain(text: str, rules: Rules) -> object:
    """What the decoder makes of an untagged plain scalar (None, bool, int, float or str)."""
    if text in _NULLS:
        return None
    if text in rules.booleans:
        return rules.booleans[text]
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    first = text[0]
    if first == ".":
        return float(text) if _DOT_FLOAT.fullmatch(text) and not math.isinf(float(text)) else text
    if not (first.isascii() and (first.isdigit() or first in "+-")):
        return text
    stamp = _timestamp(text) if text[:4].isdigit() and text[4:5] == "-" else None
    if stamp is not None:
        return stamp if rules.timestamps == "rfc3339" else text
    plain = text.replace("_", "")
    number = _go_int(plain, big=False)
    if number is not None:
        return number
    if _YAML_FLOAT.fullmatch(plain):
        value = float(plain)
        if not math.isinf(value):  # ParseFloat reports a range error: left as text
            return value
    if rules.big_ints:
        number = _go_int(plain, big=True)
        if number is not None:
            return number
    return text


def scalar_value(node: ScalarNode, rules: Rules, source: str, path: str) -> object:
    tag = node.tag
    if tag == PLAIN_TAG:
        return resolve_plain(node.value, rules)
    if tag == _YAML + "binary":
        try:
            data = base64.b64decode("".join(node.value.split()), validate=True)
        except (binascii.Error, ValueError):
            raise GoYamlError(source, node, path, "!!binary value is not base64",
                              "write the text itself (drop !!binary), or valid base64") from None
        return data.decode("utf-8", "replace")  # encoding/json writes bad bytes as U+FFFD
    if tag in (_YAML + t for t in ("int", "float", "bool", "null", "timestamp")):
        value = resolve_plain(node.value, rules)
        kind = tag[len(_YAML):]
        ok = {"int": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              "bool": lambda v: isinstance(v, bool), "null": lambda v: v is None,
              "timestamp": lambda v: isinstance(v, str) and _timestamp(node.value) is not None}[kind](value)
        if not ok:
            raise GoYamlError(source, node, path, f"`{node.value}` cannot be read as !!{kind}",
                              f"remove the !!{kind} tag or fix the value")
        return float(value) if kind == "float" and isinstance(value, int) else value
    return node.value  # !!str, quoted, block and unknown tags: the text


def _key(node: Node, rules: Rules, source: str, path: str, converts: bool) -> str:
    """A mapping key as the Go side ends up with it: strings as they are; other scalars
    converted to text where the Go side converts them, refused where it fails."""
    if not isinstance(node, ScalarNode):
        raise GoYamlError(source, node, path, "a mapping or list used as a key", "use a plain string key")
    value = scalar_value(node, rules, source, path)
    if isinstance(value, str):
        return value
    if not converts or value is None or (isinstance(value, float) and not math.isfinite(value)):
        raise GoYamlError(source, node, path, f"the key `{node.value}` is not a string",
                          f"quote it (\"{node.value}\") or use a name")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def to_value(node: Node, rules: Rules, *, source: str, path: str = "", keys: str = "always") -> object:
    """The JSON-shaped value the Go decoder (plus encoding/json) makes of `node`.

    keys: what happens to a mapping key that is not a string. "always": converted to text
    (sigs.k8s.io/yaml). "fix": converted, as the Pulumi CLI does at the top of a config value
    and below maps that had such keys; under a map whose keys were all strings it stops
    ("never": refused, encoding/json cannot write the map the decoder built there).
    """
    if isinstance(node, ScalarNode):
        value = scalar_value(node, rules, source, path)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise GoYamlError(source, node, path, f"`{node.value}` is not a finite number (JSON has none)",
                                  "write a number, or quote it if it is text")
            if value.is_integer() and abs(value) < 1e21:  # encoding/json: 2.0 -> 2
                return int(value)
        return value
    if isinstance(node, SequenceNode):
        return [to_value(child, rules, source=source, path=f"{path}[{i}]", keys=keys)
                for i, child in enumerate(node.value)]
    if isinstance(node, MappingNode):
        return _mapping(node, rules, source, path, keys)
    raise GoYamlError(source, node, path, "unsupported YAML node", "simplify the document")


def _merged_pairs(node: MappingNode, source: str, path: str) -> list[tuple[Node, Node]]:
    """The mapping's own pairs, then those of its `<<` merges."""
    pairs = [(k, v) for k, v in node.value if not _is_merge(k)]
    for merge in (v for k, v in node.value if _is_merge(k)):
        for src in (merge.value if isinstance(merge, SequenceNode) else [merge]):
            if not isinstance(src, MappingNode):
                raise GoYamlError(source, merge, path, "`<<` merges something that is not a mapping",
                                  "merge a mapping (or a list of mappings)")
            pairs += _merged_pairs(src, source, path)
    return pairs


def _is_merge(key: Node) -> bool:
    return isinstance(key, ScalarNode) and key.value == "<<" and key.tag in (PLAIN_TAG, _YAML + "merge")


def _mapping(node: MappingNode, rules: Rules, source: str, path: str, keys: str) -> dict:
    pairs = _merged_pairs(node, source, path)
    own = sum(1 for k, _ in node.value if not _is_merge(k))
    texts = [scalar_value(k, rules, source, path) if isinstance(k, ScalarNode) else None for k, _ in pairs]
    all_strings = all(isinstance(t, str) for t in texts)
    convert = keys == "always" or (keys == "fix" and not all_strings)
    below = "always" if keys == "always" else ("never" if keys == "never" or all_strings else "fix")
    out: dict[str, object] = {}
    for i, (key_node, value_node) in enumerate(pairs):
        key = _key(key_node, rules, source, path, convert)
        if key in out:
            if i < own:  # two keys of the mapping itself that the decoder reads as one
                raise GoYamlError(source, key_node, path, f"duplicate key {key!r}",
                                  "keep one of them (the Go decoder refuses or silently drops the other)")
            continue  # a merged key the mapping sets itself: its own wins
        child = f"{path}.{key}" if path else key
        out[key] = to_value(value_node, rules, source=source, path=child, keys=below)
    return out
