"""Web-page chrome around a report: recognised, cut out of the text, and read for what it says.

Pages saved from government sites carry their site's furniture into the text: the page's date stamp
(``2019年12月3日星期二``, often glued to the first paragraph), accessibility and script switches
(``无障碍 简体|繁体``), breadcrumbs (``当前位置：首页 > 政务公开 > …``), information-disclosure tables
(``索引号 / 发文机关 / 成文日期``, with a key and its value on one line or on two), font-size and print
bars (``【字体：大 中 小】【打印】``), share buttons, and ``来源：… 发布时间：…`` bylines. This module
says which lines are chrome (:func:`is_chrome`), removes stamps and switches glued to text
(:func:`strip_glued`), and reads the fields of byline and table lines (:func:`page_fields`).
"""

from __future__ import annotations

import re

__all__ = ["FIELD_KEYS", "is_chrome", "key_only", "page_fields", "strip_glued"]

# Keys of disclosure tables and bylines, as they are written (spaces inside removed before matching).
FIELD_KEYS = (
    "索引号", "主题分类", "发布机构", "发文机关", "发文机构", "公文生成日期", "成文日期", "生成日期", "标题", "名称",
    "备注/文号", "文号", "发文字号", "发布日期", "公开日期", "来源", "有效性", "主题词", "体裁分类", "组配分类",
    "公开方式", "公开范围", "信息来源", "所属机构", "发布时间", "发布于", "发文日期", "作者", "浏览次数", "阅读次数",
    "点击数", "点击量", "访问量", "访问次数", "字体", "字号", "编辑", "责任编辑", "文章来源", "内容概述", "撰稿",
    "审核", "终审", "分享", "分享到", "时效", "来源单位", "信息名称", "生效日期", "废止日期", "关键词", "发布单位",
    "文章作者",
)  # fmt: skip
_KEYS = "|".join(sorted((re.escape(k) for k in FIELD_KEYS), key=len, reverse=True))
_SPACED_KEY = "|".join(sorted(("\\s*".join(re.escape(c) for c in k) for k in FIELD_KEYS), key=len, reverse=True))
_PAIR = re.compile(rf"(?:^|(?<=[\s|｜【\[(（]))({_SPACED_KEY})\s*[:：]\s*")
_KEY_ONLY = re.compile(rf"^[-•·*]?\s*({_SPACED_KEY})\s*[:：]?$")
_TABLE_KEY = re.compile(rf"^({_KEYS})$")

# A page's date stamp: 2019年12月3日星期二, 今天是：2024年3月5日 周二.
_STAMP = re.compile(
    r"(?:今天是\s*[:：]?\s*)?\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日\s*(?:星期|周|礼拜)[一二三四五六日天]"
)
# Accessibility, script and version switches at either end of a line. A run of them counts only when it
# holds a word that is one for sure (简体, 无障碍), so that a line ending in 精简 keeps its 简.
_SWITCH = re.compile(r"无障碍(?:浏览|阅读)?|简体(?:中文|版)?|繁体(?:中文|版)?|繁體|简|繁|"
                     r"長者模式|长者模式|关怀版|适老版|老年模式|English|EN|手机版|移动版|IPv6|IPV6")
_SWITCH_SURE = re.compile(r"无障碍|简体|繁体|繁體|长者模式|長者模式|关怀版|适老版|老年模式|English")
_SEPARATOR = re.compile(r"(\s*[|｜/·]\s*|\s+)")
_BREADCRUMB = re.compile(r"^(?:当前位置|您的位置|您现在的位置|您当前的位置|所在位置|当前页面)\s*[:：]?")
_CRUMBS = re.compile(r"^[^。，；]{0,20}(?:\s*[>»＞→]\s*[^。，；>»＞→]{1,20}){2,}$|"
                     r"^(?:首页|主页|网站首页)(?:\s*/\s*[^。，；/]{1,20}){1,}$")
_BAR = re.compile(
    r"【\s*(?:字体|字号|打印|关闭|纠错|收藏|大|中|小|默认|关闭窗口|打印本页|打印正文|返回顶部)[^】]{0,12}】|"
    r"^(?:字体|字号)\s*[:：]?\s*(?:[大中小]\s*){1,3}$|^(?:打印|关闭|收藏|打印本页|关闭窗口|返回顶部|我要纠错|纠错)$"
)
_SHARE = re.compile(
    r"^(?:分享到\s*[:：]?|分享\s*[:：]|分享$)|^(?:微信|微博|QQ空间|QQ|朋友圈|新浪微博|腾讯微博|抖音|今日头条|复制链接|\s|[|｜/·])+$"
)
_FOOTER = re.compile(r"^(?:(?:终审|责任编辑|编辑|审核|撰稿|来源)\s*[:：|]|【纠错】|robots$)")


def _strip_switches(line: str) -> str:
    parts = _SEPARATOR.split(line)
    words = parts[0::2]
    head = 0
    while head < len(words) and (not words[head] or _SWITCH.fullmatch(words[head])):
        head += 1
    tail = len(words)
    while tail > head and (not words[tail - 1] or _SWITCH.fullmatch(words[tail - 1])):
        tail -= 1
    if not any(_SWITCH_SURE.search(w) for w in words[:head] + words[tail:]):
        return line
    return "".join(parts[2 * head:2 * tail - 1]) if tail > head else ""


def strip_glued(line: str) -> str:
    """A line without the page date stamps and script/accessibility switches glued to it."""
    if _STAMP.search(line):
        line = _STAMP.sub(" ", line)
    return _strip_switches(line.strip()).strip()


def is_chrome(line: str) -> bool:
    """Whether a whole line is page furniture: a breadcrumb, a font/print bar, share buttons, a footer line."""
    if not line:
        return False
    if _BREADCRUMB.match(line) and len(line) <= 160:
        return True
    if _CRUMBS.match(line) and "。" not in line and len(line) <= 120:
        return True
    short = len(line) <= 60 and "。" not in line
    if short and (_SHARE.match(line) or _FOOTER.match(line) and len(line) <= 30):
        return True
    return bool(_BAR.search(line)) and (short or not _BAR.sub("", line).strip(" |｜"))


def key_only(line: str) -> str | None:
    """The key of a table line holding a key and no value (``• 索引号:``; the value is on the next line)."""
    m = _KEY_ONLY.match(line)
    return re.sub(r"\s+", "", m.group(1)) if m else None


def page_fields(line: str) -> dict[str, str] | None:
    """The ``key: value`` fields of a byline or table line (``来源:县司法局 发布时间:2023-11-24 浏览次数:``),
    or None when the line is not made of such fields. Empty values are left out."""
    stripped = line.strip().lstrip("-•·* ").strip()
    if stripped[:1] in "（(" and stripped[-1:] in "）)":
        stripped = stripped[1:-1].strip()
    pairs = list(_PAIR.finditer(stripped))
    fields: dict[str, str] = {}
    if pairs and pairs[0].start() == 0:
        for i, m in enumerate(pairs):
            end = pairs[i + 1].start() if i + 1 < len(pairs) else len(stripped)
            value = stripped[m.end():end].strip(" |｜【】[]()（）\t")
            value = _BAR.sub("", value).strip()
            fields.setdefault(re.sub(r"\s+", "", m.group(1)), value)
        if len(pairs) >= 2 or len(stripped) <= 160:
            return {k: v for k, v in fields.items() if v}
        return None
    cells = [c.strip() for c in re.split(r"\t|\s{2,}|[|｜]", stripped) if c.strip()]
    if len(cells) >= 2 and _TABLE_KEY.match(re.sub(r"\s+", "", cells[0])):  # a table row without colons
        for key, value in zip(cells[::2], cells[1::2]):
            key = re.sub(r"\s+", "", key)
            if not _TABLE_KEY.match(key):
                return None
            fields.setdefault(key, value)
        return {k: v for k, v in fields.items() if v}
    return None
