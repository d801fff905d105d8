"""Give the terminal back whatever ends ``cdig top``.

Textual restores the terminal when the app ends normally, on an exception inside
it, and (with ``graceful_signals``) on SIGTERM/SIGHUP/SIGINT. A process killed by
a signal it cannot handle in Python (SIGKILL, a SIGBUS or SIGSEGV inside C code,
an abort) leaves the terminal in the alternate screen, in raw mode, with mouse
tracking on. ``TerminalGuard`` covers those: a small child forked before the app
starts (before any thread) keeps the terminal's settings of that moment and a
pipe from its parent; when the pipe reaches its end without the parent having
said "restored", the parent died uncleanly and the child writes the sequences
that undo the app's modes and puts the settings back.
"""

from __future__ import annotations

import os
import signal
import sys
import termios

# the modes Textual's Linux driver sets, undone: kitty keyboard (pop), mouse
# (1000/1003/1015/1006), bracketed paste, in-band resize, focus events, line wrap
# on, then out of the alternate screen and the cursor shown
RESET = (b"\x1b[<u\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?2004l"
         b"\x1b[?2048l\x1b[?1004l\x1b[?7h\x1b[?1049l\x1b[?25h")
_CLEAN = b"k"
# the guard outlives its parent's terminal job: ignore what the terminal or the
# user's kill of the job sends, and SIGTTOU (it writes and sets modes from the
# background once the shell has the terminal back)
_IGNORED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
            signal.SIGTSTP, signal.SIGTTOU, signal.SIGTTIN)


class TerminalGuard:
    """``start()`` forks the guard; ``release()`` after the terminal was restored
    (the guard then exits without writing). ``tty_fd`` None: a guard that does
    nothing."""

    @staticmethod
    def stdout_fd() -> int | None:
        try:
            return sys.stdout.fileno()
        except (OSError, ValueError):  # io.UnsupportedOperation: not a real file
            return None

    def __init__(self, tty_fd: int | None) -> None:
        self.tty_fd = tty_fd
        self.pid: int | None = None
        self._w: int | None = None

    def start(self) -> TerminalGuard:
        if self.tty_fd is None:  # no terminal file (an embedding, a test): no guard
            return self
        try:
            attrs = termios.tcgetattr(self.tty_fd)
        except termios.error:
            attrs = None
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the guard: no Python cleanup of the parent's state, ever
            try:
                os.close(w)
                _guard(r, os.dup(self.tty_fd), attrs)
            finally:
                os._exit(0)
        os.close(r)
        os.set_inheritable(w, False)
        self.pid, self._w = pid, w
        return self

    def release(self) -> None:
        """The terminal is restored: let the guard go without touching it."""
        if self._w is None:
            return
        try:
            os.write(self._w, _CLEAN)
        except OSError:
            pass
        os.close(self._w)
        self._w = None
        if self.pid is not None:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = None


def _run_first() -> None:
    """Be the first to write once the parent dies. The kernel closes the dead
    parent's pipe (waking the guard) before it tells the shell, but on a busy
    host the shell could still be scheduled first and print its "Killed" and
    prompt inside the alternate screen, which the guard's reset then hides. A
    real-time guard runs the moment it is woken; it only ever sleeps on the pipe
    and writes once, so it takes no CPU from anyone. Without CAP_SYS_NICE (a
    replay as a user) it stays an ordinary process."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except (OSError, AttributeError):
        pass


def _guard(r: int, tty: int, attrs: list | None) -> None:
    for s in _IGNORED:
        signal.signal(s, signal.SIG_IGN)
    _run_first()
    # hold nothing of the parent's open (a pipe a caller waits on, BPF maps, files)
    lo = 0
    for fd in sorted((r, tty)):
        os.closerange(lo, fd)
        lo = fd + 1
    os.closerange(lo, 1 << 16)
    clean = False
    while True:
        try:
            got = os.read(r, 16)
        except InterruptedError:
            continue
        except OSError:
            break
        if not got:
            break
        clean = clean or _CLEAN in got
    if clean:
        return
    try:
        os.write(tty, RESET)
    except OSError:  # the terminal is gone (a hang-up): nothing to restore
        return
    if attrs is not None:
        try:
            termios.tcsetattr(tty, termios.TCSANOW, attrs)
        except termios.error:
            pass
