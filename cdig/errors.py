"""How a failure reaches the user: one line on stderr and an exit status.

Commands raise; ``main()`` maps, once, here. ``CliError`` carries its own words
and code; the library's own errors (a bad filter, an unreadable capture, a probe
that cannot load, a full disk …) are worded by the layer that raised them and
mapped by type below, so no command converts them at its call sites.
"""

from __future__ import annotations

import importlib

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
EXIT_DAMAGED = 3  # a capture read with -r was damaged or cut short


def replay_status(src: object) -> int:
    """The exit status after a replay: EXIT_DAMAGED if a capture lost something."""
    return EXIT_DAMAGED if getattr(src, "losses", None) else EXIT_OK


class CliError(Exception):
    """A user-facing failure: printed as ``cdig: <message>``."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _library_errors() -> list[tuple[type[BaseException], int]]:
    """(error type, exit code) of the failures the layers below word themselves."""
    out: list[tuple[type[BaseException], int]] = []
    for module, name, code in ((".collector.filter", "FilterError", EXIT_USAGE),
                               (".collector.capture", "CaptureError", EXIT_ERROR),
                               (".collector.errors", "OneLineError", EXIT_ERROR),
                               (".probes.loader", "ProbeError", EXIT_ERROR)):
        # a layer whose optional dependency is not installed (bcc; pyarrow,
        # which the exporter image does not have) cannot have raised
        try:
            out.append((getattr(importlib.import_module(module, __package__), name), code))
        except ImportError:
            continue
    return out


def user_message(e: BaseException) -> tuple[str, int] | None:
    """(``cdig: …`` text, exit code) for a failure the user can act on; None for a bug."""
    if isinstance(e, CliError):
        return f"cdig: {e}", e.code
    for typ, code in _library_errors():
        if isinstance(e, typ):
            fmt = getattr(e, "format", None)  # FilterError: message, filter, caret
            text = fmt() if callable(fmt) and typ.__name__ == "FilterError" else f"cdig: {e}"
            return text, code
    return None
