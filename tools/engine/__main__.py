"""`./run engine preview|up|refresh|destroy <stack>` and `./run engine status`.

preview, up, refresh and destroy drive the real CLI over the inline program (tools/engine/
inline.py). They print what `pulumi preview`/`up` print and keep the engine's events, one JSON
object a line, in `<out>/<command>.events.jsonl`. A stack's state lives in `--work DIR`
(default: `engine-out/<stack>` in the repository), so `up`, `refresh` and `destroy` of one
stack follow each other; `preview --fresh` uses a new, empty work directory: the first preview
of a new stack. Exit: 0 done, 1 the engine failed (a mandatory policy violation included),
2 bad arguments or a missing part (the message names the command that provides it).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from tools.caller import caller_path
from tools.engine import inline, sources
from tools.paths import ROOT

ROWS = (
    # part, built binary, requirement whose pin it serves, what it is
    ("pulumi CLI", "pulumi", "pulumi", "built from its served Go module (pkg/v3)"),
    ("dynamic-provider host", "python-helpers", "pulumi", "copied from the sdk/v3 module's python/dist"),
    ("kubernetes plugin", "pulumi-resource-kubernetes", "pulumi-kubernetes", ""),
    ("command plugin", "pulumi-resource-command", "pulumi-command", ""),
    ("tls plugin", "pulumi-resource-tls", "pulumi-tls", ""),
    ("random plugin", "pulumi-resource-random", "pulumi-random", ""),
    ("policy-calls (bench)", "policy-calls", "pulumi", "our own Go program on the CLI's sdk/v3"),
)


def pin(requirement: str) -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.startswith(f"{requirement}=="):
            return line.split("==", 1)[1].split()[0]
    return "?"


def status() -> int:
    bins = inline.bin_dir()
    print(f"engine bin: {bins}")
    print(f"{'part':<24} {'built':<22} {'pin':<9} {'kind':<9} {'pin?':<8} source")
    for part, binary, requirement, what in ROWS:
        stamp = bins / f".{binary}.version"
        built = stamp.read_text().strip().lstrip("v") if stamp.is_file() else "absent"
        want = pin(requirement)
        if binary == "policy-calls":
            on = "-"
        else:
            on = "absent" if built == "absent" else ("on-pin" if built == want else "off-pin")
        note = what or sources.RECIPES[binary].note
        kind = "real" if built != "absent" else "-"
        print(f"{part:<24} {built:<22} {want:<9} {kind:<9} {on:<8} {note}")
    print("pulumi-language-python  not needed: the Automation API's inline program serves the "
          "language protocol in-process")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["status"]:
        return status()
    parser = argparse.ArgumentParser(prog="./run engine")
    parser.add_argument("command", choices=["preview", "up", "refresh", "destroy"])
    parser.add_argument("stack")
    parser.add_argument("--work", help="the stack's work directory (state, stack file); "
                                       "default engine-out/<stack>")
    parser.add_argument("--fresh", action="store_true", help="start from an empty work directory "
                                                             "(the first preview of a new stack)")
    parser.add_argument("--config-file", help="stack config file to use (default Pulumi.<stack>.yaml)")
    parser.add_argument("--no-pack", action="store_true", help="run without the policy pack")
    parser.add_argument("--out", help="where the events go (default: the work directory)")
    args = parser.parse_args(argv)

    work = caller_path(args.work) if args.work else ROOT / "engine-out" / args.stack
    if args.fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    try:
        stack = inline.EngineStack(
            args.stack, work, config_file=caller_path(args.config_file) if args.config_file else None,
            pack=not args.no_pack)
    except (inline.EngineUnavailable, subprocess.CalledProcessError) as err:
        print(f"engine: {err}", file=sys.stderr)
        return 2
    run = getattr(stack, args.command)()
    out = caller_path(args.out) if args.out else work
    events = Path(out) / f"{args.command}.events.jsonl"
    inline.write_events(run, events)
    print(f"engine: {len(run.events)} events in {events}")
    if run.error:
        print(f"engine: {args.command} failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
