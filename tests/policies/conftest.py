"""The pack imports its modules as top-level `guardrails` (policies/ is the pack root), so
test modules here can import it whichever runs first."""

import sys
from pathlib import Path

PACK = str(Path(__file__).resolve().parents[2] / "policies")
if PACK not in sys.path:
    sys.path.insert(0, PACK)
