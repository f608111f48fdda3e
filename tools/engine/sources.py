"""Provider plugins built from upstream source trees, for the engine tier (tools/engine/README.md).

Three kinds of source reach this machine: a module the Go module proxy serves (kubernetes,
whose only served version is the commit of tag v4.25.0) and the upstream archives in
``../shared/vendor/`` (command, random, tls, and the Terraform TLS provider that the tls shim
imports). None of them builds as it comes: upstream generates embedded files in its Makefile
and points at sibling folders with ``replace``. A recipe below says, per plugin, which source,
which embeds to write, which ``replace`` lines to drop or add and which version to stamp. The
tree is prepared in the cache (never in the repository) and built there with the shared Go
module and build caches.

    python3 tools/engine/sources.py build NAME BIN LOGS   # prepare + build one plugin into BIN
    python3 tools/engine/sources.py version NAME         # the version the recipe stamps
    python3 tools/engine/sources.py names                # the plugins this file knows

Standard library only: build.sh runs it before any venv exists.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    """The test data beside the clone (K3SP_SHARED moves it)."""
    return Path(os.environ.get("K3SP_SHARED") or REPO.parent / "shared")


@dataclass(frozen=True)
class Recipe:
    """How one plugin's source becomes a binary."""

    origin: str  # "module:<path>@<version>" (served) or "vendor:<archive>" (../shared/vendor)
    moddir: str  # the folder holding the go.mod to build, inside the source tree
    package: str  # main package, relative to moddir
    version: str  # what the binary reports: the release it is, or <last tag + 1>-dev.<commit>
    on_pin_of: str  # requirements.txt entry whose pin this plugin serves
    versionvar: str = ""  # symbol -ldflags -X stamps with the version
    # embed file -> source file, both relative to moddir: written minified, "version" stamped
    embeds: dict[str, str] = field(default_factory=dict)
    drop_replaces: tuple[str, ...] = ()  # local upstream replaces that point outside the tree
    # extra replaces: module -> "vendor:<archive>" (unpacked beside), for go.mod files in moddir
    add_replaces: dict[str, str] = field(default_factory=dict)
    also_replace_in: tuple[str, ...] = ()  # further go.mod folders (relative to moddir) to patch
    note: str = ""


RECIPES: dict[str, Recipe] = {
    "pulumi-resource-kubernetes": Recipe(
        origin="module:github.com/pulumi/pulumi-kubernetes/provider/v4@v4.0.0-20260115033456-f47bc2d6f199",
        moddir=".",
        package="./cmd/pulumi-resource-kubernetes",
        version="4.25.0",
        on_pin_of="pulumi-kubernetes",
        versionvar="github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version",
        embeds={
            "cmd/pulumi-resource-kubernetes/schema-embed.json": "cmd/pulumi-resource-kubernetes/schema.json",
            "cmd/pulumi-resource-kubernetes/terraform-mapping-embed.json":
                "cmd/pulumi-resource-kubernetes/terraform-mapping.json",
        },
        drop_replaces=("github.com/pulumi/pulumi-kubernetes/sdk/v4",),
        note="the only served version of the provider module: the commit of tag v4.25.0",
    ),
    "pulumi-resource-command": Recipe(
        origin="vendor:pulumi-command-v1.2.1.tar.gz",
        moddir="provider",
        package="./cmd/pulumi-resource-command",
        version="1.2.1",
        on_pin_of="pulumi-command",
        versionvar="github.com/pulumi/pulumi-command/provider/pkg/version.Version",
        note="upstream tag v1.2.1",
    ),
    "pulumi-resource-tls": Recipe(
        origin="vendor:pulumi-tls-f7db93b.tar.gz",
        moddir="provider",
        package="./cmd/pulumi-resource-tls",
        version="5.5.2-dev.f7db93b",
        on_pin_of="pulumi-tls",
        versionvar="github.com/pulumi/pulumi-tls/provider/v5/pkg/version.Version",
        embeds={"cmd/pulumi-resource-tls/schema-embed.json": "cmd/pulumi-resource-tls/schema.json"},
        add_replaces={"github.com/hashicorp/terraform-provider-tls": "vendor:terraform-provider-tls-d72d90e.tar.gz"},
        also_replace_in=("shim",),
        note="upstream default branch after tag v5.5.1 (commit f7db93b)",
    ),
    "pulumi-resource-random": Recipe(
        origin="vendor:pulumi-random-f64d872.tar.gz",
        moddir="provider",
        package="./cmd/pulumi-resource-random",
        version="4.21.2-dev.f64d872",
        on_pin_of="pulumi-random",
        versionvar="github.com/pulumi/pulumi-random/provider/v4/pkg/version.Version",
        embeds={"cmd/pulumi-resource-random/schema-embed.json": "cmd/pulumi-resource-random/schema.json"},
        note="upstream default branch after tag v4.21.1 (commit f64d872); the tag needs modules the proxy refuses",
    ),
}


class BuildError(Exception):
    pass


def go_env() -> dict[str, str]:
    """The Go caches every engine and lab build shares (build.sh exports the same)."""
    env = dict(os.environ)
    root = Path(os.environ.get("K3SP_GO_CACHE") or Path.home() / ".cache" / "k3s-platform" / "go")
    env.setdefault("GOMODCACHE", str(root / "mod"))
    env.setdefault("GOCACHE", str(root / "build"))
    env["GOFLAGS"] = "-modcacherw -buildvcs=false -mod=mod"
    return env


def src_root() -> Path:
    return Path(os.environ.get("K3SP_ENGINE_SRC") or Path.home() / ".cache" / "k3s-platform" / "src")


def _unpack_vendor(archive: str, dest_parent: Path) -> Path:
    path = shared_dir() / "vendor" / archive
    if not path.is_file():
        raise BuildError(f"{path} not found: the upstream archives live in ../shared/vendor "
                         "(or set K3SP_SHARED to the folder that holds vendor/)")
    top = archive.removesuffix(".tar.gz")
    dest = dest_parent / top
    if not (dest / ".unpacked").is_file():
        shutil.rmtree(dest, ignore_errors=True)
        with tarfile.open(path) as tar:
            tar.extractall(dest_parent, filter="data")
        (dest / ".unpacked").write_text(archive + "\n")
    return dest


def _unpack_module(spec: str, dest_parent: Path) -> Path:
    module, version = spec.split("@")
    out = subprocess.run(["go", "mod", "download", "-json", f"{module}@{version}"],
                         capture_output=True, text=True, env=go_env(), cwd=dest_parent)
    info = json.loads(out.stdout or "{}")
    if out.returncode != 0 or "Zip" not in info:
        raise BuildError(f"the Go module proxy did not serve {module}@{version}: "
                         f"{info.get('Error') or out.stderr.strip()}")
    dest = dest_parent / (module.replace("/", "+") + "@" + version)
    if not (dest / ".unpacked").is_file():
        shutil.rmtree(dest, ignore_errors=True)
        prefix = f"{module}@{version}/"
        with zipfile.ZipFile(info["Zip"]) as zf:
            for member in zf.infolist():
                if member.is_dir() or not member.filename.startswith(prefix):
                    continue
                target = dest / member.filename[len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(member))
        (dest / ".unpacked").write_text(spec + "\n")
    return dest


def _origin_tree(origin: str, dest_parent: Path) -> Path:
    kind, _, what = origin.partition(":")
    if kind == "vendor":
        return _unpack_vendor(what, dest_parent)
    if kind == "module":
        return _unpack_module(what, dest_parent)
    raise BuildError(f"unknown origin {origin!r}")


def _patch_gomod(gomod: Path, drop: tuple[str, ...], add: dict[str, Path]) -> None:
    """Drop the named replace directives (single-line or inside a block) and add new ones."""
    kept = []
    for line in gomod.read_text().splitlines():
        words = line.split()
        target = words[1] if words[:1] == ["replace"] else (words[0] if words else "")
        if "=>" in line and target in drop:
            continue
        if "=>" in line and target in add:
            continue
        kept.append(line)
    for module, path in add.items():
        kept.append(f"replace {module} => {path}")
    gomod.write_text("\n".join(kept) + "\n")


def prepare(name: str) -> Path:
    """The recipe's source tree, ready to build; returns the folder with its go.mod."""
    recipe = RECIPES[name]
    parent = src_root()
    parent.mkdir(parents=True, exist_ok=True)
    tree = _origin_tree(recipe.origin, parent)
    moddir = tree / recipe.moddir
    for embed, source in recipe.embeds.items():
        doc = json.loads((moddir / source).read_text())
        if "version" in doc or embed.endswith("schema-embed.json"):
            doc["version"] = recipe.version
        (moddir / embed).write_text(json.dumps(doc, separators=(",", ":")))
    extra = {module: _origin_tree(arch, parent) for module, arch in recipe.add_replaces.items()}
    for folder in (".", *recipe.also_replace_in):
        _patch_gomod(moddir / folder / "go.mod", recipe.drop_replaces, extra)
    return moddir


def build(name: str, bin_dir: Path, logs: Path) -> str:
    """Prepare and build one plugin into bin_dir; returns a one-line result."""
    recipe = RECIPES[name]
    stamp = bin_dir / f".{name}.version"
    if (bin_dir / name).is_file() and stamp.is_file() and stamp.read_text().strip() == recipe.version:
        return f"cached   {name:<28} {recipe.version}"
    moddir = prepare(name)
    ldflags = f"-X {recipe.versionvar}={recipe.version}" if recipe.versionvar else ""
    partial = bin_dir / f".{name}.partial"
    log = logs / f"{name}.log"
    print(f"engine: building {name} {recipe.version} from {recipe.origin} (log: {log})", file=sys.stderr)
    start = time.monotonic()
    with log.open("w") as fh:
        proc = subprocess.run(["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(partial),
                               recipe.package], cwd=moddir, env=go_env(), stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        sys.stderr.write("".join(log.read_text().splitlines(keepends=True)[-20:]))
        raise BuildError(f"go build failed (see {log})")
    partial.replace(bin_dir / name)
    stamp.write_text(recipe.version + "\n")
    return f"built    {name:<28} {recipe.version} in {time.monotonic() - start:.0f} s"


def main(argv: list[str]) -> int:
    if argv[:1] == ["names"]:
        print("\n".join(RECIPES))
        return 0
    if len(argv) == 2 and argv[0] == "version" and argv[1] in RECIPES:
        print(RECIPES[argv[1]].version)
        return 0
    if len(argv) == 4 and argv[0] == "build" and argv[1] in RECIPES:
        try:
            print(build(argv[1], Path(argv[2]), Path(argv[3])))
        except BuildError as err:
            print(f"FAILED   {argv[1]:<28} {err}")
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
