"""Search filters (province, region, year, admin code, issuer, report kind, role, boilerplate) turned into allowed
vector rows.

A :class:`Filters` is resolved against an index's store with one SQL query into the sorted
vector rows of the units it admits; :func:`simkit.store.vectors.search_vectors` then searches only
those rows, so filtering happens inside the nearest-neighbour search, not after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from simkit.errors import QueryError
from simkit.reading.issuers import ISSUER_KINDS
from simkit.reading.records import REPORT_KINDS, ROLES
from simkit.store.database import Store

__all__ = ["Filters", "allowed_rows", "unknown_names"]

UNKNOWN_REGION = "unknown"  # the region filter value that selects reports whose region is unknown


def _names(value: Iterable[str] | str | None, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, str) and (not isinstance(value, Iterable) or isinstance(value, bytes | bytearray)):
        raise QueryError(f"{what} filter {value!r}: give a name or a list of names")
    items = [value] if isinstance(value, str) else list(value)
    cleaned = (re.sub(r"\s+", "", str(item)) for item in items)
    return tuple(dict.fromkeys(item for item in cleaned if item))


def _years(value: Iterable[int] | int | None) -> tuple[int, ...]:
    if value is None:
        return ()
    try:
        items = [value] if isinstance(value, (int, str)) else list(value)
        return tuple(sorted({int(item) for item in items}))
    except (TypeError, ValueError) as exc:
        raise QueryError(f"year filter {value!r}: give years as numbers such as 2023") from exc


def _year(value: int | str | None, what: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise QueryError(f"--{what} {value!r}: give a year such as 2023") from exc


def _adcode(value: str | int | None) -> str | None:
    if value is None:
        return None
    code = str(value).strip()
    if not code:
        return None
    if not code.isdigit() or len(code) > 6:
        raise QueryError(f"--adcode {value!r}: give the leading digits of a 6-digit admin code, e.g. 3505")
    # Trailing 00 pairs stand for "the whole province/city": 350500 covers 3505xx.
    while len(code) > 2 and len(code) % 2 == 0 and code.endswith("00"):
        code = code[:-2]
    return code


OPTION_FIELDS = {
    "province": "provinces", "region": "regions", "exclude_region": "exclude_regions", "year": "years",
    "since": "since", "until": "until", "adcode": "adcode_prefix", "role": "roles",
    "include_boilerplate": "include_boilerplate", "issuer_kind": "issuer_kinds", "issuer": "issuers",
    "report_kind": "report_kinds",
}
"""The name of each filter as a CLI option (``--exclude-region``) and HTTP parameter, and its field."""


@dataclass(frozen=True)
class Filters:
    """What a search may return; the default admits every unit that is not boilerplate.

    - ``provinces``: report province, forgiving (``福建`` matches ``福建省``);
    - ``regions`` / ``exclude_regions``: report region (``石狮市``, ``泉州市泉港区``; short forms that resolve
      uniquely, ``石狮``, work too), which takes in the region's departments' reports, or a name as results
      show it (``深圳市 · 交通运输局``, ``县民政局 [doc-1a2b3c4d5e]``); ``unknown`` stands for every report
      whose region is unknown (each is shown on its own, never grouped with another);
    - ``issuer_kinds``: ``government``, ``department`` or ``party-government``;
    - ``issuers``: part of the issuer's name (``司法局``, ``深圳市交通运输局``);
    - ``report_kinds``: ``report`` (annual reports), ``interpretation``, ``plan``, ``other``;
    - ``years``, ``since``, ``until``: the year the report covers (inclusive bounds);
    - ``adcode_prefix``: leading digits of the region's admin code (``3505`` = 泉州市 and its
      counties; ``350500`` is read as ``3505``);
    - ``roles``: paragraph roles among :data:`simkit.reading.records.ROLES`;
    - ``include_boilerplate``: also admit generic formula passages.

    Several values of one field are alternatives; different fields must all hold. Lists and
    single strings are accepted and stored as tuples.
    """

    provinces: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    exclude_regions: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    since: int | None = None
    until: int | None = None
    adcode_prefix: str | None = None
    roles: tuple[str, ...] = ()
    include_boilerplate: bool = False
    issuer_kinds: tuple[str, ...] = ()
    issuers: tuple[str, ...] = ()
    report_kinds: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        fix = object.__setattr__
        fix(self, "provinces", _names(self.provinces, "provinces"))
        fix(self, "regions", _names(self.regions, "regions"))
        fix(self, "exclude_regions", _names(self.exclude_regions, "exclude_regions"))
        fix(self, "years", _years(self.years))
        fix(self, "since", _year(self.since, "since"))
        fix(self, "until", _year(self.until, "until"))
        fix(self, "adcode_prefix", _adcode(self.adcode_prefix))
        for name, allowed, flag, what in (("roles", ROLES, "role", "role"),
                                          ("issuer_kinds", ISSUER_KINDS, "issuer-kind", "kind"),
                                          ("report_kinds", REPORT_KINDS, "report-kind", "kind")):
            values = tuple(dict.fromkeys(v.strip().lower() for v in _names(getattr(self, name), name)))
            bad = [v for v in values if v not in allowed]
            if bad:
                raise QueryError(f"--{flag} {', '.join(bad)}: unknown {what}; use one of {', '.join(allowed)}")
            fix(self, name, values)
        fix(self, "issuers", _names(self.issuers, "issuers"))
        fix(self, "include_boilerplate", bool(self.include_boilerplate))
        if self.since is not None and self.until is not None and self.since > self.until:
            raise QueryError(f"--since {self.since} is after --until {self.until}; no report can match")

    @classmethod
    def from_options(cls, values: Mapping[str, Any]) -> Filters:
        """Filters from values named as the CLI's options and the HTTP parameters (``province``,
        ``exclude_region``, ``adcode``, ``issuer_kind``…); absent names filter nothing."""
        return cls(**{field: values[option] for option, field in OPTION_FIELDS.items()
                      if values.get(option) is not None})

    @property
    def is_empty(self) -> bool:
        """True when no filter narrows the search (the boilerplate setting does not count)."""
        return not (self.provinces or self.regions or self.exclude_regions or self.years
                    or self.since is not None or self.until is not None or self.adcode_prefix or self.roles
                    or self.issuer_kinds or self.issuers or self.report_kinds)

    def describe(self) -> str:
        """A short human-readable summary, e.g. ``province 福建; year ≥ 2022; role plan``."""
        parts = []
        if self.provinces:
            parts.append("province " + ", ".join(self.provinces))
        if self.regions:
            parts.append("region " + ", ".join(self.regions))
        if self.exclude_regions:
            parts.append("not " + ", ".join(self.exclude_regions))
        if self.years:
            parts.append("year " + ", ".join(map(str, self.years)))
        if self.since is not None and self.until is not None:
            parts.append(f"years {self.since}–{self.until}")
        elif self.since is not None:
            parts.append(f"year ≥ {self.since}")
        elif self.until is not None:
            parts.append(f"year ≤ {self.until}")
        if self.adcode_prefix:
            parts.append(f"adcode {self.adcode_prefix}*")
        if self.roles:
            parts.append("role " + ", ".join(self.roles))
        if self.issuer_kinds:
            parts.append("issuer kind " + ", ".join(self.issuer_kinds))
        if self.issuers:
            parts.append("issuer " + ", ".join(self.issuers))
        if self.report_kinds:
            parts.append("report kind " + ", ".join(self.report_kinds))
        if self.include_boilerplate:
            parts.append("boilerplate included")
        return "; ".join(parts) if parts else "no filters"

    def to_dict(self) -> dict[str, Any]:
        """The filters as plain JSON-able values."""
        data = asdict(self)
        return {key: list(value) if isinstance(value, tuple) else value for key, value in data.items()}


def _province_names(name: str) -> list[str]:
    """The stored province names a user's province may mean (``福建`` → ``福建``, ``福建省``)."""
    from simkit.reading.regions import lookup

    names = [name]
    info = lookup(name)
    if info is not None and info.level == "province" and info.province not in names:
        names.append(info.province)
    return names


def _region_names(name: str) -> list[str]:
    """The stored region names a user's region may mean (``石狮`` → ``石狮``, ``石狮市``)."""
    from simkit.reading.regions import lookup

    names = [name]
    info = lookup(name)
    if info is not None and info.level != "province" and info.name not in names:
        names.append(info.name)
    return names


def _expand(names: Iterable[str], how: Any) -> list[str]:
    return list(dict.fromkeys(alias for name in names for alias in how(name)))


def _in(column: str, values: list[Any], params: list[Any], negate: bool = False) -> str:
    params.extend(values)
    return f"{column} {'NOT IN' if negate else 'IN'} ({','.join('?' * len(values))})"


def _region_condition(names: Iterable[str], params: list[Any], reporter: str, negate: bool = False) -> str:
    """Reports of these regions (with their departments'), shown as these names, or of an unknown region."""
    names = list(names)
    parts = []
    if UNKNOWN_REGION in names:
        parts.append("(d.region IS NULL OR d.region = '')")
    known = _expand([n for n in names if n != UNKNOWN_REGION], _region_names)
    if known:
        parts.append(_in("d.region", known, params))
        parts.append(_in(f"replace({reporter}, ' ', '')", known, params))  # names lose their spaces (_names)
    condition = "(" + " OR ".join(parts) + ")"
    return f"NOT COALESCE({condition}, 0)" if negate else condition


def where_clause(filters: Filters, reporter: str = "d.reporter",
                 columns: frozenset[str] | None = None) -> tuple[str, list[Any]]:
    """The SQL condition over ``paragraphs p JOIN documents d`` and its parameters.

    ``reporter`` is the SQL of the name results show (:attr:`simkit.store.database.Store.reporter_sql`);
    ``columns`` the store's ``documents`` columns (a store of an older simkit has no issuer kinds: an
    issuer-kind or report-kind filter then matches nothing, a report-kind filter ``report`` everything).
    """
    conditions: list[str] = []
    params: list[Any] = []
    has = (lambda name: True) if columns is None else columns.__contains__
    if filters.provinces:
        conditions.append(_in("d.province", _expand(filters.provinces, _province_names), params))
    if filters.regions:
        conditions.append(_region_condition(filters.regions, params, reporter))
    if filters.exclude_regions:
        conditions.append(_region_condition(filters.exclude_regions, params, reporter, negate=True))
    if filters.years:
        conditions.append(_in("d.year", list(filters.years), params))
    if filters.since is not None:
        conditions.append("d.year >= ?")
        params.append(filters.since)
    if filters.until is not None:
        conditions.append("d.year <= ?")
        params.append(filters.until)
    if filters.adcode_prefix:
        conditions.append("substr(d.adcode, 1, ?) = ?")
        params.extend([len(filters.adcode_prefix), filters.adcode_prefix])
    if filters.issuer_kinds:
        conditions.append(_in("d.issuer_kind", list(filters.issuer_kinds), params) if has("issuer_kind") else "0")
    if filters.issuers:
        fields = [f for f in ("d.issuer", "d.department") if f == "d.issuer" or has("department")]
        alternatives = []
        for name in filters.issuers:
            for f in fields:
                alternatives.append(f"instr(COALESCE({f}, ''), ?) > 0")
                params.append(name)
        conditions.append("(" + " OR ".join(alternatives) + ")")
    if filters.report_kinds:
        if has("report_kind"):
            conditions.append(f"COALESCE(d.report_kind, 'report') IN ({','.join('?' * len(filters.report_kinds))})")
            params.extend(filters.report_kinds)
        elif "report" not in filters.report_kinds:
            conditions.append("0")
    if filters.roles:
        conditions.append(_in("p.role", list(filters.roles), params))
    if not filters.include_boilerplate:
        conditions.append("p.boilerplate = 0")
    return " AND ".join(conditions) or "1", params


def allowed_rows(store: Store, filters: Filters) -> np.ndarray | None:
    """Sorted int64 vector rows of the indexed units that ``filters`` admit.

    ``None`` when nothing restricts the search (no filter and boilerplate included); an empty
    array when nothing matches.
    """
    if filters.is_empty and filters.include_boilerplate:
        return None
    where, params = where_clause(filters, store.reporter_sql, store.columns)
    return store.rows_where(where, params)


def unknown_names(store: Store, filters: Filters) -> list[str]:
    """Provinces and regions named in ``filters`` that no report in the index has, as given.

    Lets a caller warn "no report from region X in this index"; such names simply match nothing.
    """
    provinces = {p for p in store.document_values("province") if p}
    regions = {r or UNKNOWN_REGION for r in store.document_values("region")}
    regions |= {str(d["reporter"]).replace(" ", "") for d in store.documents()}
    missing = [name for name in filters.provinces if not provinces.intersection(_province_names(name))]
    for name in (*filters.regions, *filters.exclude_regions):
        if not regions.intersection(_region_names(name)) and name not in missing:
            missing.append(name)
    return missing
