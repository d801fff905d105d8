"""The one exception type every layer may raise for the user to read.

A failure the user can act on (a full disk, an output path that is not
theirs, a damaged capture) can surface deep inside a pipeline, far from the
command that knows how to word it. Raised as ``OneLineError``, it reaches the
user as ``cdig: <message>`` and exit status 1, never as an internal error.
"""

from __future__ import annotations


class OneLineError(Exception):
    """A user-facing failure whose ``str()`` is one line, printed as ``cdig: <line>``."""
