"""How a failure reaches the user: one line on stderr and an exit status.

Commands raise; ``main()`` maps, once, here. ``CliError`` carries its own words
and code; the library's own errors (a bad filter, an unreadable capture, a probe
that cannot load, a full disk …) are worded by the layer that raised them and
mapped by type below, so no command converts them at its call sites.
"""

from __future__ import annotations

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
EXIT_DAMAGED = 3  # a capture read with -r was damaged or cut short


class CliError(Exception):
    """A user-facing failure: printed as ``cdig: <message>``."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _library_errors() -> list[tuple[type[BaseException], int]]:
    """(error type, exit code) of the failures the layers below word themselves."""
    from .collector.capture import CaptureError
    from .collector.errors import OneLineError
    from .collector.filter import FilterError

    out: list[tuple[type[BaseException], int]] = [
        (FilterError, EXIT_USAGE), (CaptureError, EXIT_ERROR), (OneLineError, EXIT_ERROR)]
    try:  # importable without bcc: the loader imports bcc lazily
        from .probes.loader import ProbeError

        out.append((ProbeError, EXIT_ERROR))
    except ImportError:  # pragma: no cover - a broken install says so elsewhere
        pass
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
