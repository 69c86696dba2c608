"""Labels of groups of units: class-based TF-IDF over jieba words, shared programme names preferred."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

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
