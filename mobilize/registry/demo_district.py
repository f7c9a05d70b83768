"""The plan of the demo district's places, drawn from the seeded RNG without a database: each street's
communities (near its centre) and its sites (testing sites, intersections, stations, community patrol posts)
with the places of each role. `demo_builder` writes them."""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from mobilize.domain.district import StreetInfo
from mobilize.models.registry import SiteKind
from mobilize.registry.demo_geography import scatter


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

COMMUNITY_RADIUS_KM = (0.2, 0.9)
INTERSECTION_SHARE = 0.6  # of the civility posts; the others are stations
TESTING_VENUES = ("党群服务中心", "居委会", "文化广场", "小学操场", "体育场", "停车场")
# Registration + queue-keeping places of all testing sites together (the historical order asked for 435).
MIN_TESTING_PLACES = 480


@dataclass
class DemoCommunity:
    """A community of the plan; `id` and `team_ids` are set once it and its teams are written."""

    street: StreetInfo
    street_id: int
    name: str
    lat: float
    lon: float
    weight: float
    id: int = 0
    team_ids: list[int] = field(default_factory=list)



@dataclass
class DemoSite:
    """A site of the plan with its places per role code."""

    street_id: int
    community: DemoCommunity | None
    name: str
    kind: SiteKind
    address: str
    lat: float
    lon: float
    roles: dict[str, int]


def plan_communities(rng: random.Random, street: StreetInfo, street_id: int) -> list[DemoCommunity]:
    """3 to 6 of the street's communities near its centre, each with its share of the volunteers."""
    plan = STREET_PLANS[street.slug]
    chosen = sorted(rng.sample(range(len(plan.communities)), rng.randint(3, 6)))
    shares = [rng.uniform(0.6, 1.4) for _ in chosen]
    return [DemoCommunity(street, street_id, plan.communities[index],
                          *scatter(rng, street.lat, street.lon, COMMUNITY_RADIUS_KM),
                          weight=plan.weight * share / sum(shares))
            for index, share in zip(chosen, shares)]


def plan_sites(rng: random.Random, street: StreetInfo, street_id: int,
               communities: list[DemoCommunity]) -> list[DemoSite]:
    """2 to 5 sites of the street, in this order: a testing site, a civility post (intersection or station),
    a community patrol post, a testing site, a civility post."""
    plan = STREET_PLANS[street.slug]
    kinds = [SiteKind.testing_site, _civility_post(rng), SiteKind.community_post, SiteKind.testing_site,
             _civility_post(rng)][:rng.randint(2, 5)]
    pools = {
        "communities": rng.sample(communities, len(communities)),
        "patrols": rng.sample(communities, len(communities)),
        "crossings": rng.sample([(a, b) for a in plan.roads for b in plan.roads if a < b], 3),
        "stations": rng.sample(plan.stations, len(plan.stations)),
    }
    return [_plan_site(rng, street, street_id, kind, pools) for kind in kinds]


def _plan_site(rng: random.Random, street: StreetInfo, street_id: int, kind: SiteKind,
               pools: dict[str, list]) -> DemoSite:
    roads = STREET_PLANS[street.slug].roads
    if kind is SiteKind.testing_site:
        community = pools["communities"].pop()
        lat, lon = scatter(rng, community.lat, community.lon, (0.05, 0.4))
        venue = community.name + rng.choice(TESTING_VENUES)
        address = f"青岛市市南区{rng.choice(roads)}{rng.randint(1, 120)}号{venue}"
        return DemoSite(street_id, community, f"{community.name}核酸检测点", kind, address, lat, lon,
                        _testing_roles(rng))
    if kind is SiteKind.community_post:
        community = pools["patrols"].pop()
        lat, lon = scatter(rng, community.lat, community.lon, (0.05, 0.4))
        address = f"青岛市市南区{rng.choice(roads)}{rng.randint(1, 120)}号"
        return DemoSite(street_id, community, f"{community.name}治安巡逻岗", kind, address, lat, lon,
                        {"patrol": rng.randint(4, 10)})
    lat, lon = scatter(rng, street.lat, street.lon, (0.1, 1.2))
    if kind is SiteKind.intersection or not pools["stations"]:
        a, b = pools["crossings"].pop()
        return DemoSite(street_id, None, f"{a}与{b}路口", SiteKind.intersection, f"青岛市市南区{a}与{b}交汇处",
                        lat, lon, {"civility_guide": rng.randint(2, 6)})
    station = pools["stations"].pop()
    roles = {"civility_guide": rng.randint(4, 8)}
    if rng.random() < 0.3:
        roles["patrol"] = rng.randint(2, 4)
    address = f"青岛市市南区{rng.choice(roads)}{station}出入口"
    return DemoSite(street_id, None, station, kind, address, lat, lon, roles)


def _civility_post(rng: random.Random) -> SiteKind:
    return SiteKind.intersection if rng.random() < INTERSECTION_SHARE else SiteKind.station


def _testing_roles(rng: random.Random) -> dict[str, int]:
    roles = {"registration": rng.randint(8, 14), "queue_keeping": rng.randint(14, 24)}
    if rng.random() < 0.6:
        roles["data_entry"] = rng.randint(2, 5)
    if rng.random() < 0.4:
        roles["medical_support"] = rng.randint(1, 3)
    return roles


def top_up_testing_places(sites: list[DemoSite]) -> None:
    """Add queue keepers to testing sites in turn until front-desk places reach MIN_TESTING_PLACES."""
    testing = [site for site in sites if site.kind is SiteKind.testing_site]
    places = sum(site.roles["registration"] + site.roles["queue_keeping"] for site in testing)
    for number in range(max(0, MIN_TESTING_PLACES - places)):
        testing[number % len(testing)].roles["queue_keeping"] += 1
