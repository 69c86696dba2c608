"""Text made safe for a terminal: what report text (or a file name) could make the terminal do instead of showing."""

from __future__ import annotations

import re
from typing import Any

# What a terminal would act on instead of showing: escape sequences (CSI such as colours and cursor
# moves, OSC such as window titles and hyperlinks up to BEL or ST, DCS/SOS/PM/APC strings, other
# two-character escapes and a lone ESC), the 8-bit CSI, and every other C0 or C1 control character
# except tab and newline (carriage return, backspace and bell included).
CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[PX^_][^\x1b]*\x1b\\"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def clean(value: Any) -> str:
    """``str(value)`` made safe to show in a terminal: escape sequences and control characters (but tab
    and newline) removed.

    Rich markup needs no escaping: :func:`print_table`'s console does not read markup, and click
    prints text as it is. (Clean before making a rich ``Text``, which drops some controls itself.)
    """
    return CONTROL.sub("", str(value))
