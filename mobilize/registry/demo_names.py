"""Names and phone numbers of the demo's people: Chinese names (Qingdao's surnames weighted as they are
common), Latin names for some residents who prefer English, unique valid Chinese mobile numbers in E.164."""
from __future__ import annotations

import random
from itertools import accumulate

import phonenumbers

# Common surnames weighted for Qingdao (national frequencies, Shandong's own names boosted: 于, 孙, 姜, 曲...).
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 10.0), ("张", 8.5), ("李", 8.0), ("刘", 6.5), ("孙", 3.5), ("杨", 3.0), ("赵", 3.0), ("于", 2.6),
    ("陈", 2.5), ("徐", 2.5), ("高", 2.3), ("姜", 1.5), ("马", 1.5), ("周", 1.5), ("宋", 1.2), ("吴", 1.2),
    ("郭", 1.2), ("朱", 1.2), ("林", 1.0), ("董", 1.0), ("韩", 1.0), ("崔", 1.0), ("胡", 0.9), ("曲", 0.8),
    ("郑", 0.8), ("黄", 0.8), ("梁", 0.7), ("曹", 0.7), ("任", 0.6), ("田", 0.6), ("冯", 0.6), ("许", 0.6),
    ("吕", 0.6), ("丁", 0.6), ("程", 0.5), ("魏", 0.5), ("侯", 0.5), ("罗", 0.5), ("何", 0.5), ("袁", 0.4),
    ("蒋", 0.4), ("谢", 0.4), ("邵", 0.4), ("范", 0.4), ("石", 0.4), ("苏", 0.4), ("卢", 0.4), ("贾", 0.4),
    ("彭", 0.4), ("唐", 0.4), ("肖", 0.4), ("孟", 0.4), ("邢", 0.4), ("薛", 0.4), ("杜", 0.4), ("隋", 0.3),
    ("毕", 0.3), ("沈", 0.3), ("辛", 0.3), ("宫", 0.3), ("纪", 0.3), ("江", 0.3), ("葛", 0.3), ("潘", 0.3),
    ("叶", 0.3), ("夏", 0.3), ("姚", 0.3), ("方", 0.3), ("白", 0.3), ("秦", 0.3), ("尹", 0.3), ("段", 0.3),
    ("郝", 0.3), ("武", 0.3), ("孔", 0.3), ("修", 0.2), ("鞠", 0.2), ("臧", 0.2), ("栾", 0.2), ("牟", 0.2),
    ("房", 0.2), ("滕", 0.2), ("初", 0.2), ("管", 0.2), ("左", 0.2), ("钟", 0.2), ("雷", 0.2), ("陶", 0.2),
    ("顾", 0.2), ("毛", 0.2), ("戴", 0.2), ("单", 0.2), ("逄", 0.1), ("矫", 0.1), ("衣", 0.1), ("仲", 0.1),
    ("欧阳", 0.05),
)
# Characters of given names (two-character names draw from a whole pool, one-character names from its start).
GIVEN_MALE = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宁浩凯健俊帆旭宇晨阳博" + "文建国志春海峰东亮成龙林新家子天泽瑞睿轩铭昊然振德永庆福兴利清云山"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞燕玲婷雪慧颖琳洁倩萍红梅兰英晶璐欣怡悦蕾琪" + "佳雯涵诗雨梦思月晓丹秀玉凤桂华"
SINGLE_GIVEN = 29  # how many leading characters of each pool make a one-character given name
SINGLE_NAME_SHARE = 0.25
# Residents who prefer English (foreign residents and returnees): Latin names for most of them.
ENGLISH_GIVEN = ("James", "Emma", "Olivia", "Liam", "Noah", "Sophia", "Daniel", "Anna", "Lucas", "Mia",
                 "David", "Sarah", "Michael", "Laura", "Thomas", "Julia", "Min-jun", "Seo-yeon", "Ji-woo",
                 "Hiroshi")
ENGLISH_FAMILY = ("Smith", "Miller", "Brown", "Wilson", "Taylor", "Anderson", "Schmidt", "Martin", "Dubois",
                  "Rossi", "Novak", "Kim", "Park", "Lee", "Tanaka", "Sato", "Jensen", "O'Brien")

# Mobile prefixes of the three carriers, weighted roughly by how common they are.
MOBILE_PREFIXES: tuple[tuple[int, float], ...] = (
    (139, 6), (138, 6), (137, 5), (136, 5), (135, 5), (134, 3), (159, 4), (158, 4), (157, 2), (152, 2),
    (151, 3), (150, 3), (188, 3), (187, 3), (183, 2), (182, 2), (178, 1), (198, 1),
    (130, 3), (131, 3), (132, 3), (155, 2), (156, 2), (185, 2), (186, 3), (176, 1), (166, 1),
    (133, 2), (153, 2), (180, 2), (181, 2), (189, 3), (177, 1), (199, 1),
)

_SURNAME_CUM = tuple(accumulate(weight for _, weight in SURNAMES))
_PREFIX_CUM = tuple(accumulate(weight for _, weight in MOBILE_PREFIXES))


def chinese_name(rng: random.Random) -> str:
    surname = rng.choices(SURNAMES, cum_weights=_SURNAME_CUM)[0][0]
    pool = GIVEN_MALE if rng.random() < 0.5 else GIVEN_FEMALE
    if rng.random() < SINGLE_NAME_SHARE:
        return surname + rng.choice(pool[:SINGLE_GIVEN])
    return surname + "".join(rng.sample(pool, 2))


def english_name(rng: random.Random) -> str:
    return f"{rng.choice(ENGLISH_GIVEN)} {rng.choice(ENGLISH_FAMILY)}"


class PhoneMaker:
    """Unique, valid Chinese mobile numbers in E.164 (+86 and 11 digits)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[int] = set()

    def __call__(self) -> str:
        while True:
            prefix = self.rng.choices(MOBILE_PREFIXES, cum_weights=_PREFIX_CUM)[0][0]
            national = prefix * 10**8 + self.rng.randrange(10**8)
            if national in self.used:
                continue
            number = phonenumbers.PhoneNumber(country_code=86, national_number=national)
            if phonenumbers.is_valid_number(number):
                self.used.add(national)
                return f"+86{national}"

