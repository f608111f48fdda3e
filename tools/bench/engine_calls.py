"""Policy throughput as a real preview produces it: the engine's calls, in the engine's order.

The engine (pulumi v3.274.0, pkg/resource/deploy) handles one resource registration at a
time and, for each, calls the analyzer's `Remediate` and then its `Analyze`; once the program
is done it calls `AnalyzeStack` with every resource. It starts the analyzer with the stack's
decrypted config in PULUMI_CONFIG and PULUMI_PROJECT/STACK/ORGANIZATION/DRY_RUN set
(sdk/v3 go/common/resource/plugin/analyzer_plugin.go, constructEnv).

`measure()` reproduces that: the pack's analyzer started with that environment (secret values
replaced by placeholders of the same length) and configured with the stack's policy config,
then the calls one at a time, by the engine's own client where it is built
(`policy-calls`, tools/engine/go/pulumi/policycalls, with `./run engine build`) or else by an
equivalent Python client. It also measures the floor of the same calls: an analyzer that
answers every call at once, served by grpcio as pulumi-policy serves the pack
(`tools/bench/noop_analyzer.py`), which bounds what any Python pack can reach on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tools.imitations import policy_runner
from tools.paths import ROOT

ENGINE_BUILD = ROOT / "tools" / "engine" / "build.sh"
DRIVER = "policy-calls"
NOOP_ANALYZER = [sys.executable, "-u", "-m", "tools.bench.noop_analyzer"]
PROJECT = "k3s-platform"


def engine_env(stack_doc: dict, stack: str) -> dict[str, str]:
    """The variables the engine gives a policy pack for `stack_doc` (a Pulumi.<stack>.yaml):
    PULUMI_CONFIG maps each key to its string value (structured values as JSON); a secret's
    value is a placeholder as long as its ciphertext."""
    config = {}
    for key, value in (stack_doc.get("config") or {}).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[key] = "x" * len(str(value["secure"]))
        elif isinstance(value, str):
            config[key] = value
        else:
            config[key] = json.dumps(value)
    return {"PULUMI_CONFIG": json.dumps(config), "PULUMI_PROJECT": PROJECT, "PULUMI_STACK": stack,
            "PULUMI_ORGANIZATION": "organization", "PULUMI_DRY_RUN": "true"}


def driver_path() -> Path | None:
    """The engine's `policy-calls`, when `./run engine build` has built it."""
    try:
        out = subprocess.run(["bash", str(ENGINE_BUILD), "path"], cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    path = Path(out.stdout.strip()) / DRIVER
    return path if out.returncode == 0 and path.is_file() else None


def _provider(ref: str | None) -> dict | None:
    message = policy_runner.provider_message(ref)
    return None if message is None else {"urn": message.urn, "type": message.type, "name": message.name}


def driver_input(resources: list[dict]) -> list[dict]:
    """`resources` (policy_runner's form) as policy-calls reads them."""
    return [{"urn": r["urn"], "type": r["type"], "name": r["name"], "parent": r.get("parent") or "",
             "dependencies": list(r.get("dependencies") or []), "properties": r.get("properties") or {},
             "provider": _provider(r.get("provider"))} for r in resources]


def _go_calls(driver: Path, port: int, resources: list[dict]) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(driver_input(resources), f, default=str)
        f.flush()
        out = subprocess.run([str(driver), str(port), f.name], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{DRIVER} exited {out.returncode}: {out.stderr.strip()[-2000:]}")
    result = json.loads(out.stdout)
    return {"per_resource": result["per_resource_s"], "stack": result["stack_s"],
            "diagnostics": result["diagnostics"]}


def _python_calls(stub: Any, resources: list[dict]) -> dict[str, float]:
    """The same calls by a Python client (slower than the engine's; used when it is not built)."""
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import analyzer_pb2

    stub.GetAnalyzerInfo(empty_pb2.Empty())
    requests, stack = [], []
    for r in resources:
        props = policy_runner.struct_message(r.get("properties"))
        options = analyzer_pb2.AnalyzerResourceOptions(parent=r.get("parent") or "")
        provider = policy_runner.provider_message(r.get("provider"))
        requests.append(analyzer_pb2.AnalyzeRequest(type=r["type"], urn=r["urn"], name=r["name"],
                                                    properties=props, options=options, provider=provider))
        stack.append(analyzer_pb2.AnalyzerResource(
            type=r["type"], urn=r["urn"], name=r["name"], properties=props, options=options, provider=provider,
            parent=r.get("parent") or "", dependencies=list(r.get("dependencies") or [])))
    diagnostics = 0
    started = time.perf_counter()
    for request in requests:
        stub.Remediate(request)
        diagnostics += len(stub.Analyze(request).diagnostics)
    per_resource = time.perf_counter() - started
    started = time.perf_counter()
    diagnostics += len(stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=stack)).diagnostics)
    return {"per_resource": per_resource, "stack": time.perf_counter() - started, "diagnostics": diagnostics}


def _calls(server: policy_runner.AnalyzerProcess, resources: list[dict], driver: Path | None) -> dict[str, float]:
    cpu_before = policy_runner.cpu_seconds(server.pid)
    result = _go_calls(driver, server.port, resources) if driver else _python_calls(server.client, resources)
    cpu_after = policy_runner.cpu_seconds(server.pid)
    seconds = result["per_resource"] + result["stack"]
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else 0.0
    result.update(per_second=len(resources) / seconds if seconds > 0 else 0.0,
                  per_cpu_second=len(resources) / cpu if cpu > 0 else 0.0)  # /proc ticks: 0 on tiny runs
    return result


def measure(resources: list[dict], *, stack_doc: dict, stack: str = "prod", driver: Path | None = None) -> dict:
    """The pack, and the no-op floor, under the engine's calls: resources/s and seconds."""
    env = engine_env(stack_doc, stack)
    raw_config = policy_runner.load_stack_config(stack)
    with policy_runner.configured_analyzer(raw_config, env=env) as (server, _):
        pack = _calls(server, resources, driver)
    with policy_runner.AnalyzerProcess(command=NOOP_ANALYZER, env=dict(env, PYTHONPATH=str(ROOT))) as server:
        floor = _calls(server, resources, driver)
    return {"resources": len(resources), "client": f"engine ({DRIVER})" if driver else "Python",
            "pack": pack, "floor": floor}


# --- self-check (./run engine smoke) -------------------------------------------------------

ROOT_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "as-root", "namespace": "team-a"},
            "spec": {"securityContext": {"runAsUser": 0},
                     "containers": [{"name": "app", "image": "nginx", "securityContext": {"privileged": True}}]}}


def self_check(driver: Path) -> str:
    """The engine's client and the Python client, on a root, privileged pod under the prod
    policy config: both must get the same diagnostics from the pack, and at least one."""
    resources = policy_runner.manifest_resources([ROOT_POD], stack="prod")
    raw_config = policy_runner.load_stack_config("prod")
    counts = {}
    for client, use in (("engine", driver), ("python", None)):
        with policy_runner.configured_analyzer(raw_config) as (server, _):
            counts[client] = _calls(server, resources, use)["diagnostics"]
    if counts["engine"] < 1 or counts["engine"] != counts["python"]:
        raise SystemExit(f"{DRIVER}: diagnostics for a root, privileged pod: engine client {counts['engine']}, "
                         f"Python client {counts['python']} (want the same, at least 1)")
    return f"{DRIVER}: {counts['engine']} diagnostics for a root, privileged pod, as the Python client gets"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tools.bench.engine_calls PATH-TO-policy-calls")
    print(self_check(Path(sys.argv[1])))
