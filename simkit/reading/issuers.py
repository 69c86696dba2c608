"""Who issued a report: a government, one of its departments, or the party committee and government jointly.

Rule-of-law reports are published by a government (``息县人民政府``), jointly by its party committee
and government (``中共四平市委 四平市人民政府``), or by one of the government's departments
(``深圳市交通运输局``, ``杭州市公安局``, ``张掖市卫生健康委员会``, a ``分局``…). A department's
report belongs to its government's region; its department name is kept on its own (``交通运输局``)
for filtering and display (``深圳市 · 交通运输局``).

:func:`split_org` cuts an organisation name into the region words in front (``深圳市``, ``市``, or
nothing) and what follows, and says which kind of issuer it is. It does not look the region up:
:mod:`simkit.reading.regions` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from simkit.reading.regions import chain_length

__all__ = ["GOVERNMENT", "DEPARTMENT", "ISSUER_KINDS", "PARTY_GOVERNMENT", "Org", "split_org"]

GOVERNMENT = "government"
DEPARTMENT = "department"
PARTY_GOVERNMENT = "party-government"
#: The kinds of issuer, as ``Report.issuer_kind`` records them (None: not found).
ISSUER_KINDS = (GOVERNMENT, DEPARTMENT, PARTY_GOVERNMENT)

_CJK = r"\u4e00-\u9fff"
# Place words a name can end in (province, prefecture, county, district, banner…), used to cut the
# region words off the front of an organisation name without the division table.
_PLACE_END = r"(?:特别行政区|自治区|自治州|自治县|自治旗|新区|林区|特区|矿区|省|市|县|区|旗|州|盟)"
_PLACE_WORD = re.compile(rf"[{_CJK}]{{1,12}}?{_PLACE_END}")
_GOVERNMENT = re.compile(r"^(?:人民政府|政府)$")
_PARTY = re.compile(rf"^(?:中共|中国共产党)?[{_CJK}]{{0,20}}?(?:省委|市委|县委|区委|州委|旗委|盟委|党委|委员会)$")
# What a department's name ends in: 司法局, 卫生健康委员会, 卫健委, 人民政府办公室, 消防救援支队…
_DEPARTMENT_END = re.compile(
    r"(?:分局|局|委员会|委|厅|办公室|办公厅|办|中心|支队|大队|署|人民法院|人民检察院|管委会|管理处)$"
)
# Names ending like a department that are not a government's departments: party committees, the
# people's congress and its standing committee, the CPPCC.
_NOT_DEPARTMENT = re.compile(
    r"(?:^|[省市县区州旗盟])(?:委|党委|党工委|纪委|人大常委会|人大|常委会|人民代表大会常务委员会|政协|政法委)$|"
    r"^(?:人大常委会|常委会|人民代表大会常务委员会|政协|党委)$"
)


@dataclass(frozen=True)
class Org:
    """An organisation name cut in two: ``place`` (the region words in front: ``深圳市``, ``市``, or ``""``)
    and ``department`` (``交通运输局``; None for a government); ``kind`` is one of :data:`ISSUER_KINDS`."""

    name: str
    place: str
    department: str | None
    kind: str


def _place_split(name: str) -> tuple[str, str]:
    """``深圳市交通运输局`` → (``深圳市``, ``交通运输局``): the region words in front and the rest.

    Division names known to :mod:`simkit.reading.regions` are taken whole (``杭州市西湖区``); other
    place words end in a level word (``XX新区``). A level word alone stays the place: ``市公安局`` →
    (``市``, ``公安局``).
    """
    known = chain_length(name)
    if known and (_GOVERNMENT.match(name[known:]) or _is_department(name[known:])):
        return name[:known], name[known:]
    pos = 0
    while True:
        m = _PLACE_WORD.match(name, pos)
        if m is None or m.end() == len(name):
            break
        rest = name[m.end():]
        if _GOVERNMENT.match(rest) or _is_department(rest):
            pos = m.end()
            break
        if not _PLACE_WORD.match(name, m.end()):
            break
        pos = m.end()
    if pos and (_GOVERNMENT.match(name[pos:]) or _is_department(name[pos:])):
        return name[:pos], name[pos:]
    if name[:1] in "省市县区州旗" and len(name) > 1:
        return name[:1], name[1:]
    return "", name


def _is_department(rest: str) -> bool:
    return (bool(rest) and len(rest) <= 24 and bool(_DEPARTMENT_END.search(rest))
            and not _NOT_DEPARTMENT.search(rest) and not _GOVERNMENT.match(rest))


def split_org(name: str | None) -> Org | None:
    """Cut an issuer name (``宜春市公安局``, ``中共息县县委 息县人民政府``, ``天津市人力资源和社会保障局``) into its
    place and department, with its kind; None when it is not an organisation name."""
    if not name:
        return None
    name = re.sub(r"\s+", " ", name).strip()
    parts = [p for p in re.split(r"[ 、，,]+", name) if p]
    if len(parts) >= 2:  # a joint report: 中共X委 + X人民政府
        kinds = [split_org(p) for p in parts]
        party = [p for p, k in zip(parts, kinds) if k is None and _PARTY.match(p)]
        governments = [k for k in kinds if k is not None and k.kind == GOVERNMENT]
        if party and governments:
            return Org(name, governments[0].place, None, PARTY_GOVERNMENT)
        found = [k for k in kinds if k is not None]
        return found[0] if len(found) == 1 else None
    if "中共" in name and "人民政府" in name:  # 中共息县县委息县人民政府, written without a space
        head, _, tail = name.rpartition("委")
        if head and tail.endswith("人民政府"):
            gov = split_org(tail)
            if gov is not None and gov.kind == GOVERNMENT:
                return Org(name, gov.place, None, PARTY_GOVERNMENT)
    place, rest = _place_split(name)
    if _GOVERNMENT.match(rest) and place:
        return Org(name, place, None, GOVERNMENT)
    if rest.startswith("人民政府") and _is_department(rest[4:] or "x") and place:
        return Org(name, place, rest, DEPARTMENT)  # 人民政府办公室
    if _is_department(rest):
        return Org(name, place, rest, DEPARTMENT)
    return None

