"""Traditional-script pages: detected, converted to simplified for indexing and matching, original kept for display.

Pages are published in traditional script too (official big5 copies, mirrors that convert whole
sites, sometimes leaving pinyin debris such as ``區(qū)`` behind). simkit indexes, matches and reads
metadata from simplified text, so a simplified query finds a traditional page's measures, and keeps
the original script beside it, character for character (:func:`align_original`), for display.

Conversion is OpenCC's ``t2s`` (the ``opencc`` package, a dependency). A line whose phrase conversion
would change its length is converted character by character instead, so that the simplified and the
original text always have the same length and every offset holds in both.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from simkit.errors import InputError

__all__ = ["align_original", "is_traditional", "repair_pinyin_debris", "to_simplified"]

# Characters that exist only in traditional script and are frequent in these reports (國 會 區 縣 …).
# Counting them tells a traditional page from a simplified one that quotes a few traditional names.
_TRADITIONAL_ONLY = set(
    "國會區縣員務與為發開關們這說對時動體實現應論進過還學習幾點種將從當義處構際幹歲書業產設機據規範職權責執審議導"
    "級總結計劃辦廳報層礎評價驗優勢爭樣嚴禮顯營環條傳統鄉鎮檢響視頻網絡線費聯繫維護懷讓憲認識證調監廣東遼寧龍貴陝灣門"
)
_CJK = re.compile(r"[\u4e00-\u9fff]")
# Pinyin left in parentheses after a character by a conversion tool: 區(qū), 設(shè), 數(shù).
# Only when the parenthesis holds one lowercase syllable with a tone mark right after a Chinese
# character: that is never report text.
_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ"
_PINYIN_DEBRIS = re.compile(rf"(?<=[\u4e00-\u9fff])[(（](?=[a-zü{_TONED}]*[{_TONED}])[a-zü{_TONED}]{{1,6}}[)）]")


def is_traditional(text: str) -> bool:
    """Whether a text is written in traditional script (enough traditional-only characters among its first
    5,000 Chinese characters)."""
    chars = _CJK.findall(text[:20000])[:5000]
    if len(chars) < 20:
        return False
    found = sum(1 for ch in chars if ch in _TRADITIONAL_ONLY)
    return found >= 5 and found >= 0.02 * len(chars)


def repair_pinyin_debris(text: str) -> str:
    """Remove the ``(qū)`` a converting mirror left after a character: ``區(qū)縣`` → ``區縣``."""
    return _PINYIN_DEBRIS.sub("", text)


@lru_cache(maxsize=1)
def _converter() -> Any:
    try:
        import opencc
    except ImportError as exc:  # a declared dependency; a broken install says how to mend it
        raise InputError(
            f"reading traditional-script text needs the opencc package ({exc}); install it: pip install opencc"
        ) from exc
    try:
        return opencc.OpenCC("t2s")
    except Exception:  # older bindings name the configuration file
        return opencc.OpenCC("t2s.json")


def to_simplified(text: str) -> str:
    """The text in simplified script, of exactly the same length (line by line; character by character where
    a phrase conversion would change a line's length)."""
    convert = _converter().convert
    out = []
    for line in text.split("\n"):
        converted = convert(line) if line else line
        if len(converted) != len(line):
            converted = "".join(c if len(c := convert(ch)) == 1 else ch for ch in line)
        out.append(converted)
    return "\n".join(out)


def align_original(cleaned: str, simplified_raw: str, original_raw: str) -> str:
    """The cleaned (simplified) text in the original script, character for character.

    ``simplified_raw`` and ``original_raw`` are the raw text before cleaning, converted and not (same
    length). Cleaning only drops, replaces and joins text, so each cleaned character is looked for
    forward in the simplified raw text and replaced by the original character at that place; a
    character cleaning made up (a joining space, a width-normalized mark) stays as it is.
    """
    out = []
    j = 0
    limit = len(simplified_raw)
    for ch in cleaned:
        k = simplified_raw.find(ch, j, min(limit, j + 4000))
        if k < 0:
            out.append(ch)
            continue
        out.append(original_raw[k] if len(original_raw) == limit else ch)
        j = k + 1
    return "".join(out)
