"""Labels of groups of units: class-based TF-IDF over jieba words, shared programme names preferred."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

_GOVERNMENT_WORDS = (
    # Words of any measure of a rule-of-law report: they name no initiative (on top of simkit.store.lexical.STOPWORDS).
    "组织 机制 制度 体系 水平 能力 质量 作用 方式 基础 重点 领域 问题 活动 服务 管理 政府 部门",
    "单位 人员 全市 全区 全县 市级 区级 县级 全省 我省 年 月 日 次 家 件 个 余 万元 亿元",
    "多 新 好 更 共 累计 同比 增长 相关 有关 办理 实施 法治 依法 法律 行政 规范 工作 建立",
    "形成 打造 构建 创新 优化 保障 发挥 依法行政 法治政府 进行 做好 抓好 二是 三是 一是 四是",
    "五是 六是 同志 主要 负责人 领导 市委 区委 县委 市政府 区政府 县政府",
)
_EXTRA_STOPWORDS = frozenset(" ".join(_GOVERNMENT_WORDS).split())
_QUOTED = re.compile(r"“([^”]{2,16})”|《([^》]{2,30})》")
_DIGITS = re.compile(r"^[\d.%]+$")


def _words(text: str) -> list[str]:
    from simkit.store.lexical import STOPWORDS, tokenize

    return [w for w in tokenize(text, "words")
            if len(w) >= 2 and w not in STOPWORDS and w not in _EXTRA_STOPWORDS and not _DIGITS.match(w)]


def label_groups(texts: list[list[str]], regions: list[list[str]], background: Sequence[str] = (),
                 top: int = 6) -> list[tuple[str, list[str]]]:
    """A short label and keywords per group of texts, by class-based TF-IDF over jieba words.

    ``background`` (the unclustered units) is one more class, so that words common everywhere
    score low. A quoted name or a 《title》 used by at least two regions of a group is its label.
    """
    cache: dict[str, list[str]] = {}

    def words(text: str) -> list[str]:
        if text not in cache:
            cache[text] = _words(text)
        return cache[text]

    counts = [Counter(w for t in group for w in words(t)) for group in texts]
    background_counts = Counter(w for t in background for w in _words(t))
    classes = [*counts, background_counts]
    frequency: Counter[str] = Counter()
    for c in classes:
        frequency.update(c)
    average = sum(sum(c.values()) for c in classes) / max(1, len(classes))
    results = []
    for group, group_regions, c in zip(texts, regions, counts):
        total = sum(c.values()) or 1
        scores = {w: (n / total) * math.log(1 + average / frequency[w]) for w, n in c.items()}
        # Words found in several regions' texts describe the shared initiative, not one report.
        spread = {(w, r) for t, r in zip(group, group_regions) for w in words(t)}
        region_count = Counter(w for w, _ in spread)
        keywords = sorted(scores, key=lambda w: (-(region_count[w] > 1), -scores[w], w))[:top]
        quoted = Counter()
        for r in set(group_regions):
            names = {m.group(0) for t, tr in zip(group, group_regions) if tr == r for m in _QUOTED.finditer(t)}
            quoted.update(names)
        shared = sorted((q for q, n in quoted.items() if n >= 2), key=lambda q: (-quoted[q], len(q), q))
        if shared:
            label = shared[0]
            name = shared[0].strip("“”《》")
            keywords = [name] + [w for w in keywords if w != name][: top - 1]
            if len(name) <= 3 and len(keywords) > 1:  # “八五” alone says little: “八五”普法
                label += keywords[1]
        else:
            label = "、".join(keywords[:3]) or "（无标签）"
        results.append((label, keywords))
    return results


_HAN_RUN = re.compile(r"^[\u4e00-\u9fffA-Za-z]+$")
MAX_PHRASE_WORDS = 4
PHRASE_CHARS = (3, 14)
QUOTED_BONUS = 2.0


def _raw_tokens(text: str) -> list[str]:
    from simkit.store.lexical import normalize, segmenter

    return [t for t in (w.strip() for w in segmenter().cut(normalize(text))) if t]


def phrases_of(text: str) -> set[str]:
    """The candidate names in ``text``: quoted names and 《titles》 (with their marks, alone and with the word
    before or after a quoted name) and runs of 1–4 jieba words of 3–14 characters that neither begin nor end
    with a generic word and hold no digit or punctuation."""
    from simkit.store.lexical import STOPWORDS, normalize

    found = {m.group(0) for m in _QUOTED.finditer(text)}
    found |= {normalize(m.group(0)) for m in _QUOTED.finditer(text)}
    tokens = _raw_tokens(text)
    generic = STOPWORDS | _EXTRA_STOPWORDS
    # A quoted name with the word before or after it: 行政执法“三项制度”, “八五”普法.
    for i, t in enumerate(tokens):
        if t != "“":
            continue
        close = next((j for j in range(i + 1, min(len(tokens), i + 8)) if tokens[j] == "”"), None)
        if close is None:
            continue
        quoted = "".join(tokens[i:close + 1])
        before = tokens[i - 1] if i > 0 else ""
        after = tokens[close + 1] if close + 1 < len(tokens) else ""
        if _HAN_RUN.match(before) and before not in generic:
            found.add(before + quoted)
            earlier = tokens[i - 2] if i > 1 else ""
            if _HAN_RUN.match(earlier) and len(earlier + before) <= 6:
                found.add(earlier + before + quoted)
        if _HAN_RUN.match(after) and after not in generic:
            found.add(quoted + after)
    for i in range(len(tokens)):
        if tokens[i] in generic or not _HAN_RUN.match(tokens[i]):
            continue
        run = ""
        for j in range(i, min(len(tokens), i + MAX_PHRASE_WORDS)):
            if not _HAN_RUN.match(tokens[j]):
                break
            run += tokens[j]
            if len(run) > PHRASE_CHARS[1]:
                break
            if len(run) >= PHRASE_CHARS[0] and tokens[j] not in generic:
                found.add(run)
    return found


@dataclass(frozen=True)
class Name:
    """An initiative's name: the phrase its members share (``shared``), or keywords when none is shared.

    ``support`` is the number of member texts holding the phrase (0 for keywords).
    """

    label: str
    keywords: list[str]
    shared: bool
    support: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def name_groups(texts: list[list[str]], regions: list[list[str]], background: Sequence[str] = (),
                top: int = 6) -> list[Name]:
    """A distinct name per group of texts: the phrase its members share, else keywords (:func:`label_groups`).

    Candidates are :func:`phrases_of` the members found in at least two member texts of two regions; each
    scores ``coverage × log(1 + texts / texts holding it) × length``, where coverage is the share of the
    group's texts holding it and the texts counted are every group's and the ``background``'s, so that
    phrases common everywhere score low; a quoted name or 《title》 scores double. Groups are named
    largest first, each by its best phrase that neither is, contains nor lies inside an earlier group's
    name (then lengthened to the longest phrase around it with the same support); a keyword label that
    another group already carries gets its next keyword appended.
    """
    cache: dict[str, set[str]] = {}

    def candidates(text: str) -> set[str]:
        if text not in cache:
            cache[text] = phrases_of(text)
        return cache[text]

    frequency: Counter[str] = Counter()
    total = 0
    for t in [t for group in texts for t in group] + list(background):
        frequency.update(candidates(t))
        total += 1
    fallback = label_groups(texts, regions, background, top=top)
    order = sorted(range(len(texts)), key=lambda g: (-len(texts[g]), g))
    used: set[str] = set()
    names: dict[int, Name] = {}
    for g in order:
        support: Counter[str] = Counter()
        spread: dict[str, set[str]] = {}
        for t, r in zip(texts[g], regions[g]):
            for p in candidates(t):
                support[p] += 1
                spread.setdefault(p, set()).add(r)
        scored = []
        for p, n in support.items():
            if n < 2 or len(spread[p]) < 2 or any(p in u or u in p for u in used):
                continue  # not a name another initiative carries, nor one inside it or around it
            quoted = p[0] in "“《"
            score = (n / len(texts[g])) * math.log(1 + total / frequency[p]) * min(len(p), 10) * (
                QUOTED_BONUS if quoted else 1.0)
            scored.append((-score, -len(p), p))
        keywords = fallback[g][1]
        if scored:
            best = min(scored)[2]
            # A phrase inside a longer one with the same support says less: 三项制度 -> 行政执法“三项制度”.
            longer = [p for p in support if best in p and p != best and support[p] == support[best]
                      and len(spread[p]) >= 2 and not any(p in u or u in p for u in used)]
            if longer:
                best = max(longer, key=lambda p: (len(p), p))
            used.add(best)
            bare = best.strip("“”《》")
            names[g] = Name(best, [bare] + [w for w in keywords if w != bare][: top - 1], True, support[best])
            continue
        label = fallback[g][0]
        extra = [w for w in keywords if w not in label]
        while label in used and extra:
            label += "、" + extra.pop(0)
        suffix = 2
        base = label
        while label in used:
            label = f"{base}（{suffix}）"
            suffix += 1
        used.add(label)
        names[g] = Name(label, keywords, False, 0)
    return [names[g] for g in range(len(texts))]
