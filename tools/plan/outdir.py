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

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tools.caller import caller_path
from tools.cli import unfinished, uninterrupted

__all__ = ["MARKER", "OutDirError", "caller_path", "check_target", "write_atomically", "write_change_reports", "write_reports"]

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


_STALE_UNOWNED = 3600  # seconds: a staging directory without an owner's pid (older versions)


def _owner_gone(path: Path, kind: str, name: str) -> bool:
    rest = path.name[len(f".{name}.{kind}-"):]
    pid = rest.split("-", 1)[0]
    if pid.isascii() and pid.isdigit() and "-" in rest:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except OSError:  # alive, someone else's
            return False
        return False
    return time.time() - path.lstat().st_mtime > _STALE_UNOWNED


def sweep_leftovers(out: Path) -> None:
    """What a killed run (SIGKILL, power loss) left beside `out`: its half-written staging
    directories are removed; an earlier plan it had moved aside is put back if `out` is gone."""
    for kind in ("old", "new"):
        for path in sorted(out.parent.glob(f".{out.name}.{kind}-*")):
            if not path.is_dir() or path.is_symlink() or not _owner_gone(path, kind, out.name):
                continue
            if kind == "old" and not out.exists() and (path / MARKER).is_file():
                path.rename(out)  # the swap was cut between its two renames
            else:
                shutil.rmtree(path, ignore_errors=True)


def write_atomically(out: Path, write: Callable[[Path], None], protected: tuple[Path, ...] = ()) -> None:
    """Run `write(tmp)` into a new directory beside `out`, then swap it in for `out`."""
    out = out.absolute()
    check_target(out, protected)
    out.parent.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-{os.getpid()}-", dir=out.parent))
    try:
        with unfinished(tmp):  # Ctrl-C while writing removes it (tools/cli.py)
            write(tmp)
            (tmp / MARKER).write_text(MARKER_TEXT)
            with uninterrupted():  # the swap is never cut in two
                check_target(out, protected)  # unchanged while we wrote?
                old = None
                if out.exists():
                    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-{os.getpid()}-", dir=out.parent))
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


def write_reports(out: Path, files: dict[str, str], protected: tuple[Path, ...] = ()) -> str | None:
    """The check modes' reports (name -> text) into `out`, as a plan is written (marker, swap
    when complete). Returns the error line to print, or None when written."""
    def write(tmp: Path) -> None:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")

    try:
        write_atomically(out, write, protected)
    except OutDirError as failure:
        return f"plan: {failure}"
    except OSError as err:
        return f"plan: --out {out}: cannot write ({err.strerror or err}) — check the disk and permissions"
    return None


def write_change_reports(out: tuple[Path, tuple[Path, ...]] | None, markdown: str, text: str, code: int) -> int:
    """The change modes' ending: with `--out`, report.md and report.txt written there (and said
    so); the exit code is `code`, or 2 when the reports could not be written."""
    if out is None:
        return code
    from tools.plan import review

    failure = write_reports(out[0], {review.REPORT_FILE: markdown, review.TEXT_FILE: text}, out[1])
    if failure:
        print(failure, file=sys.stderr)
        return 2
    print(f"report written to {out[0] / review.REPORT_FILE}")
    return code
