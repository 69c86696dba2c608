"""Search filters (province, region, year, admin code, role, boilerplate) turned into allowed vector rows.

A :class:`Filters` is resolved against an index's store with one SQL query into the sorted
vector rows of the units it admits; :func:`simkit.store.vectors.search_vectors` then searches only
those rows, so filtering happens inside the nearest-neighbour search, not after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from simkit.errors import QueryError
from simkit.reading.records import ROLES
from simkit.store.database import Store

__all__ = ["Filters", "allowed_rows", "unknown_names"]

UNKNOWN_REGION = "unknown"  # how a report without a detected region is named in results


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


@dataclass(frozen=True)
class Filters:
    """What a search may return; the default admits every unit that is not boilerplate.

    - ``provinces``: report province, forgiving (``福建`` matches ``福建省``);
    - ``regions`` / ``exclude_regions``: report region as shown in results (``石狮市``,
      ``泉州市泉港区``, ``unknown``); short forms that resolve uniquely (``石狮``) work too;
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

    def __post_init__(self) -> None:
        fix = object.__setattr__
        fix(self, "provinces", _names(self.provinces, "provinces"))
        fix(self, "regions", _names(self.regions, "regions"))
        fix(self, "exclude_regions", _names(self.exclude_regions, "exclude_regions"))
        fix(self, "years", _years(self.years))
        fix(self, "since", _year(self.since, "since"))
        fix(self, "until", _year(self.until, "until"))
        fix(self, "adcode_prefix", _adcode(self.adcode_prefix))
        roles = tuple(dict.fromkeys(role.strip().lower() for role in _names(self.roles, "roles")))
        unknown = [role for role in roles if role not in ROLES]
        if unknown:
            raise QueryError(f"--role {', '.join(unknown)}: unknown role; use one of {', '.join(ROLES)}")
        fix(self, "roles", roles)
        fix(self, "include_boilerplate", bool(self.include_boilerplate))
        if self.since is not None and self.until is not None and self.since > self.until:
            raise QueryError(f"--since {self.since} is after --until {self.until}; no report can match")

    @property
    def is_empty(self) -> bool:
        """True when no filter narrows the search (the boilerplate setting does not count)."""
        return not (self.provinces or self.regions or self.exclude_regions or self.years
                    or self.since is not None or self.until is not None or self.adcode_prefix or self.roles)

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


_REGION = f"COALESCE(NULLIF(d.region, ''), '{UNKNOWN_REGION}')"


def where_clause(filters: Filters) -> tuple[str, list[Any]]:
    """The SQL condition over ``paragraphs p JOIN documents d`` and its parameters."""
    conditions: list[str] = []
    params: list[Any] = []
    if filters.provinces:
        conditions.append(_in("d.province", _expand(filters.provinces, _province_names), params))
    if filters.regions:
        conditions.append(_in(_REGION, _expand(filters.regions, _region_names), params))
    if filters.exclude_regions:
        conditions.append(_in(_REGION, _expand(filters.exclude_regions, _region_names), params, negate=True))
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
    where, params = where_clause(filters)
    return store.rows_where(where, params)


def unknown_names(store: Store, filters: Filters) -> list[str]:
    """Provinces and regions named in ``filters`` that no report in the index has, as given.

    Lets a caller warn "no report from region X in this index"; such names simply match nothing.
    """
    provinces = {p for p in store.document_values("province") if p}
    regions = {r or UNKNOWN_REGION for r in store.document_values("region")}
    missing = [name for name in filters.provinces if not provinces.intersection(_province_names(name))]
    for name in (*filters.regions, *filters.exclude_regions):
        if not regions.intersection(_region_names(name)) and name not in missing:
            missing.append(name)
    return missing
