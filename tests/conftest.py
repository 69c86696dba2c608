"""Shared fixtures: the real default model and a real index of the example reports, built once per session."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

# Never reach a model hub from tests.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLES = PROJECT / "examples" / "reports"
# Labelled queries, initiatives and boilerplate passages on the example reports, written for the tests.
DATA = Path(__file__).resolve().parent / "data"
os.environ.setdefault("SIMKIT_MODELS_DIR", str(PROJECT / "models"))


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` imported as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, PROJECT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def embedder():
    from simkit.embedding.embedder import Embedder

    return Embedder.load()


@pytest.fixture(scope="session")
def demo_index_dir(tmp_path_factory, embedder) -> Path:
    """The example corpus indexed with the default model (built once, shared read-only)."""
    from simkit.pipeline.build import build_index

    target = tmp_path_factory.mktemp("demo") / "index"
    build_index([EXAMPLES], target)
    return target


@pytest.fixture(scope="session")
def demo_index(demo_index_dir):
    from simkit.api import open_index

    with open_index(demo_index_dir) as index:
        yield index


@pytest.fixture()
def index_copy(demo_index_dir, tmp_path) -> Path:
    """A private copy of the demo index that a test may damage."""
    target = tmp_path / "index"
    shutil.copytree(demo_index_dir, target)
    return target


# Report text that a terminal or rich would act on instead of showing (probes 9 and 10 of issue 16).
MARKUP = "“[bold]x[/]”"  # a quoted name two regions share: a cluster label
LINK = "[link=http://e]y[/link]"
CLOSING_TAG = "《y[/link]》"  # a label whose closing tag matches no open one: rich raised MarkupError
ESCAPES = "\x1b[31m红色\x1b]0;title\x07"  # a colour, then an OSC that sets the terminal's title


def write_markup_reports(folder: Path) -> Path:
    """Two small reports (石狮市 2024, 泰顺县 2023) whose measures hold :data:`MARKUP`, :data:`LINK`,
    :data:`CLOSING_TAG` and (石狮市 only, measure 7) :data:`ESCAPES`.

    Each measure is worded a little differently per region, so that none is a formula passage, and the
    shared ones form initiatives labelled by their quoted names.
    """
    common = [
        f"全面推行行政执法公示制度。推行{MARKUP}执法公示平台，{LINK}在政府网站公开执法主体、执法依据、执法程序"
        "和执法结果，全年公示执法信息一千余条，接受社会监督。",
        "深化放管服改革。推行高频政务服务事项一件事一次办，企业开办时间压缩至一个工作日以内，政务服务事项全程网办率"
        "达到百分之九十以上。",
        "推进公共法律服务体系建设。整合律师、公证、调解、法律援助等资源，建成覆盖城乡的公共法律服务网络，群众可就近"
        "获得法律咨询。",
        "加强规范性文件管理。严格执行规范性文件管理规定，开展规范性文件合法性审核和备案审查，清理废止不适应改革要求"
        "的文件，确保文件合法有效。",
        f"推进行政复议体制改革。落实{CLOSING_TAG}，行政复议案件由政府集中受理审理，依法纠正违法或不当行政行为，"
        "行政复议决定书全部网上公开。",
    ]
    folder.mkdir(parents=True, exist_ok=True)
    for n, (region, year) in enumerate((("石狮市", 2024), ("泰顺县", 2023))):
        own = [f"健全重大行政决策程序。{region}建立重大行政决策目录管理制度，落实公众参与、专家论证、风险评估、"
               "合法性审查和集体讨论决定程序。"]
        if n == 0:
            own.append(f"推进互联网加监管。{ESCAPES}建设行政执法监督平台，实现执法数据实时汇聚和动态监测，"
                       "执法问题线上预警。")
        varied = [t.replace("。", f"。{region}{('今年', '本年度')[n]}", 1) for t in common]
        measures = "\n".join(f"{i}.{t}" for i, t in enumerate(varied + own, 1))
        (folder / f"r{n}-{year}.txt").write_text(
            f"{region}{year}年法治政府建设情况报告\n"
            f"{year}年，{region}深入学习贯彻习近平法治思想，扎实推进法治政府建设，各项工作取得新进展，"
            "为经济社会高质量发展提供了有力法治保障。现将有关情况报告如下。\n"
            f"一、主要做法和成效\n（一）依法全面履行政府职能\n{measures}\n"
            "二、存在的问题\n基层执法力量仍然薄弱，执法人员专业素质有待提高。\n",
            encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def markup_index_dir(tmp_path_factory, embedder) -> Path:
    """An index of the two reports of :func:`write_markup_reports` (built once, shared read-only; ~20 s)."""
    from simkit.pipeline.build import build_index

    root = tmp_path_factory.mktemp("markup")
    target = root / "index"
    build_index([write_markup_reports(root / "reports")], target)
    return target
