"""What a chisel is: data (name, category, arguments, its own filter) plus a small
function over the columnar engine that makes the sink for one run.

A run is a session sink (``collector.session``): it gets every enriched batch with
the mask of the rows that pass the user's filter *and* the chisel's own (the
session compiles ``(chisel filter) and (user filter)``), and renders its output
with :meth:`ChiselRun.table` — at each interval when live on a terminal, once at
the end otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


class ChiselError(Exception):
    """A chisel that cannot run with the arguments given (one line for the user)."""


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument, as sysdig's ``-i CHISEL`` lists it."""

    name: str
    description: str
    optional: bool = False
    # a filter argument takes every word left (sysdig's argtype "filter")
    filter: bool = False


class ChiselRun(Protocol):
    """One running chisel: a batch sink with output."""

    batch_sink: bool

    def __call__(self, b: Any, matched: np.ndarray) -> None: ...

    def table(self, delta_ns: int) -> str:
        """The output for what was seen since the last call (or the start)."""
        ...


@dataclass(frozen=True, slots=True)
class Chisel:
    """A chisel as ``-cl`` lists it and ``-c NAME ARGS`` runs it."""

    name: str
    category: str
    description: str
    make: Callable[[Sequence[str], bool], ChiselRun]  # (args, print container) -> run
    filter: Callable[[Sequence[str], bool], str]  # the chisel's own filter, "" = none
    args: tuple[Arg, ...] = field(default=())
    # sysdig prints this chisel's table every second when live; a pipe gets one at the end
    interval: bool = True
    # the run needs one event, then the state as of the start (sysdig's end_capture())
    first_event: bool = False

    def check(self, args: Sequence[str]) -> None:
        need = sum(1 for a in self.args if not a.optional)
        if len(args) < need:
            missing = ", ".join(a.name for a in self.args[len(args):need])
            raise ChiselError(f"chisel {self.name} needs {need} argument"
                              f"{'s' if need != 1 else ''}: missing {missing} "
                              f"(cdig trace -i {self.name} describes them)")
        if len(args) > len(self.args) and not (self.args and self.args[-1].filter):
            raise ChiselError(f"chisel {self.name} takes {len(self.args)} argument"
                              f"{'s' if len(self.args) != 1 else ''}, not {len(args)}")
