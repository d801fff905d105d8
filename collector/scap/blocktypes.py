""".scap block type ids (libs scap_savefile.h; ``FORMAT.md`` §1.1) and event-block flags."""

from __future__ import annotations

import struct
import zlib

SHB = 0x0A0D0D0A
BYTE_ORDER_MAGIC = 0x1A2B3C4D
SHB_MAGIC_BYTES = struct.pack("<I", SHB)
GZIP_MAGIC = b"\x1f\x8b"

MI, MI_INT = 0x201, 0x8002ABCD
PL_VERSION = {0x202: 1, 0x8000ABCD: 1, 0x207: 2, 0x8013ABCD: 2, 0x209: 3, 0x8014ABCD: 3,
              0x210: 4, 0x211: 5, 0x212: 6, 0x213: 7, 0x214: 8, 0x215: 9}
PL_V9 = 0x215
FDL, FDL_INT, FDL_V2 = 0x203, 0x8001ABCD, 0x218
IL, IL_INT, IL_V2 = 0x205, 0x8011ABCD, 0x219
UL, UL_INT, UL_V2 = 0x206, 0x8012ABCD, 0x220
# event blocks: type -> (has nparams in the header, has u32 flags after cpuid)
EV, EV_INT, EV_V2, EV_V2_LARGE = 0x204, 0x8010ABCD, 0x216, 0x221
EVF, EVF_V2, EVF_V2_LARGE = 0x208, 0x217, 0x222
EVENT_BLOCKS = {EV: (False, False), EV_INT: (False, False), EV_V2: (True, False),
                EV_V2_LARGE: (True, False), EVF: (False, True), EVF_V2: (True, True),
                EVF_V2_LARGE: (True, True)}
STATE_ONLY = 1  # EVF flag SCAP_DF_STATE_ONLY: apply the event's effects, do not show it


# here, not in blocks: any_scap() runs on every -r, and a .cdig read imports no more
def is_scap(path: str) -> bool:
    """True if ``path`` starts with a .scap section header, plain or gzip-compressed."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
            if head[:2] == GZIP_MAGIC:
                f.seek(0)
                d = zlib.decompressobj(wbits=31)
                head = d.decompress(f.read(4096), 4)
    except (OSError, zlib.error):
        return False
    return head[:4] == SHB_MAGIC_BYTES
