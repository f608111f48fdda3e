"""Where the offline plan goes, and how it gets there without harming anything else.

- Relative paths are the caller's (tools/caller.py): `./run` changes to the repository
  before starting Python, so it passes the directory it was called from.
- Only a previous plan output is ever replaced: every plan directory holds MARKER, and a
  directory without it (a checkout, docs/, a home directory) is refused, as is anything that
  is not a plain directory, or that contains the repository or the caller's directory.
- The plan is written into a fresh directory beside the target and swapped in only when
  complete, so a failure part-way never leaves a half-written plan over a good one.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from tools.caller import caller_path
from tools.cli import unfinished, uninterrupted

__all__ = ["MARKER", "OutDirError", "caller_path", "check_target", "write_atomically"]

MARKER = ".k3s-platform-plan"
MARKER_TEXT = ("This directory is an offline plan written by `./run plan` (tools/plan).\n"
               "The next plan into it replaces it as a whole; a directory without this file is never replaced.\n")


class OutDirError(Exception):
    """The output directory cannot be used; the message says why and what to do."""


def _inside(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def check_target(out: Path, protected: tuple[Path, ...] = ()) -> None:
    """Refuse a target whose replacement would remove anything but an earlier plan."""
    out = out.absolute()
    resolved = out.resolve()
    for keep in protected:
        if _inside(keep.resolve(), resolved):
            raise OutDirError(f"--out {out}: contains {keep} — choose a directory of its own, e.g. plan-out/<stack>")
    if out.is_symlink():
        raise OutDirError(f"--out {out}: is a symbolic link — give the real directory, or a new path")
    if not out.exists():
        return
    if not out.is_dir():
        raise OutDirError(f"--out {out}: exists and is not a directory — choose another path")
    if (out / MARKER).is_file() or not any(out.iterdir()):
        return
    raise OutDirError(f"--out {out}: exists and is not an earlier plan (no {MARKER} in it), so it is not "
                      "replaced — choose a new or empty directory, or remove it yourself")


def write_atomically(out: Path, write: Callable[[Path], None], protected: tuple[Path, ...] = ()) -> None:
    """Run `write(tmp)` into a new directory beside `out`, then swap it in for `out`."""
    out = out.absolute()
    check_target(out, protected)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        with unfinished(tmp):  # Ctrl-C while writing removes it (tools/cli.py)
            write(tmp)
            (tmp / MARKER).write_text(MARKER_TEXT)
            with uninterrupted():  # the swap is never cut in two
                check_target(out, protected)  # unchanged while we wrote?
                old = None
                if out.exists():
                    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
                    old.rmdir()
                    out.rename(old)
                try:
                    tmp.rename(out)
                except OSError:
                    if old is not None:
                        old.rename(out)  # put the earlier plan back
                    raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
