"""``cdig top``: the Textual app.

    feed (live probe | capture | events) ──► collector worker (thread)
        pipeline: decode → state → model.predicate (filter) → model.sink
                                                   │ Aggregator(detail) + events ring
    one-shot timer ──► refresh worker (thread)     ▼
        model.snapshot() under the lock → rates, CPU%, cgroups → views.build → Frame
    FrameReady ──► MainScreen.show_frame (UI thread: only copies cells) ──► re-arm timer

The collector never touches a widget; the refresh worker reads the model only
through a snapshot; the UI thread only applies finished frames. The timer is
re-armed after each frame is shown (as dolphie does), so a slow refresh delays
the next one instead of piling up. ``make_app`` builds the app from a feed, so
live, replay and tests share one path.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from functools import partial
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.css.query import NoMatches
from textual.worker import Worker, WorkerState, get_current_worker

from . import compiler_memory
from .feeds import Feed
from .messages import FeedEnded, FeedFailed, FrameReady
from .model import Restart, TopModel
from .refresher import Frame, Refresher, Request
from .screens.main import MainScreen
from .views import VIEWS

# What the event stream must carry when the kernel's counters do the counting:
# the file and socket I/O (Files, Directories, Connections, Server ports, Slow
# file I/O, echo), listen/accept/connect and execs; the syscalls that keep the fd
# and process tables current pass anyway (probes/syscalls.py STATE_SYSCALLS). The
# rest (a getppid storm) is counted in the kernel and never reaches userspace.
STREAM_SYSCALLS = frozenset(
    """read pread64 readv preadv preadv2 recvfrom recvmsg recvmmsg write pwrite64 writev
    pwritev pwritev2 sendto sendmsg sendmmsg sendfile open openat openat2 creat connect
    accept accept4 bind listen shutdown execve execveat""".split())


class CdigTop(App[None]):
    CSS_PATH = "cdig.tcss"
    TITLE = "cdig top"
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, feed: Feed, *, interval: float = 1.0, filter_text: str = "",
                 max_rows: int = 500, speed: float = 1.0, start_view: str = "containers",
                 start_paused: bool = False, auto_refresh: bool = True,
                 counters: Any = "auto", handle_signals: bool = False,
                 full_stream: bool = False) -> None:
        super().__init__()
        if start_view not in VIEWS:
            raise ValueError(f"unknown view {start_view!r}; views: {', '.join(VIEWS)}")
        self.feed = feed
        self.interval = interval
        self.max_rows = max_rows
        self.timed_refresh = auto_refresh
        self.model = TopModel(live=feed.live, filter_text=filter_text, speed=speed,
                              start_paused=start_paused)
        self.refresher = Refresher(self.model, feed.resources, interval, feed.label)
        # exact counts from the kernel (tui/counters.py): given, or "auto": loaded
        # at start for a live feed that knows its container resolver
        self._want_counters = counters
        if counters not in (None, "auto"):
            self.refresher.counters = counters
        self.main = MainScreen(start_view, live=feed.live)
        self.main.filter_text = filter_text.strip()
        self.frames = 0
        self.last_frame: Frame | None = None
        self.feed_error: str | None = None
        self._timer: Any = None
        # SIGTERM/SIGHUP/SIGINT end the app as q does (the terminal restored);
        # only for the real command: tests keep their own handlers
        self.handle_signals = handle_signals
        self.full_stream = full_stream  # never narrow the event stream (--full-stream)
        self._stream_want: frozenset[str] | None = None  # what the probe sends now
        self._io_data = False  # the probe copies the I/O calls' data (echo shown)
        self.exit_signal: int | None = None
        self.crash: BaseException | None = None  # an exception inside the app
        path = os.environ.get("CDIG_TOP_TIMINGS")
        # frame build ms, UI apply ms, rows, view: one line per frame shown
        self.timings = open(path, "a") if path else None  # open for the run

    # -- start and stop ---------------------------------------------------------------
    def on_mount(self) -> None:
        if self.handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                loop.add_signal_handler(sig, self._on_signal, sig)
        self.push_screen(self.main)
        self._collect()
        if self._want_counters == "auto" and self.feed.live and \
                getattr(self.feed, "resolver", None) is not None:
            self._load_counters()
        if self.timed_refresh:
            self._arm(0.05)

    def _arm(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(max(delay, 0.01), self._tick)

    async def action_quit(self) -> None:
        self.model.stop()
        self.feed.close()
        self._close_counters()
        self.exit()

    def _on_signal(self, sig: int) -> None:
        """End as q does; a second signal, or a shutdown stuck for 5 s, ends the
        process at once (the terminal guard then restores the terminal)."""
        if self.exit_signal is not None:
            os._exit(128 + sig)
        self.exit_signal = sig
        t = threading.Timer(5.0, os._exit, (128 + sig,))
        t.daemon = True
        t.start()
        self.model.stop()
        self._close_counters()
        self.exit(return_code=128 + sig)

    # Textual prints a traceback with the locals (untrusted data among them) after
    # an exception inside the app; cdig prints one line (run_top), the traceback
    # only with CDIG_DEBUG=1
    def _handle_exception(self, error: Exception) -> None:
        if self.crash is None:
            self.crash = error
        super()._handle_exception(error)

    def _print_error_renderables(self) -> None:
        if self.crash is not None and not os.environ.get("CDIG_DEBUG"):
            self._exit_renderables.clear()
            return
        super()._print_error_renderables()

    def on_unmount(self) -> None:
        self.model.stop()
        self._close_counters()

    def _close_counters(self) -> None:
        c = self.refresher.counters
        if c is not None and not c.closed:
            with self.refresher.lock:  # not while a refresh reads the maps
                c.close()

    @work(thread=True, exclusive=True, group="counters", exit_on_error=False)
    def _load_counters(self) -> None:
        from .counters import load_top_counters

        feed = self.feed
        state = getattr(feed, "state", None)

        def name_of(tgid: int) -> tuple[str, int] | None:
            p = state.procs.get(tgid) if state is not None else None
            return (p.name, p.uid) if p is not None and not p.exited else None

        try:
            resolver: Any = getattr(feed, "resolver", None)  # LiveFeed's (on_mount checked)
            counters = load_top_counters(resolver.resolve, name_of=name_of)
        except Exception as e:  # one line in the UI: counts from events
            self.model.note(f"kernel counters unavailable ({e}); counts from the event "
                            "stream")
            return
        finally:  # both probes are loaded: if bcc compiled one here, give its compiler back
            compiler_memory.release()
        if self.model.stopping:
            counters.close()
            return
        self.refresher.counters = counters

    # -- the collector worker (thread) ------------------------------------------------
    @work(thread=True, exclusive=True, group="collector", exit_on_error=False)
    def _collect(self) -> None:
        model, feed = self.model, self.feed
        worker = get_current_worker()
        model.watch_cancel(lambda: worker.is_cancelled)
        try:
            while not model.stopping and not worker.is_cancelled:
                try:
                    feed.run(model)
                except Restart:
                    pass
                if model.stopping:
                    break
                if model.restart_pending:
                    continue
                model.end_run()
                self.post_message(FeedEnded(model.agg.events))
                while not model.stopping and not model.restart_pending:
                    if worker.is_cancelled:
                        model.stop()
                        break
                    time.sleep(0.05)
        except Exception as e:  # shown in the UI, never a traceback
            self.post_message(FeedFailed(f"{type(e).__name__}: {e}"))
        finally:
            if model.stopping or worker.is_cancelled:
                model.stop()
                feed.close()

    # -- the refresh cycle ---------------------------------------------------------------
    def _tick(self) -> None:
        if self.refresher.display_paused:
            self._arm(self.interval)
            return
        self._build_frame(self.main.request(self.max_rows))

    @work(thread=True, exclusive=True, group="refresh", exit_on_error=False)
    def _build_frame(self, req: Request) -> None:
        self._narrow_stream(req.view)
        self._echo_data(req)
        frame = self.refresher.frame(req)
        if not get_current_worker().is_cancelled:
            self.post_message(FrameReady(frame))

    def _echo_data(self, req: Request) -> None:
        """The kernel copies the I/O calls' data only while echo (F5) is shown."""
        set_io = getattr(self.feed, "want_io_data", None)
        want = req.view == "events" and req.scope.io
        if set_io is None or want == self._io_data:
            return
        self._io_data = want
        try:
            set_io(want)
        except Exception as e:  # a probe closing under us: say so, go on
            self.model.note(f"cannot switch the I/O data copy: {e}")

    def _narrow_stream(self, view: str) -> None:
        """Only STREAM_SYSCALLS in the event stream while the kernel's counters are
        read, no filter is set (a filter is applied to events: it needs them all)
        and the view does not list every event; every syscall otherwise."""
        set_want = getattr(self.feed, "want_syscalls", None)
        if set_want is None or self.full_stream:
            return
        c = self.refresher.counters
        narrow = c is not None and not c.closed and self.model.filter.expr is None \
            and not VIEWS[view].full_stream
        want = STREAM_SYSCALLS if narrow else None
        if want == self._stream_want:
            return
        self._stream_want = want
        try:
            narrowed = set_want(want) and want is not None
        except Exception as e:  # a probe closing under us: say so, go on
            self.model.note(f"cannot narrow the event stream: {e}")
            narrowed = False
        self.refresher.stream_narrowed = narrowed

    def on_frame_ready(self, message: FrameReady) -> None:
        if self.main.is_attached and not self.model.stopping:
            try:
                self._show(message.frame)
            except NoMatches:  # the screen is still being built, or already taken down
                pass
        if self.timed_refresh:
            self._arm(self.interval)

    def _show(self, frame: Frame) -> None:
        self.frames += 1
        self.last_frame = frame
        t0 = time.perf_counter()
        self.main.show_frame(frame)
        if self.timings is not None:  # CDIG_TOP_TIMINGS=FILE (benchmarks/tui_cost.py)
            apply_ms = (time.perf_counter() - t0) * 1000
            self.timings.write(f"{frame.elapsed_ms:.2f} {apply_ms:.2f} "
                               f"{frame.data.total_rows} {frame.request.view}\n")
            self.timings.flush()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "refresh" and event.state == WorkerState.ERROR:
            self.main.say(f"refresh failed: {event.worker.error}", "bold red")
            if self.timed_refresh:
                self._arm(self.interval)

    def refresh_soon(self) -> None:
        """Rebuild the frame now (after a key changed what is shown), paused or not;
        the timer is re-armed when it is shown."""
        if self.timed_refresh:
            if self._timer is not None:
                self._timer.stop()
            self._build_frame(self.main.request(self.max_rows))

    async def refresh_now(self) -> Frame:
        """Build and show a frame, and wait for it (tests, screenshots)."""
        frame = await asyncio.to_thread(self.refresher.frame, self.main.request(self.max_rows))
        self._show(frame)
        return frame

    async def wait_ended(self, timeout: float = 10.0) -> None:
        """Wait until a finite feed has been read to its end (tests); after a filter
        change, the run it restarted (not the one before)."""
        deadline = time.monotonic() + timeout

        def done() -> bool:
            return self.model.ended and not self.model.restart_pending

        while not done() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if not done():
            raise TimeoutError("the feed did not end")

    def on_feed_ended(self, message: FeedEnded) -> None:
        self.refresh_soon()

    def on_feed_failed(self, message: FeedFailed) -> None:
        self.feed_error = message.error
        self.main.say(f"collector stopped: {message.error}", "bold red")
        self.notify(message.error, title="collector stopped", severity="error")

    # -- what keys do ----------------------------------------------------------------------
    def apply_filter(self, text: str) -> str | None:
        """Set the filter; the error text (message, filter, caret) if it is bad."""
        err = self.model.set_filter(text.strip())
        if err is None:
            return None
        return err.format("filter").removeprefix("filter: ")

    def toggle_pause(self) -> None:
        pb = self.model.playback
        if pb is not None:
            pb.set_paused(not pb.paused)
        else:
            self.refresher.display_paused = not self.refresher.display_paused
            if not self.refresher.display_paused:
                self.refresh_soon()
                return
        self.refresh_soon()  # shows PAUSED at once

    def step(self) -> None:
        pb = self.model.playback
        if pb is None:
            return
        pb.step(int(self.interval * 1e9))
        self.set_timer(0.15, self.refresh_soon)

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for v in VIEWS.values():
            yield SystemCommand(f"View: {v.title}", f"show the {v.title} view",
                                partial(self.main.action_view, v.name))
        yield SystemCommand("Filter", "set a filter (cdig's filter language)",
                            self.main.action_filter)
        yield SystemCommand("Pause / play", "pause the display or a replay", self.toggle_pause)
        yield SystemCommand("Echo", "the I/O of the selected process", self.main.action_echo)
        yield SystemCommand("Dig", "the events of the selected process", self.main.action_dig)
        yield SystemCommand("Help", "keys and views", self.main.action_help)


def make_app(feed: Feed, **kwargs: Any) -> CdigTop:
    """The app over a feed: ``feeds.LiveFeed``, ``feeds.ReplayFeed`` or ``feeds.EventFeed``."""
    return CdigTop(feed, **kwargs)
