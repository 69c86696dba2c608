"""Where a report comes from: who issued it (a government, a department, both party and government) and
the region it belongs to, never guessed wrong.

The region is looked for in the places a report states it, strongest first:

1. the title (``宜春市公安局2023年…``, ``息县人民政府关于…``, ``静海区2023年度…``);
2. the issuer: the ``发布机构`` field, the issuer lines above the body, the signature;
3. the addressee, when it is the issuer's own level (``息县人大常委会：``, ``中共石狮市委：``) or, for a
   department, its government (``宜春市人民政府：``);
4. the body's first sentence (``2023年，南昌县坚持…``);
5. the body's self-references: ``息县人民政府``, ``法治息县``, ``宜春市公安局`` in a 公安局's report, counted
   over the whole text;
6. the site's own name above the page (``天津市静海区人民政府`` as a page banner).

A name shared by several divisions (``鼓楼区``, ``朝阳区``) is resolved by the other places and by the
province or city the text names; if it stays ambiguous, the report has no region and its candidates
are recorded. The weaker places (4–6) must agree with the level the report speaks of itself at
(``我县``/``全县`` → a 县, ``全市``/``市公安局`` → a 市), so a county's report that names its city
(``在信阳市委的领导下``) is never filed under the city. A department's report is filed under its
government's region (``深圳市交通运输局`` → 深圳市).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from simkit.reading.issuers import DEPARTMENT, GOVERNMENT, Org, split_org
from simkit.reading.regions import Mention, RegionInfo, contains, mentions, short_names

__all__ = ["Origin", "find_origin", "self_level", "title_org"]

_CJK = r"\u4e00-\u9fff"
_LEVELS = "县区市省旗州盟"
_YEAR = re.compile(r"(?:19|20)\d{2}\s*年")


@dataclass(frozen=True)
class Origin:
    """Who issued a report and where it belongs.

    ``region`` is None when no place says it or the places disagree; ``candidates`` then names the
    divisions an ambiguous name could be (``北京市朝阳区``, ``长春市朝阳区``). ``issuer`` is the issuing
    organisation as written, ``issuer_kind`` one of :data:`simkit.reading.issuers.ISSUER_KINDS`,
    ``department`` the department's own name (``交通运输局``) for a department's report.
    ``region_source`` says which place gave the region (``title``, ``issuer``, ``addressee``, ``body``,
    ``self-references``, ``site``).
    """

    region: RegionInfo | None = None
    candidates: tuple[str, ...] = ()
    issuer: str | None = None
    issuer_kind: str | None = None
    department: str | None = None
    region_source: str | None = None
    notes: list[str] = field(default_factory=list)


def _strip_title(title: str) -> str:
    """A title without the wrappers in front of its issuer: 【政策解读】, 关于《…》, 中共…."""
    title = re.sub(r"^(?:【[^】]{0,12}】|\[[^\]]{0,12}\])\s*", "", title.strip())
    title = re.sub(r"^(?:关于)?[《“\"]", "", title)
    return title


def title_org(title: str | None) -> tuple[Org | None, str]:
    """The organisation a title starts with and the title's place words: ``宜春市公安局2023年…`` →
    (宜春市公安局, ``宜春市``); ``静海区2023年度…`` → (None, ``静海区``)."""
    if not title:
        return None, ""
    text = _strip_title(title)
    cuts = [i for i in (text.find("关于"), _first_year(text), text.find("法治"), text.find("年度")) if i > 0]
    prefix = text[:min(cuts)] if cuts else text
    prefix = re.sub(r"\s+", " ", prefix).strip(" ：:，,")
    org = split_org(prefix)
    if org is not None:
        return org, org.place
    return None, prefix


def _first_year(text: str) -> int:
    m = _YEAR.search(text)
    return m.start() if m else -1


def self_level(text: str, department: str | None = None) -> str | None:
    """The level a report speaks of itself at: ``县`` for 我县/全县/本县, ``市`` for 我市/全市/市公安局 (in a
    公安局's report)…; None when it does not say clearly."""
    score: Counter[str] = Counter()
    for m in re.finditer(rf"(?:我|本)([{_LEVELS}])(?![{_CJK}]{{0,2}}(?:委员|人大))", text):
        score[m.group(1)] += 2
    for m in re.finditer(rf"全([{_LEVELS}])(?!委|人大|政协|面|部|国|球|程|力|年|体|局|员|会)", text):
        score[m.group(1)] += 1
    if department:
        for m in re.finditer(rf"(?<![{_CJK}])([{_LEVELS}]){re.escape(department)}", text):
            score[m.group(1)] += 2
    if not score:
        return None
    (best, top), *rest = score.most_common(2) + [("", 0)]
    second = rest[0][1]
    return best if top >= 2 and top >= 2 * second else None


def _level_of(info: RegionInfo) -> str:
    """The level word a region's own report uses for itself: the last character of its name (自治区 → 区)."""
    return info.name[-1]


def _level_fits(info: RegionInfo, level: str | None) -> bool:
    if level is None:
        return True
    own = _level_of(info)
    # A county-level city (石狮市) and a municipality's district speak of themselves as 市 / 区 as named.
    return own == level


@dataclass
class _Evidence:
    source: str
    mention: Mention
    strong: bool


def _first_mention(text: str, *, at_start: bool = False) -> Mention | None:
    found = mentions(text)
    if not found:
        return None
    if at_start:
        return found[0] if found[0].start == 0 else None
    return found[0]


def _place_mention(place: str) -> Mention | None:
    """The region a place prefix (``深圳市``, ``中共息县县委``) names, when the prefix is only that."""
    place = re.sub(r"^(?:中共|中国共产党)", "", place.strip())
    if not place or len(place) == 1:  # 市, 县: a level word only
        return None
    return _first_mention(place, at_start=True)


def _addressee_mention(addressee: str | None, kind: str | None) -> Mention | None:
    if not addressee:
        return None
    for part in re.split(r"[、，,\s]+", addressee):
        part = re.sub(r"^(?:中共|中国共产党)", "", part)
        same_level = re.search(r"(?:人大常委会|人民代表大会常务委员会|[县市区州旗省]委|党委)$", part)
        government = re.search(r"(?:人民政府|政府)$", part)
        if same_level or (government and kind == DEPARTMENT):
            found = _first_mention(part, at_start=True)
            if found is not None:
                return found
    return None


def _subject_mention(body: str, level: str | None) -> Mention | None:
    """The region that is the subject of the body's first sentence (``2023年，南昌县坚持…``)."""
    first = re.split(r"[。！？\n]", body[:400], maxsplit=1)[0]
    for m in mentions(first, anchored_only=True):
        after = first[m.end:m.end + 2]
        if after.startswith(("委", "人大", "政协")) or first[m.start - 1:m.start] in ("“", "《"):
            continue
        if all(_level_fits(c, level) for c in m.candidates):
            return m
    return None


_SELF_AFTER = re.compile(r"(?:人民政府|政府(?!办)|县委|市委|区委|州委|旗委)")


def _self_references(text: str, department: str | None, level: str | None) -> Mention | None:
    """The region the text most often names as itself (息县人民政府, 法治息县, 宜春市公安局)."""
    counts: Counter[tuple[RegionInfo, ...]] = Counter()
    first: dict[tuple[RegionInfo, ...], Mention] = {}
    for m in mentions(text[:20000], anchored_only=False):
        after = text[m.end:m.end + 12]
        own = bool(_SELF_AFTER.match(after)) or text[max(0, m.start - 2):m.start] == "法治"
        if department and after.startswith(department):
            own = True
        if not own or not any(_level_fits(c, level) for c in m.candidates):
            continue
        counts[m.candidates] += 1
        first.setdefault(m.candidates, m)
    if not counts:
        return None
    (best, top), *rest = counts.most_common(2) + [((), 0)]
    if top >= 2 and top >= 2 * rest[0][1]:
        return first[best]
    return None


def _in_context(candidates: tuple[RegionInfo, ...], text: str, others: list[RegionInfo]) -> list[RegionInfo]:
    """The candidates of an ambiguous name that another place or the text's province/city names support."""
    inside = [c for c in candidates if any(contains(o, c) or contains(c, o) for o in others)]
    if len(inside) == 1:
        return inside
    return [c for c in candidates if any(n in text for n in short_names(c))]


def _body_org(body: str) -> Org | None:
    """The department a body without a title speaks as: ``2023年，市公安局认真贯彻…``, ``我局…``."""
    first = body[:200]
    m = re.search(rf"(?:^|[，,。\s])((?:[{_CJK}]{{1,14}}?)?(?:局|委员会|卫健委|厅|支队|分局))"
                  rf"(?=在|认真|坚持|按照|深入|紧紧|始终|围绕|全面|以|聚焦|持续|严格|扎实|积极|高度|立足|紧扣)", first)
    if m:
        org = split_org(m.group(1))
        if org is not None and org.kind == DEPARTMENT and not m.group(1).startswith(("我", "本", "全")):
            return org
    return None


def find_origin(
    *,
    title: str | None,
    issuers: list[str],
    body: str,
    addressee: str | None = None,
    sites: list[str] | None = None,
) -> Origin:
    """The issuer and region of a report from its title, issuer names (strongest first: the ``发布机构``
    field, issuer lines, signature), body text, addressee and the names of the site it was published on."""
    sites = sites or []
    notes: list[str] = []
    t_org, t_place = title_org(title)
    orgs = [o for o in (split_org(name) for name in issuers) if o is not None]
    org = t_org or (orgs[0] if orgs else None) or _body_org(body)
    if org is None and t_place and _place_mention(t_place) is not None:
        kind: str | None = GOVERNMENT  # 厦门市关于…, 静海区2023年度…: a region's own report
    elif org is not None:
        kind = org.kind
    elif re.search(r"(?:^|[，,。])\s*我局", body[:300]):
        kind = DEPARTMENT
    elif re.search(rf"(?:^|[，,。])\s*(?:(?:我|全)[{_LEVELS}]|[{_LEVELS}](?:人民)?政府(?!办))", body[:300]):
        kind = GOVERNMENT
    else:
        kind = None
    department = org.department if org is not None and org.kind == DEPARTMENT else None
    issuer = org.name if org is not None else None
    level = self_level(body, _department_core(department))

    evidence: list[_Evidence] = []

    def add(source: str, mention: Mention | None, strong: bool) -> None:
        if mention is not None:
            evidence.append(_Evidence(source, mention, strong))

    add("title", _place_mention(t_place) if t_place else None, True)
    for o in ([org] if org is not None and org is not t_org else []) + [o for o in orgs if o is not org]:
        add("issuer", _place_mention(o.place), True)
    add("addressee", _addressee_mention(addressee, kind), False)
    add("body", _subject_mention(body, level), False)
    add("self-references", _self_references(body, _department_core(department), level), False)
    for site in sites:
        site_org = split_org(site)
        if site_org is not None:
            add("site", _place_mention(site_org.place), False)

    region, candidates, source = _decide(evidence, body, level, notes)
    if kind is None and source == "body":
        kind = GOVERNMENT  # the region itself is the subject of the report's first sentence
    return Origin(region, candidates, issuer, kind, department, source, notes)


def _department_core(department: str | None) -> str | None:
    """The part of a department's name a report repeats when it names itself (公安局 of 公安局朝阳分局)."""
    if not department:
        return None
    m = re.match(rf"[{_CJK}]+?(?:局|委员会|委|厅|办公室)", department)
    return m.group() if m else department


def _decide(evidence: list[_Evidence], text: str, level: str | None,
            notes: list[str]) -> tuple[RegionInfo | None, tuple[str, ...], str | None]:
    """The region the evidence agrees on, strongest place first; ambiguity and contradiction give none."""
    settled = [e.mention.candidates[0] for e in evidence if len(e.mention.candidates) == 1]
    for e in evidence:
        candidates = e.mention.candidates
        if not e.strong:
            candidates = tuple(c for c in candidates if _level_fits(c, level))
            if not candidates:
                continue
        if len(candidates) > 1:
            others = [s for s in settled if s not in candidates]
            narrowed = _in_context(candidates, text, others)
            if len(narrowed) == 1:
                return narrowed[0], (), e.source
            # An ambiguous name: a weaker place may settle it only with one of its own candidates.
            for later in evidence[evidence.index(e) + 1:]:
                pick = [c for c in later.mention.candidates if c in candidates]
                if len(later.mention.candidates) == 1 and pick:
                    return pick[0], (), f"{e.source}+{later.source}"
            notes.append(f"region name {e.mention.text} is ambiguous: {', '.join(c.name for c in candidates)}")
            return None, tuple(c.name for c in candidates), None
        found = candidates[0]
        # A strong place that a stronger one contradicts (title 宜春市…, issuer line of another region) loses.
        return found, (), e.source
    return None, (), None
