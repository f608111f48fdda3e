"""How our command-line tools end: an exit code, never a traceback.

    if __name__ == "__main__":
        stop_on_interrupt("plan")          # first, before the heavy imports
        ...
        sys.exit(finish("plan", main))

Ctrl-C (SIGINT) and a closed output pipe are the two ways a person ends a run early; each
gets one line on stderr and its own exit code (130 and 141, the shell's 128 + signal, so
neither reads as 1, "a mandatory violation", or 2, "bad input").

An interrupt stops the process at once instead of raising KeyboardInterrupt: raised inside
Pulumi's mock runtime or an import, that exception is caught or half-handled there and comes
back as some other error with a traceback. Before it exits, the handler removes what the run
registered as unfinished (`unfinished(path)`: the plan's staging directory) and ends the
child processes it `owned` (the policy pack's analyzer); a step that must
not be cut in two runs under `uninterrupted()` (the swap of a finished plan into place).
The interpreter's own start-up (site.py, some tens of milliseconds before the first line of
a tool runs) is Python's: a Ctrl-C there still shows Python's KeyboardInterrupt.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

INTERRUPTED = 130
BROKEN_PIPE = 141
_unfinished: list[Path] = []
_children: list = []  # subprocess.Popen objects to end with the run (the policy pack's server)


def stop_on_interrupt(prog: str) -> None:
    """From now on Ctrl-C removes the unfinished paths, prints one line and exits 130."""

    def _stop(signum, frame) -> None:
        for proc in list(_children):  # os._exit skips their owners' cleanup: end them here
            with contextlib.suppress(Exception):
                proc.kill()
        for path in list(_unfinished):
            shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.write(2, f"\n{prog}: interrupted — nothing was written\n".encode())
        os._exit(INTERRUPTED)

    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # a caller that ignores it keeps that
        signal.signal(signal.SIGINT, _stop)


@contextlib.contextmanager
def unfinished(path: Path) -> Iterator[Path]:
    """`path` is removed if the run is interrupted while inside this block."""
    _unfinished.append(path)
    try:
        yield path
    finally:
        _unfinished.remove(path)


def owned(proc):
    """`proc` is killed if the run is interrupted (until `disowned`)."""
    _children.append(proc)
    return proc


def disowned(proc) -> None:
    with contextlib.suppress(ValueError):
        _children.remove(proc)


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold Ctrl-C until the block is done (it then takes effect)."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def finish(prog: str, main: Callable[[], int], after: Callable[[], None] | None = None) -> int:
    """Run `main()` and return its exit code; a KeyboardInterrupt (when stop_on_interrupt was
    not called) or a closed stdout become one line."""
    try:
        code = main()
    except KeyboardInterrupt:
        with contextlib.suppress(OSError):
            print(f"\n{prog}: interrupted — nothing was written", file=sys.stderr, flush=True)
        code = INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): nothing more on stdout, and Python's own flush at
        # exit must not raise again.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = BROKEN_PIPE
    if after is not None:
        after()
    return code
