"""One item produced ahead on a thread: how both capture readers overlap reading a file
(decompression, CRCs and numpy copies release the GIL) with the caller's work on the
item before."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar, cast

_T = TypeVar("_T")
_END = object()


def read_ahead(items: Iterator[_T], depth: int = 2, name: str = "cdig-read") -> Iterator[_T]:
    """``items``, produced on a thread (named ``name``) up to ``depth`` ahead of the
    caller. In order; what the producer raises is raised here; closing this generator
    stops and joins the thread."""
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_END)
        except BaseException as e:  # handed to the caller, raised there
            q.put(e)

    t = threading.Thread(target=work, name=name, daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield cast(_T, item)
    finally:
        stop.set()
        while t.is_alive():  # let it see the stop, or finish its put
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass
        t.join()
