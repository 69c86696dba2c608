"""Where a query's words occur in a hit, when no tokenizer is loaded: shared substrings."""

from __future__ import annotations

import re
import unicodedata

_WORDISH = re.compile(r"[\u3400-\u9fff0-9A-Za-z]")


def shared_substrings(query: str, text: str, min_chars: int = 2) -> list[tuple[int, int]]:
    """Non-overlapping spans of ``text`` that also occur in ``query`` (longest first, ≥ ``min_chars``)."""
    query = unicodedata.normalize("NFKC", query).lower()
    # Fold width per character so that offsets into ``text`` stay valid.
    folded = "".join(c if len(f := unicodedata.normalize("NFKC", c).lower()) != 1 else f for c in text)
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(folded):
        if not _WORDISH.match(folded[i]):
            i += 1
            continue
        length = 0
        while i + length < len(folded) and _WORDISH.match(folded[i + length]) and folded[i : i + length + 1] in query:
            length += 1
        if length >= min_chars:
            spans.append((i, i + length))
            i += length
        else:
            i += 1
    return spans
