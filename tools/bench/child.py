"""One measured run in its own process, for `tools.bench`: `python -m tools.bench.child
eval|plan CONFIG_FILE OUT_DIR`.

`eval` runs the program under mocks (`tools.imitations.harness.run_stack`) and nothing else; `plan` runs
the whole offline plan as `python -m tools.plan prod --config-file CONFIG_FILE --out OUT_DIR
--progress` does. Either prints one JSON line on stdout: {"registrations", "seconds"} (from
this process's start of work to its end, imports of the program included). A fresh process
per run keeps runs from sharing warm caches and lets the parent read each one's peak memory.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    mode, config_file, out = argv[0], Path(argv[1]), Path(argv[2])
    started = time.perf_counter()
    if mode == "eval":
        from tools.imitations.harness import run_stack

        registrations = len(run_stack("prod", config_file).registrations)
    elif mode == "plan":
        from tools.plan.__main__ import main as plan_main

        sys.stdout = sys.stderr  # the plan's summary text is not this run's result
        try:
            code = plan_main(["prod", "--config-file", str(config_file), "--out", str(out), "--progress"])
        finally:
            sys.stdout = sys.__stdout__
        if code != 0:
            return code
        registrations = len(json.loads((out / "summary.json").read_text())["resources"])
    else:
        print(f"unknown mode {mode!r} (eval or plan)", file=sys.stderr)
        return 2
    print(json.dumps({"registrations": registrations, "seconds": time.perf_counter() - started}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
