"""components.safe_yaml: the one YAML reader. Bombs, recursion, depth and duplicate keys are
refused before anything is built, with source, line and column; ordinary YAML reads as
yaml.safe_load reads it."""

from __future__ import annotations

import time

import pytest
import yaml

from components.safe_yaml import Limits, YamlError, load, load_all
from tools.paths import ROOT


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The classic "billion laughs": each level repeats the previous one `width` times."""
    lines = ["l0: &l0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_at_once_naming_source_and_line():
    started = time.monotonic()
    with pytest.raises(YamlError) as err:
        load(alias_bomb(), source="bomb.yaml")
    assert time.monotonic() - started < 1.0
    assert err.value.source == "bomb.yaml" and err.value.line >= 1 and err.value.column >= 1
    assert str(err.value).startswith("bomb.yaml:") and "expands to more than" in str(err.value)
    assert "\n" not in str(err.value)


def test_bomb_in_a_later_document_and_in_a_mapping_is_refused():
    text = "kind: ConfigMap\n---\n" + alias_bomb().replace("[", "{k0: ").replace("]", "}")
    bomb_map = "a: &a {x: 1, y: 2, z: 3, w: 4}\n" + "".join(
        f"{c}: &{c} {{p: *{p}, q: *{p}, r: *{p}, s: *{p}, t: *{p}, u: *{p}, v: *{p}, w: *{p}}}\n"
        for p, c in zip("abcdefghi", "bcdefghij"))
    with pytest.raises(YamlError):
        load_all(bomb_map, source="m.yaml")
    with pytest.raises(YamlError):
        load_all(text, source="m.yaml")


def test_bounds_are_configurable_and_aliases_below_them_work():
    text = "base: &b {cpu: 1}\na: *b\nb: *b\n"
    assert load(text, source="s") == {"base": {"cpu": 1}, "a": {"cpu": 1}, "b": {"cpu": 1}}
    with pytest.raises(YamlError, match="more than 1 alias uses"):
        load(text, source="s", limits=Limits(max_aliases=1))
    with pytest.raises(YamlError, match="more than 5 nodes"):
        load(text, source="s", limits=Limits(max_nodes=5))
    with pytest.raises(YamlError, match="bytes, more than the 10 allowed"):
        load(text, source="s", limits=Limits(max_bytes=10))


def test_recursive_alias_is_refused():
    with pytest.raises(YamlError, match=r"r\.yaml:1:\d+: an alias refers to the node that contains it"):
        load("a: &a [1, *a]\n", source="r.yaml")


@pytest.mark.parametrize("n", [101, 5000, 2_000_000])
def test_deep_nesting_is_refused_without_crashing(n):
    with pytest.raises(YamlError, match="nesting deeper than 100 levels"):
        load("[" * n + "]" * n, source="deep.yaml")


def test_depth_counts_through_aliases():
    inner = "a: &a " + "[" * 60 + "1" + "]" * 60 + "\n"
    assert load(inner + "b: *a\n", source="s")
    with pytest.raises(YamlError, match="nesting deeper"):
        load(inner + "b: " + "[" * 50 + "*a" + "]" * 50 + "\n", source="s")


@pytest.mark.parametrize("text,key,line", [
    ("cluster:\n  servers: 1\ndomain: x\ncluster:\n  servers: 3\n", "cluster", 4),
    ("a:\n  b: 1\n  c: 2\n  b: 3\n", "b", 4),
    ("{x: 1, x: 2}\n", "x", 1),
    ("a: 1\n'a': 2\n", "a", 2),
])
def test_duplicate_keys_are_refused_naming_key_and_lines(text, key, line):
    with pytest.raises(YamlError) as err:
        load(text, source="Pulumi.dev.yaml")
    assert err.value.line == line
    assert f"duplicate key {key!r}" in str(err.value) and "first at line" in str(err.value)


def test_same_key_in_different_mappings_and_merge_keys_are_fine():
    assert load("a: {x: 1}\nb: {x: 2}\n", source="s") == {"a": {"x": 1}, "b": {"x": 2}}
    assert load("d: &d {x: 1}\ne:\n  <<: *d\n  y: 2\n", source="s")["e"] == {"x": 1, "y": 2}
    assert load("1: a\n'1': b\n", source="s") == {1: "a", "1": "b"}  # an int and a string


def test_syntax_errors_name_source_line_and_column():
    with pytest.raises(YamlError) as err:
        load("a: [1, 2\nb: 3\n", source="bad.yaml")
    assert str(err.value).startswith("bad.yaml:") and err.value.line == 2 and "not valid YAML" in str(err.value)


def test_unsafe_tags_are_refused():
    with pytest.raises(YamlError, match="not valid YAML"):
        load("!!python/object/apply:os.system ['true']\n", source="evil.yaml")


def test_load_expects_one_document_load_all_returns_all():
    assert load("", source="e") is None
    assert load_all("a: 1\n---\n---\nb: 2\n", source="s") == [{"a": 1}, None, {"b": 2}]
    with pytest.raises(YamlError, match="2 documents where one is expected"):
        load("a: 1\n---\nb: 2\n", source="s")


def test_reads_like_safe_load_on_the_repo_yaml_files():
    files = [ROOT / "Pulumi.yaml", ROOT / "Pulumi.dev.yaml", ROOT / "Pulumi.prod.yaml",
             *sorted((ROOT / "tests" / "config").rglob("*.yaml"))]
    for path in files:
        text = path.read_text()
        assert load(text, source=str(path)) == yaml.safe_load(text), path
