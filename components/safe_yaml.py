"""The one way this project reads YAML: safe types only, bounded, no duplicate keys.

    from components.safe_yaml import load, load_all, YamlError
    doc = load(text, source="Pulumi.dev.yaml")          # one document (None if empty)
    docs = load_all(text, source="manifests/app.yaml")   # every document, as a list

Creates nothing; pure text -> data. `yaml.safe_load` stops code execution but not size: a
few hundred bytes of nested aliases (`&a [*b, *b, ...]`) expand to billions of nodes once
anything walks, copies or serializes the result (a 563-byte manifest took policycheck to
2.3 GB). Each document's node graph is therefore checked *before* it is constructed:

- the text is at most `max_bytes` (default 8 MiB);
- at most `max_aliases` alias uses (`*name`) per document (default 1,000);
- the document, with every alias expanded, has at most `max_nodes` nodes (default 500,000),
  counted without expanding anything (each node's size is computed once);
- nesting, aliases expanded, is at most `max_depth` deep (default 100); an alias inside its
  own anchor (a recursive document) is refused;
- a mapping never repeats a key (YAML 1.2 forbids it; PyYAML silently keeps the last one,
  so a typo'd second `cluster:` would replace the first).

Every problem raises `YamlError`, whose message is one line:
`<source>:<line>:<column>: <what is wrong> — <how to fix it>` (line and column 1-based).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from components.go_yaml import PLAIN_TAG

# libyaml's parser when present (faster); the checks below work on either's nodes.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 8 * 1024 * 1024
    max_nodes: int = 500_000
    max_depth: int = 100
    max_aliases: int = 1_000


DEFAULT_LIMITS = Limits()


class YamlError(ValueError):
    """A YAML text was refused; names the source, line and column (1-based)."""

    def __init__(self, source: str, line: int, column: int, problem: str, fix: str) -> None:
        super().__init__(f"{source}:{line}:{column}: {problem} — {fix}")
        self.source = source
        self.line = line
        self.column = column
        self.problem = problem


def load(text: str, *, source: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """The single document in `text` (None for an empty text). More than one document is an error."""
    docs = load_all(text, source=source, limits=limits)
    if len(docs) > 1:
        raise YamlError(source, 1, 1, f"{len(docs)} documents where one is expected",
                        "remove the `---` separators or split the file")
    return docs[0] if docs else None


def load_all(text: str, *, source: str, limits: Limits = DEFAULT_LIMITS) -> list[Any]:
    """Every document in `text`, each checked against `limits` before it is built."""
    return list(_documents(text, source, limits, _Loader, construct=True))


def compose_all(text: str, *, source: str, limits: Limits = DEFAULT_LIMITS) -> list[Node]:
    """Every document's checked node graph, for a reader with rules of its own
    (components/go_yaml.py). Untagged plain scalars carry `go_yaml.PLAIN_TAG`, so that reader
    tells `no` from `"no"`; explicit tags (`!!binary`, `!!str`) are kept as written."""
    return list(_documents(text, source, limits, _PlainMarkingLoader, construct=False))


def _documents(text: str, source: str, limits: Limits, loader_class: type, construct: bool):
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise YamlError(source, 1, 1, f"not UTF-8 (byte {err.start})", "save the file as UTF-8") from None
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise YamlError(source, 1, 1, f"{size} bytes, more than the {limits.max_bytes} allowed",
                        "split the file into smaller ones")
    loader = loader_class(text)
    docs: list[Any] = []
    try:
        _check_nesting(text, source, limits)  # before composing: that recursion has no guard in C
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # check_node() said a document follows; nothing did
                break
            _Checker(source, limits).check(node)
            docs.append(loader.construct_document(node) if construct else node)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(str(err.problem or err.context or "invalid YAML").split())
        raise YamlError(source, line, column, f"not valid YAML: {problem}", "fix the syntax there") from None
    except yaml.YAMLError as err:
        raise YamlError(source, 1, 1, f"not valid YAML: {' '.join(str(err).split())}", "fix the syntax") from None
    except YamlError:
        raise
    except (TypeError, ValueError) as err:  # PyYAML's constructors: a bad !!binary, !!timestamp...
        raise YamlError(source, 1, 1, f"a value cannot be read ({err.__class__.__name__}: "
                        f"{' '.join(str(err).split())[:200]})", "quote the value or remove its tag") from None
    except RecursionError:
        raise YamlError(source, 1, 1, "nested too deeply to read",
                        f"keep nesting under {limits.max_depth} levels") from None
    finally:
        loader.dispose()
    return docs


class _PlainMarkingResolver(yaml.resolver.BaseResolver):
    """Resolves nothing: an untagged plain scalar is marked as such, the rest keep the
    default tags (quoted scalars: str)."""

    def resolve(self, kind, value, implicit):
        if kind is ScalarNode and implicit[0]:
            return PLAIN_TAG
        return super().resolve(kind, value, implicit)


try:  # libyaml's parser and composer when present, as for _Loader
    from yaml._yaml import CParser as _CParser

    class _PlainMarkingLoader(_CParser, yaml.constructor.SafeConstructor, _PlainMarkingResolver):
        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            _PlainMarkingResolver.__init__(self)
except ImportError:  # pure-Python PyYAML
    class _PlainMarkingLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,  # type: ignore[no-redef]
                              yaml.composer.Composer, yaml.constructor.SafeConstructor, _PlainMarkingResolver):
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            _PlainMarkingResolver.__init__(self)


def _check_nesting(text: str, source: str, limits: Limits) -> None:
    """Nesting depth from the event stream (the parser is iterative, the composer recursive)."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > limits.max_depth:
                mark = event.start_mark
                line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
                raise YamlError(source, line, column,
                                f"nesting deeper than {limits.max_depth} levels", "flatten the document")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _at(node: Node) -> tuple[int, int]:
    mark = node.start_mark
    return (mark.line + 1, mark.column + 1) if mark else (1, 1)


class _Checker:
    """Walks one composed document once: expanded size, depth, aliases, recursion, keys."""

    def __init__(self, source: str, limits: Limits) -> None:
        self.source = source
        self.limits = limits
        self.size: dict[int, int] = {}  # id(node) -> nodes with aliases expanded
        self.height: dict[int, int] = {}  # id(node) -> depth below it, aliases expanded
        self.open: set[int] = set()  # nodes being walked: meeting one again means recursion
        self.aliases = 0

    def fail(self, node: Node, problem: str, fix: str) -> YamlError:
        line, column = _at(node)
        return YamlError(self.source, line, column, problem, fix)

    def check(self, root: Node) -> None:
        total = self.walk(root, 1)
        if total > self.limits.max_nodes:
            raise self.fail(root, f"the document expands to {total} nodes, more than {self.limits.max_nodes}",
                            "YAML aliases (*name) copy what their anchor holds; write the content out or "
                            "split the document")

    def walk(self, node: Node, depth: int) -> int:
        key = id(node)
        if key in self.open:
            raise self.fail(node, "an alias refers to the node that contains it (a recursive document)",
                            "remove the alias or point it at another anchor")
        if key in self.size:  # met again through an alias: its size is known, not recounted
            self.aliases += 1
            if self.aliases > self.limits.max_aliases:
                raise self.fail(node, f"more than {self.limits.max_aliases} alias uses",
                                "write the repeated content out instead of using aliases")
            if depth + self.height[key] > self.limits.max_depth:
                raise self.fail(node, f"nesting deeper than {self.limits.max_depth} levels",
                                "flatten the document")
            return self.size[key]
        if depth > self.limits.max_depth:
            raise self.fail(node, f"nesting deeper than {self.limits.max_depth} levels", "flatten the document")
        self.open.add(key)
        total, height = 1, 0
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            self.check_keys(node)
            for k, v in node.value:
                children += [k, v]
        for child in children:
            total += self.walk(child, depth + 1)
            height = max(height, 1 + self.height[id(child)])
            if total > self.limits.max_nodes:
                self.open.discard(key)
                raise self.fail(node, f"the document expands to more than {self.limits.max_nodes} nodes",
                                "YAML aliases (*name) copy what their anchor holds; write the content out "
                                "or split the document")
        self.open.discard(key)
        self.size[key] = total
        self.height[key] = height
        return total

    def check_keys(self, node: MappingNode) -> None:
        seen: dict[tuple[str, str], Node] = {}
        for k, _ in node.value:
            if not isinstance(k, ScalarNode) or k.tag == _MERGE:
                continue  # complex keys are rare; `<<` merges are not keys
            ident = (k.tag, k.value)
            if ident in seen:
                first, _ = _at(seen[ident])
                raise self.fail(k, f"duplicate key {k.value!r} (first at line {first})",
                                "keep one of them; YAML keeps only the last, silently")
            seen[ident] = k
