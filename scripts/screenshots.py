"""The README's screenshots: cdig top's main views over a recorded capture, as SVG.

    sudo .venv/bin/cdig trace -w demo.cdig -M 6      # record (containers running)
    .venv/bin/python scripts/screenshots.py demo.cdig docs/screenshots

The capture is replayed through the very path of ``cdig top -r`` (``ReplayFeed``,
``make_app``), read to its end, and each view saved with ``App.save_screenshot``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from cdig.tui.app import make_app
from cdig.tui.feeds import ReplayFeed

SHOTS = (  # file name, keys pressed from the Containers view
    ("containers", ()),
    ("processes-of-a-container", ("enter",)),
    ("syscalls", ("3",)),
    ("errors", ("4",)),
    ("files", ("5",)),
    ("events", ("8",)),
    ("security", ("9",)),
    ("help", ("question_mark",)),
)


async def shoot(capture: str, out: Path, size: tuple[int, int]) -> None:
    for name, keys in SHOTS:
        app = make_app(ReplayFeed([capture]), speed=0, auto_refresh=False,
                       start_view="containers")
        async with app.run_test(size=size) as pilot:
            await app.wait_ended(120)
            await app.refresh_now()
            await pilot.pause()
            for k in keys:
                await pilot.press(k)
                await app.refresh_now()
                await pilot.pause()
            path = app.save_screenshot(f"{name}.svg", str(out))
            print(path)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    asyncio.run(shoot(sys.argv[1], out, (120, 32)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
