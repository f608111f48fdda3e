"""The real Pulumi engine running the real program, through the Automation API's inline program.

No language plugin is involved: the Python SDK serves the language protocol in this process
and the CLI built by `./run engine build` drives it. What the engine needs beside the CLI:

- provider plugins, installed in a PULUMI_HOME of the engine cache under the directory name the
  SDK asks for (`resource-<name>-v<SDK's plugin version>`); each binary reports its real version
  (`./run engine status` says which are off their pin);
- `pulumi-resource-pulumi-python` (dynamic providers, from the sdk/v3 module's `python/dist/`):
  it runs `python3` from PATH, so the venv's `bin` comes first;
- the policy pack as an *executable file* (a directory pack would need the language plugin):
  a two-line wrapper that starts `python -m pulumi.policy <engine address> policies/`.

A stack lives in a work directory: a copy of `Pulumi.yaml` and the stack's config file, and a
`file://` backend with a passphrase. Secret keys the stack file does not set get placeholders,
set as secrets. `PULUMI_LEGACY_PROVIDER_PREVIEW` is removed from the environment: the tier
proves the engine's default behaviour.
"""

from __future__ import annotations

import enum
import json
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components import safe_yaml
from tools.paths import ROOT

PROJECT = "k3s-platform"
PASSPHRASE = "k3s-platform-engine-tier"  # protects placeholder secrets in throwaway state only
# Environment the tier never passes on: each changes what the engine does in preview.
CLEARED_ENV = ("PULUMI_LEGACY_PROVIDER_PREVIEW", "PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_BACKEND_URL",
               "PULUMI_ACCESS_TOKEN", "PULUMI_K8S_ENABLE_PATCH_FORCE")
PLUGINS = ("kubernetes", "command", "tls", "random")


class EngineUnavailable(Exception):
    """A part of the tier is missing; the message names the command that provides it."""


def bin_dir() -> Path:
    out = subprocess.run([str(ROOT / "tools" / "engine" / "build.sh"), "path"], capture_output=True,
                         text=True, check=True)
    return Path(out.stdout.strip())


def sdk_plugin_version(name: str) -> str:
    """The plugin version the installed Python SDK of `name` asks the engine for."""
    import importlib.util

    spec = importlib.util.find_spec(f"pulumi_{name}")
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable(f"pulumi_{name} is not installed in the venv: run ./run engine build")
    meta = Path(next(iter(spec.submodule_search_locations))) / "pulumi-plugin.json"
    return str(json.loads(meta.read_text())["version"])


def pulumi_home(bins: Path) -> Path:
    """A PULUMI_HOME whose plugins/ holds the built plugins under the SDKs' names."""
    home = bins.parent / "home"
    plugins = home / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    for name in PLUGINS:
        binary = bins / f"pulumi-resource-{name}"
        if not binary.is_file():
            raise EngineUnavailable(f"{binary} is missing: run ./run engine build")
        folder = plugins / f"resource-{name}-v{sdk_plugin_version(name)}"
        folder.mkdir(exist_ok=True)
        link = folder / binary.name
        if not (link.is_symlink() and os.readlink(link) == str(binary)):
            link.unlink(missing_ok=True)
            link.symlink_to(binary)
    return home


def cli_dir(bins: Path) -> Path:
    """A folder holding only the CLI and the dynamic-provider host, hard-linked from `bins`.

    The engine takes any `pulumi-resource-*` beside its own executable or on PATH before the
    plugin folders (and warns "using ... from $PATH"), so the provider plugins must not sit
    next to the CLI: they are found in PULUMI_HOME under the versions the SDKs ask for."""
    folder = bins.parent / "cli" / "bin"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("pulumi", "pulumi-resource-pulumi-python", "pulumi-language-python-exec"):
        source, target = bins / name, folder / name
        if not source.is_file():
            raise EngineUnavailable(f"{source} is missing: run ./run engine build")
        if target.exists() and os.path.samefile(source, target):
            continue
        target.unlink(missing_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
    return folder


def engine_env(cli: Path, home: Path) -> dict[str, str]:
    venv_bin = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    env.update(
        PATH=os.pathsep.join([str(venv_bin), str(cli), env.get("PATH", "")]),
        # Dynamic providers are unpickled in their own process by module path
        # (components.network...): the repository must be importable there, as the project
        # directory is when the CLI runs `pulumi up` in it.
        PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])]),
        PULUMI_HOME=str(home),
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
        PULUMI_PYTHON_CMD=str(venv_bin / "python"),
    )
    return env


def policy_pack_wrapper(work: Path) -> Path:
    """The pack as an executable analyzer: the CLI passes the engine address as the argument."""
    wrapper = work / "k3s-platform-policies"
    wrapper.write_text("#!/bin/sh\n"
                       f"exec '{Path(sys.executable).parent / 'python'}' -u -m pulumi.policy \"$@\" "
                       f"'{ROOT / 'policies'}'\n")
    wrapper.chmod(0o755)
    return wrapper


def secret_keys() -> list[str]:
    project = safe_yaml.load((ROOT / "Pulumi.yaml").read_text(), source="Pulumi.yaml") or {}
    return [k for k, d in (project.get("config") or {}).items() if isinstance(d, dict) and d.get("secret")]


def placeholder_secret_maps(stack_file: Path) -> dict[str, dict]:
    """Placeholder values for the optional secret maps the stack's settings call for (what an
    operator sets with `pulumi config set --secret --path`): S3 credentials when etcd snapshots
    go to S3, a login per registry host whose config says `auth`."""
    doc = safe_yaml.load(stack_file.read_text(), source=str(stack_file)) or {}
    config = doc.get("config") or {}
    cluster = config.get(f"{PROJECT}:cluster") or {}
    maps: dict[str, dict] = {}
    if (cluster.get("etcdSnapshots") or {}).get("s3"):
        maps["etcdS3Credentials"] = {"accessKey": "placeholder-access-key", "secretKey": "placeholder-secret-key"}
    hosts = [h for h, c in ((cluster.get("registries") or {}).get("configs") or {}).items() if (c or {}).get("auth")]
    if hosts:
        maps["registryAuth"] = {h: {"username": "placeholder", "password": "placeholder"} for h in hosts}
    return maps


def program() -> None:
    """The project's own `__main__.py`, run as the CLI's language host would run it."""
    os.chdir(ROOT)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


def program_of(body: Callable[[], None] | None) -> Callable[[], None]:
    """The project's program, or `body` run with the repository as the current directory."""
    if body is None:
        return program

    def run() -> None:
        os.chdir(ROOT)
        body()

    return run


def _plain(value: Any) -> Any:
    """An Automation API event object as JSON-ready data."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "__dict__"):
        return {k: _plain(v) for k, v in vars(value).items() if v is not None}
    return value


@dataclass
class Run:
    """One engine operation's result: its events (as dicts), the text it printed, its summary."""

    command: str
    events: list[dict] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    changes: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def steps(self) -> list[dict]:
        """(op, type, name, urn) of every resource step the engine took or planned."""
        out = []
        for e in self.events:
            pre = e.get("resource_pre_event")
            if pre:
                meta = pre["metadata"]
                out.append({"op": meta["op"], "type": meta["type"], "urn": meta["urn"],
                            "name": meta["urn"].rsplit("::", 1)[-1]})
        return out

    def ops(self, *ops: str) -> list[str]:
        return [s["urn"] for s in self.steps() if s["op"] in ops]

    def policy_violations(self, level: str | None = None) -> list[dict]:
        found = [e["policy_event"] for e in self.events if "policy_event" in e]
        return [p for p in found if level is None or p.get("enforcement_level") == level]

    def diagnostics(self, severity: str = "error") -> list[str]:
        return [e["diagnostic_event"]["message"] for e in self.events
                if "diagnostic_event" in e and e["diagnostic_event"].get("severity") == severity]


class EngineStack:
    """One stack of the program on a file:// backend in `work`, driven by the real CLI."""

    def __init__(self, stack: str, work: Path, config_file: Path | None = None,
                 secrets: dict[str, str] | None = None, pack: bool = True,
                 echo: Callable[[str], None] | None = print,
                 program: Callable[[], None] | None = None) -> None:
        from pulumi import automation as auto

        self.stack = stack
        self.work = work
        self.pack = pack
        self.echo = echo
        bins = bin_dir()
        if not (bins / "pulumi").is_file():
            raise EngineUnavailable(f"no pulumi CLI in {bins}: run ./run engine build")
        if not (bins / "pulumi-resource-pulumi-python").is_file():
            raise EngineUnavailable(f"no pulumi-resource-pulumi-python in {bins}: run ./run engine build")
        home = pulumi_home(bins)
        cli = cli_dir(bins)
        self.env = engine_env(cli, home)
        (work / "state").mkdir(parents=True, exist_ok=True)
        self.env["PULUMI_BACKEND_URL"] = f"file://{work / 'state'}"
        project_dir = work / "project"
        project_dir.mkdir(exist_ok=True)
        shutil.copy(ROOT / "Pulumi.yaml", project_dir / "Pulumi.yaml")
        stack_file = project_dir / f"Pulumi.{stack}.yaml"
        source = config_file or ROOT / f"Pulumi.{stack}.yaml"
        if not stack_file.exists() or config_file is not None:
            kept = encrypted_entries(stack_file) if stack_file.exists() else {}
            shutil.copy(source, stack_file)
            if kept:
                keep_encrypted_entries(stack_file, kept)
        self.config_json = ROOT / "policies" / "config" / f"{stack}.json"
        self.wrapper = policy_pack_wrapper(work)
        self._stack = auto.create_or_select_stack(
            stack_name=stack, project_name=PROJECT, program=program_of(program),
            opts=auto.LocalWorkspaceOptions(
                work_dir=str(project_dir), pulumi_home=str(home), env_vars=self.env,
                secrets_provider="passphrase",
                project_settings=None,
                pulumi_command=auto.PulumiCommand(root=str(cli.parent), skip_version_check=True)))
        given = dict(secrets or {})
        current = self._stack.get_all_config()
        for key in secret_keys():
            full = f"{PROJECT}:{key}"
            if key in given and (full not in current or current[full].value != given[key]):
                # Only a new value is encrypted again: the same value keeps its ciphertext, as
                # it does for an operator who does not run `pulumi config set` again.
                self._stack.set_config(full, auto.ConfigValue(given[key], secret=True))
            elif full not in current:
                self._stack.set_config(full, auto.ConfigValue(f"placeholder-{key}", secret=True))
        for key, value in placeholder_secret_maps(stack_file).items():
            full = f"{PROJECT}:{key}"
            if key in given:
                self._stack.set_config(full, auto.ConfigValue(given[key], secret=True))
            elif full not in current:
                # leaf by leaf, as `pulumi config set --secret --path` writes a secret map
                for path, leaf in _leaves(value):
                    self._stack.set_config(f"{full}{path}", auto.ConfigValue(leaf, secret=True), path=True)

    @contextmanager
    def _environment(self) -> Iterator[None]:
        """The inline program runs in this process: it sees the engine's environment too
        (dynamic providers' python, no legacy preview switch)."""
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)
        cwd = os.getcwd()
        try:
            yield
        finally:
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(saved)

    def _policy_args(self) -> dict[str, Any]:
        if not self.pack:
            return {}
        configs = [str(self.config_json)] if self.config_json.is_file() else []
        return {"policy_packs": [str(self.wrapper)], "policy_pack_configs": configs}

    def _run(self, command: str, call: Callable[..., Any], **kwargs: Any) -> Run:
        from pulumi.automation import errors

        run = Run(command)

        def on_event(event: Any) -> None:
            run.events.append(_plain(event))

        def on_output(line: str) -> None:
            run.output.append(line)
            if self.echo:
                self.echo(line.rstrip("\n"))

        with self._environment():
            try:
                result = call(on_event=on_event, on_output=on_output, color="never", **kwargs)
                summary = getattr(result, "change_summary", None)
                if summary is None and getattr(result, "summary", None) is not None:
                    summary = result.summary.resource_changes
                run.changes = {str(k): int(v) for k, v in (summary or {}).items()}
            except errors.CommandError as err:
                run.error = str(err)
        return run

    def preview(self, **kwargs: Any) -> Run:
        return self._run("preview", self._stack.preview, diff=False, **self._policy_args(), **kwargs)

    def up(self, **kwargs: Any) -> Run:
        return self._run("up", self._stack.up, **self._policy_args(), **kwargs)

    def refresh(self, **kwargs: Any) -> Run:
        return self._run("refresh", self._stack.refresh, **kwargs)

    def destroy(self, **kwargs: Any) -> Run:
        return self._run("destroy", self._stack.destroy, **kwargs)

    def outputs(self) -> dict[str, Any]:
        with self._environment():
            return {k: v.value for k, v in self._stack.outputs().items()}

    def export(self) -> dict:
        with self._environment():
            return dict(self._stack.export_stack().deployment or {})

    def set_config(self, key: str, value: Any, secret: bool = False) -> None:
        from pulumi import automation as auto

        text = value if isinstance(value, str) else json.dumps(value)
        with self._environment():
            self._stack.set_config(f"{PROJECT}:{key}", auto.ConfigValue(text, secret=secret),
                                   path=False)


def _leaves(value: Any, path: str = "") -> list[tuple[str, str]]:
    """(`["a"]["b"]`, leaf) for each string leaf of a nested map (keys may hold dots)."""
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{path}[{json.dumps(str(k))}]")]
    return [(path, str(value))]


def _has_secure_leaf(value: Any) -> bool:
    """A value `pulumi config set --secret` wrote (`{secure: ...}`), or a map holding one
    (`--secret --path`)."""
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_has_secure_leaf(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure_leaf(v) for v in value)
    return False


def encrypted_entries(stack_file: Path) -> dict[str, Any]:
    """The stack file's `encryptionsalt` and its encrypted config values (what `pulumi config
    set --secret` wrote), to carry over into a new copy of the stack's config."""
    doc = safe_yaml.load(stack_file.read_text(), source=str(stack_file)) or {}
    kept: dict[str, Any] = {}
    if "encryptionsalt" in doc:
        kept["encryptionsalt"] = doc["encryptionsalt"]
    config = {k: v for k, v in (doc.get("config") or {}).items() if _has_secure_leaf(v)}
    if config:
        kept["config"] = config
    return kept


def keep_encrypted_entries(stack_file: Path, kept: dict[str, Any]) -> None:
    import yaml

    doc = safe_yaml.load(stack_file.read_text(), source=str(stack_file)) or {}
    if "encryptionsalt" in kept:
        doc.setdefault("encryptionsalt", kept["encryptionsalt"])
    config = doc.setdefault("config", {})
    for key, value in (kept.get("config") or {}).items():
        config.setdefault(key, value)
    stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))


def fresh_work_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"k3sp-engine-{prefix}-"))


def write_events(run: Run, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        for event in run.events:
            fh.write(json.dumps(event, sort_keys=True) + "\n")


def unprotect(stack: EngineStack, urns: list[str]) -> None:
    """`pulumi state unprotect <urn>` for each of `urns` (a runbook's step before removing a
    protected node)."""
    cli = Path(stack.env["PATH"].split(os.pathsep)[1]) / "pulumi"
    for urn in urns:
        subprocess.run([str(cli), "state", "unprotect", urn, "--yes", "--non-interactive", "-s", stack.stack],
                       cwd=stack.work / "project", env=stack.env, check=True, capture_output=True, text=True)


def unprotect_all(stack: EngineStack) -> None:
    """`pulumi state unprotect --all`: what an operator runs before destroying a stack whose
    cluster token (and, in HA, install steps) are protected."""
    cli = Path(stack.env["PATH"].split(os.pathsep)[1]) / "pulumi"
    subprocess.run([str(cli), "state", "unprotect", "--all", "--yes", "--non-interactive", "-s", stack.stack],
                   cwd=stack.work / "project", env=stack.env, check=True, capture_output=True, text=True)
