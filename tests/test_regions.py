"""Region lookup against the real administrative-division data package."""

from __future__ import annotations

import pytest

from simkit.reading.regions import RegionInfo, detect_region, lookup, province_of


@pytest.mark.parametrize(
    ("head", "name", "province", "adcode"),
    [
        ("石狮市人民政府关于2024年度法治政府建设情况的报告", "石狮市", "福建省", "350581"),
        ("泰顺县人民政府关于2023年法治政府建设年度报告", "泰顺县", "浙江省", "330329"),
        ("厦门市关于2021年法治政府建设情况的报告", "厦门市", "福建省", "350200"),
        ("中共四平市委 四平市人民政府\n2023年,四平市坚持以习近平法治思想为指导", "四平市", "吉林省", "220300"),
        ("泉州市泉港区人民政府关于2023年 法治政府建设情况的报告", "泉州市泉港区", "福建省", "350505"),
        ("福建省泉州市泉港区人民政府", "泉州市泉港区", "福建省", "350505"),
        ("北京市海淀区人民政府关于2022年法治政府建设情况的报告", "北京市海淀区", "北京市", "110108"),
    ],
)
def test_detect_region_from_title(head: str, name: str, province: str, adcode: str) -> None:
    info = detect_region(head)
    assert isinstance(info, RegionInfo)
    assert (info.name, info.province, info.adcode) == (name, province, adcode)


def test_detect_region_levels() -> None:
    county = detect_region("泉州市泉港区人民政府")
    assert county is not None and (county.level, county.city, county.county) == ("county", "泉州市", "泉港区")
    city = detect_region("四平市人民政府")
    assert city is not None and (city.level, city.city, city.county) == ("city", "四平市", None)


def test_ambiguous_district_needs_its_city() -> None:
    # 鼓楼区 exists in Fuzhou, Nanjing, Xuzhou and Kaifeng.
    assert detect_region("鼓楼区人民政府关于2023年法治政府建设情况的报告") is None
    info = detect_region("鼓楼区人民政府关于2023年法治政府建设情况的报告\n在福州市委的领导下")
    assert info is not None and info.name == "福州市鼓楼区" and info.province == "福建省"


def test_short_names_inside_ordinary_words_are_ignored() -> None:
    # 示范县 contains 范县 and 创新县 contains 新县, both real counties.
    assert detect_region("创建法治政府建设示范县,推进创新县域治理") is None
    info = detect_region("和县人民政府关于2023年法治政府建设情况的报告")
    assert info is not None and info.province == "安徽省"


def test_nothing_found() -> None:
    assert detect_region("") is None
    assert detect_region("关于法治政府建设情况的报告") is None


@pytest.mark.parametrize(
    ("name", "province"),
    [
        ("石狮市", "福建省"),
        ("泰顺县", "浙江省"),
        ("泉州市泉港区", "福建省"),
        ("泉港区", "福建省"),
        ("四平市", "吉林省"),
        ("福建", "福建省"),
        ("福建省", "福建省"),
        ("广西", "广西壮族自治区"),
        ("海淀区", "北京市"),
    ],
)
def test_province_of(name: str, province: str) -> None:
    assert province_of(name) == province


def test_province_of_unknown_or_ambiguous() -> None:
    assert province_of("不存在市") is None
    assert province_of("") is None
    assert province_of("朝阳区") is None  # Beijing and Changchun


def test_lookup_chain_must_be_consistent() -> None:
    assert lookup("泉州市泉港区") == detect_region("泉州市泉港区")
    assert lookup("厦门市泉港区") is None
