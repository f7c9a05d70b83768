"""Reference data of the district: its 11 streets, the skills and the roles volunteers are sent to."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StreetInfo:
    name: str
    short_name: str
    name_en: str
    slug: str
    lat: float
    lon: float


# Approximate centres of the 11 sub-district offices.
STREETS: tuple[StreetInfo, ...] = (
    StreetInfo("香港中路街道", "香港中路", "Xianggang Zhonglu", "xianggangzhonglu", 36.0625, 120.3920),
    StreetInfo("八大峡街道", "八大峡", "Badaxia", "badaxia", 36.0590, 120.3010),
    StreetInfo("云南路街道", "云南路", "Yunnanlu", "yunnanlu", 36.0640, 120.3105),
    StreetInfo("中山路街道", "中山路", "Zhongshanlu", "zhongshanlu", 36.0680, 120.3190),
    StreetInfo("江苏路街道", "江苏路", "Jiangsulu", "jiangsulu", 36.0660, 120.3310),
    StreetInfo("八大关街道", "八大关", "Badaguan", "badaguan", 36.0525, 120.3520),
    StreetInfo("湛山街道", "湛山", "Zhanshan", "zhanshan", 36.0605, 120.3670),
    StreetInfo("八大湖街道", "八大湖", "Badahu", "badahu", 36.0750, 120.3600),
    StreetInfo("金门路街道", "金门路", "Jinmenlu", "jinmenlu", 36.0745, 120.3850),
    StreetInfo("珠海路街道", "珠海路", "Zhuhailu", "zhuhailu", 36.0580, 120.4180),
    StreetInfo("金湖路街道", "金湖路", "Jinhulu", "jinhulu", 36.0820, 120.3720),
)

# (code, Chinese name, English name)
SKILLS: tuple[tuple[str, str, str], ...] = (
    ("medical", "医护", "Medical"),
    ("first_aid", "急救", "First aid"),
    ("data_entry", "信息录入", "Data entry"),
    ("driving", "驾驶", "Driving"),
    ("english", "英语", "English"),
    ("sign_language", "手语", "Sign language"),
    ("psychology", "心理疏导", "Counselling"),
    ("electrician", "电工", "Electrician"),
)

# (code, Chinese name, English name, skill code or None, accepts provisional volunteers)
ROLES: tuple[tuple[str, str, str, str | None, bool], ...] = (
    ("registration", "登记", "Registration", None, False),
    ("queue_keeping", "秩序维护", "Queue keeping", None, True),
    ("data_entry", "信息录入", "Data entry", "data_entry", False),
    ("medical_support", "医疗保障", "Medical support", "medical", False),
    ("civility_guide", "文明引导", "Civility guide", None, False),
    ("patrol", "治安巡逻", "Safety patrol", None, False),
)


def find_street(name: str) -> StreetInfo | None:
    """A street by its full Chinese name, its short name (without 街道), its English name or its slug."""
    key = name.strip()
    lowered = key.lower().replace(" ", "")
    for street in STREETS:
        if key in (street.name, street.short_name) or lowered in (street.slug, street.name_en.lower().replace(" ", "")):
            return street
    return None


def street_label(street, language: str, short: bool = False) -> str:
    """How a reader of `language` names a street (a `StreetInfo` or the Street model: both have `name`,
    `short_name` and `name_en`): 八大关街道 (八大关 when `short`) in Chinese, Badaguan in English. Every table and
    page names streets through this, so one language never mixes romanised and Chinese names."""
    if language == "en":
        return street.name_en
    return street.short_name if short else street.name
