"""The demo district: Qingdao's Shinan district, its communities, sites and teams, thousands of volunteers.

`seed_demo(session, volunteers=5000, seed=2022)` writes, on top of the reference data of the first migration
(the 11 streets, the skills, the roles):

- 3 to 6 communities per street, near the street's centre;
- 2 to 5 sites per street: at least one testing site (核酸检测点: registration, queue keeping, some data entry
  and medical support) and one intersection (路口) or station (站) with civility guides, then community patrol
  posts (patrol), more testing sites and more civility posts; the registration and queue-keeping places of all
  testing sites add up to at least `MIN_TESTING_PLACES` (the district's historical order asked for 435);
- one street officer per street, the contact of all its sites;
- regular teams (one per community at least, about one team per 250 volunteers in all) and specialised
  district teams (医疗, 心理, 应急, 翻译...);
- the volunteers: Chinese names (Qingdao's surnames weighted as they are common), unique valid mobile numbers
  in E.164, homes within ~1.5 km of their community and on land, 1 or 2 teams each, skills at realistic rates,
  ~3% who read English, ~0.5% opted out, ~0.5% without coordinates and ~2% whose home is only known to the
  community (its centre, `location_approximate`).

Deterministic: everything comes from `random.Random(seed)` and a fixed registration clock, so the same call on
an empty registry gives the same rows, names, phones and coordinates on SQLite and PostgreSQL (only database
ids may differ, when sequences were not reset).

Idempotent: the demo is only written into an empty registry (no community, site, team or volunteer).
Otherwise nothing is written and the summary says why (`status` "already_seeded" when the demo district is
there, "registry_not_empty" when other data is) and counts what is there. Nothing is updated or merged.

The caller owns the transaction (commit or roll back). Rows go in with bulk Core inserts: 5,000 volunteers
take well under a second, 100,000 a few seconds on SQLite.

The phone numbers are synthetic but valid, so some belong to real people: never send SMS to the demo data
through a real provider.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import accumulate
from typing import Callable, Sequence

import phonenumbers
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from mobilize.domain.district import STREETS, StreetInfo
from mobilize.models.registry import (
    Community,
    Role,
    Site,
    SiteKind,
    SiteRole,
    Skill,
    Street,
    Team,
    Volunteer,
    volunteer_skills,
    volunteer_teams,
)

Progress = Callable[[str, int, int], None]
"""Called as progress(stage, done, total) while seeding; stages: communities, sites, site roles, teams,
volunteers, skills, memberships (volunteers in teams)."""

# ----------------------------------------------------------------------------------------------------
# Data tables
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreetPlan:
    """What the demo knows of a street: candidate communities, roads, stations, share of the volunteers."""

    communities: tuple[str, ...]
    roads: tuple[str, ...]
    stations: tuple[str, ...]
    weight: float


# Keyed by the street's slug (mobilize.domain.district.STREETS). Real Shinan names, approximately placed.
STREET_PLANS: dict[str, StreetPlan] = {
    "xianggangzhonglu": StreetPlan(
        ("香港花园社区", "五四广场社区", "东海西路社区", "福州南路社区", "山东路社区", "彰化路社区"),
        ("香港中路", "山东路", "东海西路", "福州南路", "彰化路", "南京路", "澳门路"),
        ("地铁五四广场站", "五四广场公交站"), 1.4),
    "badaxia": StreetPlan(
        ("团岛社区", "西藏路社区", "观城路社区", "四川路社区", "八大峡社区", "东平路社区"),
        ("四川路", "西藏路", "观城路", "团岛一路", "团岛二路", "东平路", "贵州路"),
        ("团岛公交总站", "八大峡广场公交站"), 0.8),
    "yunnanlu": StreetPlan(
        ("云南路社区", "单县路社区", "费县路社区", "郓城南路社区", "贵州路社区", "汶上路社区"),
        ("云南路", "单县路", "费县路", "郓城南路", "汶上路", "嘉祥路", "广州路"),
        ("青岛火车站", "费县路公交站"), 0.9),
    "zhongshanlu": StreetPlan(
        ("中山路社区", "大沽路社区", "肥城路社区", "湖南路社区", "广西路社区", "天津路社区"),
        ("中山路", "湖北路", "肥城路", "大沽路", "广西路", "湖南路", "河南路", "天津路"),
        ("栈桥公交站", "地铁人民会堂站"), 0.8),
    "jiangsulu": StreetPlan(
        ("江苏路社区", "信号山社区", "观海山社区", "大学路社区", "鱼山路社区", "黄县路社区"),
        ("江苏路", "大学路", "鱼山路", "龙口路", "黄县路", "莱阳路", "齐东路"),
        ("大学路公交站", "江苏路公交站"), 0.9),
    "badaguan": StreetPlan(
        ("太平角社区", "汇泉社区", "荣成路社区", "正阳关路社区", "山海关路社区", "武胜关路社区"),
        ("太平角一路", "荣成路", "正阳关路", "居庸关路", "韶关路", "山海关路", "武胜关路", "汇泉路", "文登路"),
        ("地铁汇泉广场站", "地铁中山公园站"), 0.7),
    "zhanshan": StreetPlan(
        ("湛山社区", "湛山二路社区", "湛山五路社区", "东海一路社区", "香港西路社区", "太平角五路社区"),
        ("湛山二路", "湛山五路", "东海一路", "香港西路", "太平角五路", "东海中路", "湛流干路"),
        ("地铁太平角公园站", "湛山寺公交站"), 1.0),
    "badahu": StreetPlan(
        ("八大湖社区", "太湖路社区", "巢湖路社区", "洪泽湖路社区", "延安三路社区", "徐州路社区"),
        ("延安三路", "太湖路", "巢湖路", "洪泽湖路", "徐州路", "镇江南路"),
        ("地铁延安三路站", "八大湖公交站"), 1.1),
    "jinmenlu": StreetPlan(
        ("金门路社区", "南京路社区", "福州路社区", "江西路社区", "闽江路社区", "漳州路社区"),
        ("金门路", "南京路", "福州路", "江西路", "闽江路", "漳州路", "燕儿岛路"),
        ("地铁江西路站", "闽江路公交站"), 1.2),
    "zhuhailu": StreetPlan(
        ("珠海路社区", "燕儿岛路社区", "东海东路社区", "海口路社区", "香港东路社区", "浮山所社区"),
        ("珠海路", "燕儿岛路", "东海东路", "海口路", "香港东路", "澳门路"),
        ("地铁燕儿岛路站", "地铁浮山所站"), 1.1),
    "jinhulu": StreetPlan(
        ("金湖路社区", "金坛路社区", "延吉路社区", "宁夏路社区", "芝泉路社区", "金寨路社区"),
        ("金湖路", "金坛路", "延吉路", "宁夏路", "芝泉路", "南京路", "金寨路"),
        ("地铁宁夏路站", "地铁芝泉路站"), 1.0),
}

# Rough shoreline of the district, so that no home or site lands in the sea: the south coast (lon, lat)
# from Tuandao past Zhanqiao, the bathing beaches, Taipingjiao, the May Fourth Square and Yan'erdao, and the
# west coast (lat, lon) on Jiaozhou Bay from Tuandao north to the Xiaogang harbour. Points must lie
# SHORE_MARGIN inland.
SOUTH_SHORE: tuple[tuple[float, float], ...] = (
    (120.280, 36.044), (120.290, 36.045), (120.300, 36.050), (120.310, 36.057), (120.318, 36.061),
    (120.325, 36.061), (120.332, 36.058), (120.340, 36.055), (120.348, 36.052), (120.355, 36.049),
    (120.362, 36.045), (120.370, 36.049), (120.378, 36.054), (120.385, 36.057), (120.395, 36.055),
    (120.405, 36.053), (120.415, 36.050), (120.425, 36.056), (120.440, 36.060),
)
WEST_SHORE: tuple[tuple[float, float], ...] = (
    (36.040, 120.282), (36.045, 120.285), (36.055, 120.293), (36.065, 120.299), (36.075, 120.305),
    (36.085, 120.310),
)
SHORE_MARGIN = 0.001  # degrees, about 100 m

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

# (code, share of volunteers); volunteers who read English always have `english`.
SKILL_RATES: tuple[tuple[str, float], ...] = (
    ("medical", 0.05), ("first_aid", 0.08), ("data_entry", 0.15), ("driving", 0.08), ("english", 0.03),
    ("sign_language", 0.01), ("psychology", 0.02), ("electrician", 0.02),
)
MEDICS_WITH_FIRST_AID = 0.7  # extra first-aid skill among medical volunteers (first aid ~10% in all)

# District-wide specialised teams, each with the skill its members usually have (None: anyone).
SPECIALISED_TEAMS: tuple[tuple[str, str | None], ...] = (
    ("市南区医疗救护志愿服务队", "medical"),
    ("市南区心理援助志愿服务队", "psychology"),
    ("市南区应急救援志愿服务队", "first_aid"),
    ("市南区外语翻译志愿服务队", "english"),
    ("市南区信息技术志愿服务队", "data_entry"),
    ("市南区交通文明志愿服务队", "driving"),
    ("市南区手语助残志愿服务队", "sign_language"),
    ("市南区电力抢修志愿服务队", "electrician"),
    ("市南区法律援助志愿服务队", None),
    ("市南区海洋环保志愿服务队", None),
    ("市南区文化宣传志愿服务队", None),
    ("市南区助老服务志愿服务队", None),
    ("市南区青年突击志愿服务队", None),
)
DEMO_MARKER_TEAM = SPECIALISED_TEAMS[0][0]  # present exactly when the demo district was seeded
# Further regular teams of a community, after its "…社区志愿服务队".
COMMUNITY_TEAM_KINDS = ("党员志愿服务队", "青年志愿服务队", "巾帼志愿服务队", "银龄志愿服务队", "平安志愿服务队",
                        "文明志愿服务队", "楼组长志愿服务队", "环境志愿服务队", "助老志愿服务队", "红马甲志愿服务队")
VOLUNTEERS_PER_TEAM = 250
VOLUNTEERS_PER_SPECIALISED_TEAM = 7500
MIN_SPECIALISED_TEAMS = 4

INTERSECTION_SHARE = 0.6  # of the civility posts; the others are stations
TESTING_VENUES = ("党群服务中心", "居委会", "文化广场", "小学操场", "体育场", "停车场")
# Registration + queue-keeping places of all testing sites together (the historical order asked for 435).
MIN_TESTING_PLACES = 480

# Rates of the volunteer population.
ENGLISH_SPEAKERS = 0.03
LATIN_NAMES_AMONG_ENGLISH = 0.6
OPTED_OUT = 0.005
WITHOUT_COORDINATES = 0.005
APPROXIMATE_HOME = 0.02
SECOND_TEAM = 0.2
SKILLED_IN_SPECIALISED_TEAM = 0.5
HOME_RADIUS_KM = (0.1, 1.5)
COMMUNITY_RADIUS_KM = (0.2, 0.9)
REGISTERED_FROM = datetime(2019, 1, 1, tzinfo=timezone.utc)
REGISTRATION_DAYS = 3 * 365
INSERT_CHUNK = 5000

_SURNAME_CUM = tuple(accumulate(weight for _, weight in SURNAMES))
_PREFIX_CUM = tuple(accumulate(weight for _, weight in MOBILE_PREFIXES))


# ----------------------------------------------------------------------------------------------------
# Summary
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoSummary:
    """What the registry holds after `seed_demo` (counted in the database, also when nothing was written)."""

    status: str  # "created", "already_seeded" (nothing written) or "registry_not_empty" (nothing written)
    message: str
    streets: int
    communities: int
    sites: dict[str, int]  # per SiteKind value
    site_roles: int
    testing_places: int  # capacity of all roles at testing sites
    teams: int
    specialised_teams: int
    volunteers: int
    opted_out: int
    without_coordinates: int
    english: int
    volunteer_skills: int  # volunteer-skill links
    memberships: int  # volunteer-team links
    officers: dict[str, tuple[str, str]] = field(default_factory=dict)  # street slug -> (name, phone)
    seconds: float = 0.0

    @property
    def created(self) -> bool:
        return self.status == "created"

    @property
    def total_sites(self) -> int:
        return sum(self.sites.values())

    def __str__(self) -> str:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(self.sites.items()))
        return (f"{self.message}: {self.streets} streets, {self.communities} communities, "
                f"{self.total_sites} sites ({kinds}; {self.testing_places} places at testing sites), "
                f"{self.teams} teams ({self.specialised_teams} specialised), {self.volunteers} volunteers "
                f"({self.opted_out} opted out, {self.without_coordinates} without coordinates, "
                f"{self.english} in English)")


# ----------------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------------


def seed_demo(session: Session, volunteers: int = 5000, seed: int = 2022,
              progress: Progress | None = None) -> DemoSummary:
    """Build the demo district in an empty registry (see the module's docstring); the caller commits."""
    if volunteers < 0:
        raise ValueError(f"volunteers must be 0 or more, not {volunteers}")
    started = time.perf_counter()
    state = registry_state(session)
    if state == "already_seeded":
        return demo_summary(session, state, "demo district already seeded, nothing written")
    if state == "registry_not_empty":
        return demo_summary(session, state, "registry already has data (not the demo), nothing written; "
                                            "the demo is seeded into an empty registry only")
    _DemoBuilder(session, random.Random(seed), progress or _no_progress).build(volunteers)
    session.flush()
    return demo_summary(session, "created", "demo district created", time.perf_counter() - started)


def registry_state(session: Session) -> str:
    """"empty", "already_seeded" or "registry_not_empty" (communities, sites, teams or volunteers exist)."""
    if session.scalar(select(Team.id).where(Team.name == DEMO_MARKER_TEAM)) is not None:
        return "already_seeded"
    for model in (Volunteer, Team, Site, Community):
        if session.scalar(select(model.id).limit(1)) is not None:
            return "registry_not_empty"
    return "empty"


def demo_summary(session: Session, status: str, message: str, seconds: float = 0.0) -> DemoSummary:
    """Counts of what the registry holds, with `status` and `message` as given."""
    def count(*where, model=Volunteer) -> int:
        return session.scalar(select(func.count()).select_from(model).where(*where))

    by_kind = session.execute(select(Site.kind, func.count()).group_by(Site.kind))
    sites = {kind.value: number for kind, number in by_kind}
    testing = select(func.coalesce(func.sum(SiteRole.capacity), 0)).join(Site).where(
        Site.kind == SiteKind.testing_site)
    return DemoSummary(
        status=status, message=message, streets=count(model=Street), communities=count(model=Community),
        sites=sites, site_roles=count(model=SiteRole), testing_places=session.scalar(testing),
        teams=count(model=Team), specialised_teams=count(Team.specialised.is_(True), model=Team),
        volunteers=count(), opted_out=count(Volunteer.opted_out_at.is_not(None)),
        without_coordinates=count(Volunteer.lat.is_(None)), english=count(Volunteer.language == "en"),
        volunteer_skills=count(model=volunteer_skills), memberships=count(model=volunteer_teams),
        officers=_officers(session), seconds=round(seconds, 3))


def _officers(session: Session) -> dict[str, tuple[str, str]]:
    rows = session.execute(select(Street.slug, Site.contact_name, Site.contact_phone).select_from(Site)
                           .join(Site.street).where(Site.contact_phone != "").order_by(Street.id, Site.id))
    officers: dict[str, tuple[str, str]] = {}
    for slug, name, phone in rows:
        officers.setdefault(slug, (name, phone))
    return officers


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


# ----------------------------------------------------------------------------------------------------
# Geography
# ----------------------------------------------------------------------------------------------------


def on_land(lat: float, lon: float) -> bool:
    """Inland of the district's rough shoreline (SOUTH_SHORE, WEST_SHORE) by SHORE_MARGIN at least."""
    return (lat >= _interpolate(SOUTH_SHORE, lon) + SHORE_MARGIN
            and lon >= _interpolate(WEST_SHORE, lat) + SHORE_MARGIN)


def _interpolate(points: Sequence[tuple[float, float]], x: float) -> float:
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


def _offset(lat: float, lon: float, km: float, bearing: float) -> tuple[float, float]:
    dlat = km * math.cos(bearing) / 111.32
    dlon = km * math.sin(bearing) / (111.32 * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def _scatter(rng: random.Random, lat: float, lon: float, radius_km: tuple[float, float],
             tries: int = 12) -> tuple[float, float]:
    """A point radius_km[0] to radius_km[1] away from (lat, lon), on land; else (lat, lon) itself."""
    for _ in range(tries):
        point = _offset(lat, lon, rng.uniform(*radius_km), rng.uniform(0.0, 2 * math.pi))
        if on_land(*point):
            return point
    return round(lat, 6), round(lon, 6)


# ----------------------------------------------------------------------------------------------------
# People: names and phones
# ----------------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------------
# The builder
# ----------------------------------------------------------------------------------------------------


@dataclass
class _Community:
    street: StreetInfo
    street_id: int
    name: str
    lat: float
    lon: float
    weight: float
    id: int = 0
    team_ids: list[int] = field(default_factory=list)


_Specialised = tuple[int, str | None]  # a specialised team: (id, skill code of its members)


@dataclass
class _Site:
    street_id: int
    community: _Community | None
    name: str
    kind: SiteKind
    address: str
    lat: float
    lon: float
    roles: dict[str, int]


class _DemoBuilder:
    def __init__(self, session: Session, rng: random.Random, progress: Progress):
        self.session, self.rng, self.progress = session, rng, progress
        self.phone = PhoneMaker(rng)
        self.street_ids = dict(session.execute(select(Street.slug, Street.id)).all())
        self.skill_ids = dict(session.execute(select(Skill.code, Skill.id)).all())
        self.role_ids = dict(session.execute(select(Role.code, Role.id)).all())
        missing = [street.slug for street in STREETS if street.slug not in self.street_ids]
        if missing:
            raise RuntimeError(f"streets missing from the database ({', '.join(missing)}): "
                               "run `mobilize db upgrade`")

    def build(self, volunteers: int) -> None:
        communities = self.insert_communities()
        self.insert_sites(communities)
        specialised = self.insert_teams(communities, volunteers)
        self.insert_volunteers(communities, specialised, volunteers)

    def insert(self, table, rows: list[dict], stage: str) -> None:
        for start in range(0, len(rows), INSERT_CHUNK):
            self.session.execute(insert(table), rows[start:start + INSERT_CHUNK])
            self.progress(stage, min(start + INSERT_CHUNK, len(rows)), len(rows))

    # Communities ---------------------------------------------------------------------------------------

    def insert_communities(self) -> list[_Community]:
        communities = [community for street in STREETS for community in self.plan_communities(street)]
        self.insert(Community.__table__, [
            {"street_id": c.street_id, "name": c.name, "lat": c.lat, "lon": c.lon} for c in communities
        ], "communities")
        ids = {(street_id, name): id_ for id_, street_id, name in
               self.session.execute(select(Community.id, Community.street_id, Community.name))}
        for community in communities:
            community.id = ids[community.street_id, community.name]
        return communities

    def plan_communities(self, street: StreetInfo) -> list[_Community]:
        plan = STREET_PLANS[street.slug]
        chosen = sorted(self.rng.sample(range(len(plan.communities)), self.rng.randint(3, 6)))
        shares = [self.rng.uniform(0.6, 1.4) for _ in chosen]
        return [_Community(street, self.street_ids[street.slug], plan.communities[index],
                           *_scatter(self.rng, street.lat, street.lon, COMMUNITY_RADIUS_KM),
                           weight=plan.weight * share / sum(shares))
                for index, share in zip(chosen, shares)]

    # Sites ---------------------------------------------------------------------------------------------

    def insert_sites(self, communities: list[_Community]) -> None:
        sites, contacts = [], {}
        for street in STREETS:
            contacts[self.street_ids[street.slug]] = (chinese_name(self.rng), self.phone())
            sites += self.plan_sites(street, [c for c in communities if c.street is street])
        _top_up_testing_places(sites)
        self.insert(Site.__table__, [self.site_row(site, contacts) for site in sites], "sites")
        ids = {(street_id, name): id_ for id_, street_id, name in
               self.session.execute(select(Site.id, Site.street_id, Site.name))}
        self.insert(SiteRole.__table__, [
            {"site_id": ids[site.street_id, site.name], "role_id": self.role_ids[code], "capacity": capacity}
            for site in sites for code, capacity in site.roles.items()
        ], "site roles")

    @staticmethod
    def site_row(site: _Site, contacts: dict[int, tuple[str, str]]) -> dict:
        name, phone = contacts[site.street_id]
        return {"street_id": site.street_id, "community_id": site.community.id if site.community else None,
                "name": site.name, "kind": site.kind, "address": site.address, "lat": site.lat,
                "lon": site.lon, "contact_name": name, "contact_phone": phone}

    def plan_sites(self, street: StreetInfo, communities: list[_Community]) -> list[_Site]:
        rng, plan = self.rng, STREET_PLANS[street.slug]
        kinds = [SiteKind.testing_site, _civility_post(rng), SiteKind.community_post, SiteKind.testing_site,
                 _civility_post(rng)][:rng.randint(2, 5)]
        pools = {
            "communities": rng.sample(communities, len(communities)),
            "patrols": rng.sample(communities, len(communities)),
            "crossings": rng.sample([(a, b) for a in plan.roads for b in plan.roads if a < b], 3),
            "stations": rng.sample(plan.stations, len(plan.stations)),
        }
        return [self.plan_site(street, kind, pools) for kind in kinds]

    def plan_site(self, street: StreetInfo, kind: SiteKind, pools: dict[str, list]) -> _Site:
        rng, roads = self.rng, STREET_PLANS[street.slug].roads
        street_id = self.street_ids[street.slug]
        if kind is SiteKind.testing_site:
            community = pools["communities"].pop()
            lat, lon = _scatter(rng, community.lat, community.lon, (0.05, 0.4))
            venue = community.name + rng.choice(TESTING_VENUES)
            address = f"青岛市市南区{rng.choice(roads)}{rng.randint(1, 120)}号{venue}"
            return _Site(street_id, community, f"{community.name}核酸检测点", kind, address, lat, lon,
                         _testing_roles(rng))
        if kind is SiteKind.community_post:
            community = pools["patrols"].pop()
            lat, lon = _scatter(rng, community.lat, community.lon, (0.05, 0.4))
            address = f"青岛市市南区{rng.choice(roads)}{rng.randint(1, 120)}号"
            return _Site(street_id, community, f"{community.name}治安巡逻岗", kind, address, lat, lon,
                         {"patrol": rng.randint(4, 10)})
        lat, lon = _scatter(rng, street.lat, street.lon, (0.1, 1.2))
        if kind is SiteKind.intersection or not pools["stations"]:
            a, b = pools["crossings"].pop()
            return _Site(street_id, None, f"{a}与{b}路口", SiteKind.intersection, f"青岛市市南区{a}与{b}交汇处",
                         lat, lon, {"civility_guide": rng.randint(2, 6)})
        station = pools["stations"].pop()
        roles = {"civility_guide": rng.randint(4, 8)}
        if rng.random() < 0.3:
            roles["patrol"] = rng.randint(2, 4)
        address = f"青岛市市南区{rng.choice(roads)}{station}出入口"
        return _Site(street_id, None, station, kind, address, lat, lon, roles)

    # Teams ---------------------------------------------------------------------------------------------

    def insert_teams(self, communities: list[_Community], volunteers: int) -> list[_Specialised]:
        """Regular teams (ids set on each community) and specialised teams, returned as (id, skill code)."""
        wanted = round(volunteers / VOLUNTEERS_PER_SPECIALISED_TEAM)
        specialised_count = min(len(SPECIALISED_TEAMS), max(MIN_SPECIALISED_TEAMS, wanted))
        target = round(volunteers / VOLUNTEERS_PER_TEAM) - specialised_count
        regular = self.plan_regular_teams(communities, target)
        rows = [{"name": name, "street_id": c.street_id, "specialised": False} for c, name in regular]
        rows += [{"name": name, "street_id": None, "specialised": True}
                 for name, _ in SPECIALISED_TEAMS[:specialised_count]]
        self.insert(Team.__table__, rows, "teams")
        ids = dict(self.session.execute(select(Team.name, Team.id)).all())
        for community, name in regular:
            community.team_ids.append(ids[name])
        return [(ids[name], skill) for name, skill in SPECIALISED_TEAMS[:specialised_count]]

    def plan_regular_teams(self, communities: list[_Community], target: int) -> list[tuple[_Community, str]]:
        extra = [0] * len(communities)
        cum_weights = list(accumulate(c.weight for c in communities))
        for _ in range(max(0, target - len(communities))):
            extra[self.rng.choices(range(len(communities)), cum_weights=cum_weights)[0]] += 1
        teams = []
        for community, count in zip(communities, extra):
            prefix = f"{community.street.name}{community.name}"
            teams.append((community, f"{prefix}志愿服务队"))
            teams += [(community, prefix + _team_kind(number)) for number in range(count)]
        return teams

    # Volunteers ----------------------------------------------------------------------------------------

    def insert_volunteers(self, communities: list[_Community], specialised: list[_Specialised],
                          count: int) -> None:
        cum_weights = list(accumulate(c.weight for c in communities))
        homes = self.rng.choices(communities, cum_weights=cum_weights, k=count)
        people = [self.person(home, specialised) for home in homes]
        self.insert(Volunteer.__table__, [row for row, _, _ in people], "volunteers")
        ids = dict(self.session.execute(select(Volunteer.phone, Volunteer.id)).all())
        self.insert(volunteer_skills, [
            {"volunteer_id": ids[row["phone"]], "skill_id": self.skill_ids[code]}
            for row, skills, _ in people for code in skills
        ], "skills")
        self.insert(volunteer_teams, [
            {"volunteer_id": ids[row["phone"]], "team_id": team_id}
            for row, _, teams in people for team_id in teams
        ], "memberships")

    def person(self, home: _Community, specialised: list[_Specialised]) -> tuple[dict, list[str], list[int]]:
        """One volunteer: (row, skill codes, team ids)."""
        rng = self.rng
        english = rng.random() < ENGLISH_SPEAKERS
        latin = english and rng.random() < LATIN_NAMES_AMONG_ENGLISH
        registered = REGISTERED_FROM + timedelta(minutes=rng.randrange(REGISTRATION_DAYS * 24 * 60))
        opted_out = registered + timedelta(days=rng.randint(1, 90)) if rng.random() < OPTED_OUT else None
        lat, lon, approximate = self.home_coordinates(home)
        row = {"name": english_name(rng) if latin else chinese_name(rng), "phone": self.phone(),
               "street_id": home.street_id, "community_id": home.id, "lat": lat, "lon": lon,
               "location_approximate": approximate, "language": "en" if english else "zh",
               "opted_out_at": opted_out, "phone_invalid": False, "provisional": False, "notes": "",
               "created_at": registered, "updated_at": opted_out or registered}
        skills = self.skills(english)
        return row, skills, self.teams(home, skills, specialised)

    def home_coordinates(self, home: _Community) -> tuple[float | None, float | None, bool]:
        draw = self.rng.random()
        if draw < WITHOUT_COORDINATES:
            return None, None, False
        if draw < WITHOUT_COORDINATES + APPROXIMATE_HOME:
            return home.lat, home.lon, True
        return (*_scatter(self.rng, home.lat, home.lon, HOME_RADIUS_KM), False)

    def skills(self, english: bool) -> list[str]:
        codes = [code for code, rate in SKILL_RATES
                 if code in self.skill_ids and (self.rng.random() < rate or (english and code == "english"))]
        if "medical" in codes and "first_aid" not in codes and self.rng.random() < MEDICS_WITH_FIRST_AID:
            codes.append("first_aid")
        return codes

    def teams(self, home: _Community, skills: list[str], specialised: list[_Specialised]) -> list[int]:
        rng = self.rng
        first = rng.choice(home.team_ids)
        matching = [team_id for team_id, skill in specialised if skill in skills]
        if matching and rng.random() < SKILLED_IN_SPECIALISED_TEAM:
            return [first, rng.choice(matching)]
        if rng.random() < SECOND_TEAM:
            second = rng.choice(home.team_ids + [team_id for team_id, skill in specialised if skill is None])
            return [first] if second == first else [first, second]
        return [first]


def _team_kind(number: int) -> str:
    if number < len(COMMUNITY_TEAM_KINDS):
        return COMMUNITY_TEAM_KINDS[number]
    return f"第{number - len(COMMUNITY_TEAM_KINDS) + 2}志愿服务分队"


def _civility_post(rng: random.Random) -> SiteKind:
    return SiteKind.intersection if rng.random() < INTERSECTION_SHARE else SiteKind.station


def _testing_roles(rng: random.Random) -> dict[str, int]:
    roles = {"registration": rng.randint(8, 14), "queue_keeping": rng.randint(14, 24)}
    if rng.random() < 0.6:
        roles["data_entry"] = rng.randint(2, 5)
    if rng.random() < 0.4:
        roles["medical_support"] = rng.randint(1, 3)
    return roles


def _top_up_testing_places(sites: list[_Site]) -> None:
    """Add queue keepers to testing sites in turn until front-desk places reach MIN_TESTING_PLACES."""
    testing = [site for site in sites if site.kind is SiteKind.testing_site]
    places = sum(site.roles["registration"] + site.roles["queue_keeping"] for site in testing)
    for number in range(max(0, MIN_TESTING_PLACES - places)):
        testing[number % len(testing)].roles["queue_keeping"] += 1
