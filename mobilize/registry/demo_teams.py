"""The demo district's teams: one regular team per community and more where more volunteers live (about one
per VOLUNTEERS_PER_TEAM in all), and district-wide specialised teams (医疗, 心理, 应急, 翻译...), each with the
skill its members usually have."""
from __future__ import annotations

import random
from itertools import accumulate

from mobilize.registry.demo_district import DemoCommunity

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

Specialised = tuple[int, str | None]  # a specialised team: (id, skill code of its members)


def team_counts(volunteers: int) -> tuple[int, int]:
    """How many specialised teams, and how many regular teams in all, for that many volunteers."""
    wanted = round(volunteers / VOLUNTEERS_PER_SPECIALISED_TEAM)
    specialised_count = min(len(SPECIALISED_TEAMS), max(MIN_SPECIALISED_TEAMS, wanted))
    return specialised_count, round(volunteers / VOLUNTEERS_PER_TEAM) - specialised_count


def plan_regular_teams(rng: random.Random, communities: list[DemoCommunity],
                       target: int) -> list[tuple[DemoCommunity, str]]:
    """(community, team name): each community's own team, then more up to `target` teams in all, drawn by
    the communities' weights."""
    extra = [0] * len(communities)
    cum_weights = list(accumulate(c.weight for c in communities))
    for _ in range(max(0, target - len(communities))):
        extra[rng.choices(range(len(communities)), cum_weights=cum_weights)[0]] += 1
    teams = []
    for community, count in zip(communities, extra):
        prefix = f"{community.street.name}{community.name}"
        teams.append((community, f"{prefix}志愿服务队"))
        teams += [(community, prefix + _team_kind(number)) for number in range(count)]
    return teams


def _team_kind(number: int) -> str:
    if number < len(COMMUNITY_TEAM_KINDS):
        return COMMUNITY_TEAM_KINDS[number]
    return f"第{number - len(COMMUNITY_TEAM_KINDS) + 2}志愿服务分队"
