"""A stack file (`Pulumi.<stack>.yaml`) read as the Pulumi CLI reads it.

    values, secure = read_stack_file(text, source="Pulumi.dev.yaml", secret_keys={...})

Pure text -> data; the offline plan and its tests use it (tools/imitations/harness.py). The CLI decodes
the file with gopkg.in/yaml.v3 into `config.Map` (pulumi sdk/go/common/resource/config:
key.go, value.go) and refuses a plaintext value for a key the project declares `secret: true`
(pkg/workspace, "must be encrypted as it's secret"). Here, as there:

- a key is `<namespace>:<name>` (or the old `<namespace>:config:<name>`); anything else is
  refused;
- a scalar value is its text as written: `no`, `1.50`, `2024-01-01`, `52:54:00:10:00:11` are
  the strings the program receives (`!!binary` gives the decoded text, an empty value "");
- a mapping or list is decoded by yaml.v3 rules (components/go_yaml.py: `no` is a string,
  there are no base-60 numbers, `0o17` is 15) and handed over as JSON; a single
  `secure: <ciphertext>` mapping is an encrypted value;
- a key declared secret must be encrypted; the error names the key and the command that
  fixes it, never the value.
"""

from __future__ import annotations

from yaml.nodes import MappingNode, Node, ScalarNode

from components import go_yaml, safe_yaml


class StackFileError(ValueError):
    """The Pulumi CLI would refuse this stack file; the message says where and how to fix it."""


def _at(source: str, node: Node) -> str:
    mark = node.start_mark
    return f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source


def _scalar_text(node: ScalarNode, source: str, path: str) -> str:
    """What yaml.v3 puts in a Go string for this scalar (config.Value tries a string first)."""
    value = go_yaml.scalar_value(node, go_yaml.V3, source, path)  # checks explicit tags, decodes !!binary
    if node.tag == "tag:yaml.org,2002:binary":
        return str(value)
    return "" if value is None and node.tag == go_yaml.PLAIN_TAG else node.value


def parse_key(text: str) -> str | None:
    """`namespace:name` as config.ParseKey reads it, or None where it refuses the key."""
    parts = text.split(":")
    if len(parts) == 2:
        return text
    if len(parts) == 3 and parts[1] == "config" and parts[0] and parts[2]:
        return f"{parts[0]}:{parts[2]}"
    return None


def _is_secure(value: object) -> bool:
    """config.Value: a `{secure: <string>}` mapping, or an object holding one."""
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("secure"), str):
            return True
        return any(_is_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_is_secure(v) for v in value)
    return False


def read_stack_file(text: str, *, source: str, secret_keys: frozenset[str] | set[str] = frozenset()
                    ) -> tuple[dict[str, object], set[str]]:
    """(values by full key, the keys whose value is encrypted). `secret_keys`: full keys the
    project declares secret. Raises StackFileError (or safe_yaml.YamlError) on what the CLI
    refuses."""
    docs = safe_yaml.compose_all(text, source=source)
    if not docs:
        return {}, set()  # an empty stack file: no config, as for the CLI
    if len(docs) > 1:
        raise StackFileError(f"{source}: {len(docs)} YAML documents — a stack file is one; remove the `---` lines")
    root = docs[0]
    if isinstance(root, ScalarNode) and root.tag == go_yaml.PLAIN_TAG and root.value in ("", "~", "null"):
        return {}, set()
    if not isinstance(root, MappingNode):
        raise StackFileError(f"{_at(source, root)}: a stack file is a mapping with a `config:` map — "
                             "write `config:` and the settings under it")
    config_node = None
    for key, value in root.value:
        if isinstance(key, ScalarNode) and key.value == "config":
            config_node = value
    if config_node is None:
        raise StackFileError(f"{source}: no `config:` map — the settings of a stack file live under "
                             "`config:` (pulumi config set writes them there); add it, or check its spelling")
    if isinstance(config_node, ScalarNode) and config_node.tag == go_yaml.PLAIN_TAG and \
            go_yaml.resolve_plain(config_node.value, go_yaml.V3) is None:
        return {}, set()
    if not isinstance(config_node, MappingNode):
        raise StackFileError(f"{_at(source, config_node)}: `config:` must be a mapping of `namespace:key: value` "
                             "lines — e.g. `k3s-platform:domain: home.example.org`")
    values: dict[str, object] = {}
    secure: set[str] = set()
    for key_node, value_node in config_node.value:
        if not isinstance(key_node, ScalarNode):
            raise StackFileError(f"{_at(source, key_node)}: a config key must be text — write `namespace:key:`")
        raw_key = _scalar_text(key_node, source, "config")
        full = parse_key(raw_key)
        if full is None:
            raise StackFileError(
                f"{_at(source, key_node)}: config key {key_node.value!r} is not of the form `<namespace>:<name>` "
                "— the Pulumi CLI refuses the file; write it as k3s-platform:<name> (or <provider>:<name>)")
        if full in values:
            raise StackFileError(f"{_at(source, key_node)}: config key {full} is set twice — keep one")
        if isinstance(value_node, ScalarNode):
            values[full] = _scalar_text(value_node, source, full)
        else:
            value = go_yaml.to_value(value_node, go_yaml.V3, source=source, path=full, keys="fix")
            values[full] = value
            if _is_secure(value):
                secure.add(full)
        if full in secret_keys and full not in secure:
            name = full.split(":", 1)[1]
            raise StackFileError(
                f"{_at(source, key_node)}: {full} holds a plaintext value, but Pulumi.yaml declares it secret — "
                f"the Pulumi CLI refuses the stack (\"must be encrypted as it's secret\"); delete this line and "
                f"set it encrypted: pulumi config set --secret {name}  (it prompts; or pipe a file in with <)")
    return values, secure
