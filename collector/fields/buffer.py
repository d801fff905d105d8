"""I/O data as sysdig prints it: the ``data=`` argument and ``evt.buffer``.

sysdig 0.29.3 renders a buffer in one of five ways, picked by its flags (checked
with ``sysdig -r`` on the sample captures in tests/fixtures/scap):

- default: printable ASCII (0x20-0x7e) as is, every other byte as ``.``;
- ``-A``: a newline, then the printable bytes and the newlines, the rest dropped;
- ``-x``: a newline, then 16 bytes a line, ``\\t0xOFFS:`` and the bytes in groups of
  two as hex, and a newline after the last line; ``-X`` adds two spaces and the
  line's bytes as in the default rendering;
- ``-b``: base64.

Every rendering is made of printable ASCII, tabs and newlines only: the bytes are
untrusted (whatever a process wrote) and never reach the terminal as they are.
"""

from __future__ import annotations

DOTS, ASCII, HEX, HEX_ASCII, BASE64 = "dots", "ascii", "hex", "hexascii", "base64"
MODES = (DOTS, ASCII, HEX, HEX_ASCII, BASE64)

# byte -> its default rendering (printable ASCII or '.')
_DOTS = bytes(b if 0x20 <= b < 0x7F else 0x2E for b in range(256))
# -A: printable ASCII and newlines kept, every other byte dropped
_DROP = bytes(b for b in range(256) if not (0x20 <= b < 0x7F or b == 0x0A))

_mode = DOTS


def set_print_mode(mode: str) -> None:
    """How ``data=`` and ``evt.buffer`` print from now on (sysdig's -A/-x/-X/-b)."""
    global _mode
    if mode not in MODES:
        raise ValueError(f"unknown buffer print mode {mode!r}")
    _mode = mode


def print_mode() -> str:
    return _mode


def dots(data: bytes) -> str:
    """The default rendering: printable ASCII, '.' for every other byte."""
    return data.translate(_DOTS).decode("ascii")


def _hex_lines(data: bytes, with_ascii: bool) -> str:
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        groups = []
        for g in range(0, 16, 2):
            pair = chunk[g:g + 2]
            groups.append(" " + pair.hex().ljust(4) if pair else "     ")
        line = f"\t0x{off:04x}:" + "".join(groups)
        if with_ascii:
            line += "  " + dots(chunk)
        else:
            line = line.rstrip(" ")
        lines.append(line)
    return "\n" + "\n".join(lines) + "\n"


def render(data: bytes, mode: str | None = None) -> str:
    """``data`` as sysdig prints it in ``mode`` (default: the current print mode)."""
    mode = mode or _mode
    if not data:
        return ""
    if mode == DOTS:
        return dots(data)
    if mode == ASCII:
        return "\n" + data.translate(None, _DROP).decode("ascii")
    if mode == BASE64:
        import base64  # here: only -b asks

        return base64.b64encode(data).decode("ascii")
    return _hex_lines(data, mode == HEX_ASCII)
