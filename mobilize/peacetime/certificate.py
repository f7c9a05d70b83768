"""The certificate of service hours (志愿服务时长证明): a printable HTML page and a CSV of the certified records.

Only certified hours are on it (pending records are listed apart in the HTML, not counted). Times are local.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, select_autoescape
from sqlalchemy.orm import Session

from mobilize.domain import stars
from mobilize.domain.text_safety import spreadsheet_row
from mobilize.models import ServiceRecord, ServiceStatus, Volunteer
from mobilize.peacetime import service
from mobilize.peacetime.config import RosterConfig

KIND_NAMES = {"shift": "平时值班", "wartime": "战时招募", "imported": "历史时长"}
CSV_COLUMNS = ("record_id", "kind", "date", "start", "end", "description", "role", "hours", "certified_hours",
               "certified_by", "certified_at", "adjustment_reason")


@dataclass(frozen=True)
class Certificate:
    volunteer: Volunteer
    records: list[ServiceRecord]  # certified
    pending: list[ServiceRecord]
    standing: stars.Standing
    issued_at: datetime
    zone: str
    max_stars: int


def build(session: Session, volunteer: Volunteer, cfg: RosterConfig, now: datetime) -> Certificate:
    records = service.records_of(session, volunteer.id)
    return Certificate(volunteer, [r for r in records if r.status is ServiceStatus.certified],
                       [r for r in records if r.status is ServiceStatus.pending],
                       service.standing(session, volunteer.id, cfg), now, cfg.zone, len(cfg.star_thresholds))


def _local(moment: datetime | None, zone: str, fmt: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime(fmt) if moment else ""


def to_csv(certificate: Certificate) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    zone = certificate.zone
    for r in certificate.records:
        cells = [r.id, r.kind.value, _local(r.started_at, zone, "%Y-%m-%d"),
                 _local(r.started_at, zone, "%H:%M"), _local(r.ended_at, zone, "%H:%M"), r.description,
                 r.role, f"{r.hours:.2f}", f"{r.certified_hours:.2f}", r.certified_by or "",
                 _local(r.certified_at, zone, "%Y-%m-%d %H:%M"), r.adjustment_reason or ""]
        writer.writerow(spreadsheet_row(cells))  # free text could be a formula that Excel or WPS would run
    return out.getvalue()


_TEMPLATE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>志愿服务时长证明 · {{ c.volunteer.name }}</title>
<style>
  body { font-family: "Noto Serif CJK SC", "Songti SC", serif; margin: 2.5cm auto; max-width: 18cm; color: #111; }
  h1 { text-align: center; letter-spacing: .3em; margin-bottom: .2em; }
  .sub { text-align: center; color: #555; margin-top: 0; }
  .summary { margin: 1.5em 0; font-size: 1.1em; line-height: 1.8; }
  table { width: 100%; border-collapse: collapse; font-size: .9em; }
  th, td { border: 1px solid #999; padding: .3em .5em; text-align: left; }
  td.n, th.n { text-align: right; }
  .stars { color: #c8102e; letter-spacing: .1em; }
  .foot { margin-top: 2.5em; display: flex; justify-content: space-between; }
  .pending { color: #666; font-size: .85em; }
  @media print { .noprint { display: none; } body { margin: 1.5cm; } }
</style></head>
<body>
<p class="noprint"><button onclick="window.print()">打印 / Print</button></p>
<h1>志愿服务时长证明</h1>
<p class="sub">Certificate of volunteer service hours</p>
<div class="summary">
  兹证明志愿者 <strong>{{ c.volunteer.name }}</strong>（{{ c.volunteer.street.name }}{% if c.volunteer.community %}{{ c.volunteer.community.name }}{% endif %}）
  累计认证志愿服务 <strong>{{ fmt(c.standing.hours) }}</strong> 小时，积分 <strong>{{ fmt(c.standing.points) }}</strong>，
  星级 <span class="stars">{{ "★" * c.standing.stars }}{{ "☆" * (thresholds - c.standing.stars) }}</span>（{{ c.standing.stars }}星）。<br>
  This certifies that {{ c.volunteer.name }} has served {{ fmt(c.standing.hours) }} certified hours
  ({{ fmt(c.standing.points) }} points, {{ c.standing.stars }} star{{ "" if c.standing.stars == 1 else "s" }}).
</div>
<table>
  <thead><tr><th>#</th><th>日期 Date</th><th>时间 Time</th><th>类别 Kind</th><th>服务 Service</th><th>岗位 Role</th>
  <th class="n">认证时长 Hours</th><th>认证人 Certified by</th></tr></thead>
  <tbody>
  {% for r in c.records %}
    <tr><td>{{ loop.index }}</td><td>{{ local(r.started_at, "%Y-%m-%d") }}</td>
    <td>{{ local(r.started_at, "%H:%M") }}{% if r.ended_at %}-{{ local(r.ended_at, "%H:%M") }}{% endif %}</td>
    <td>{{ kinds.get(r.kind.value, r.kind.value) }}</td><td>{{ r.description }}</td><td>{{ r.role }}</td>
    <td class="n">{{ fmt(r.certified_hours) }}{% if r.adjustment_reason %}*{% endif %}</td><td>{{ r.certified_by or "" }}</td></tr>
  {% else %}
    <tr><td colspan="8">尚无认证记录 / No certified service yet</td></tr>
  {% endfor %}
  </tbody>
  <tfoot><tr><th colspan="6">合计 Total</th><th class="n">{{ fmt(c.standing.hours) }}</th><th></th></tr></tfoot>
</table>
{% if adjusted %}<p class="pending">* 经负责人调整 / adjusted by the officer with a reason.</p>{% endif %}
{% if c.pending %}<p class="pending">另有 {{ c.pending|length }} 条待认证记录（{{ fmt(pending_hours) }} 小时），认证后计入。
{{ c.pending|length }} record(s) ({{ fmt(pending_hours) }} h) await certification and are not counted.</p>{% endif %}
<div class="foot"><span>{{ issuer }}</span><span>开具日期 Issued: {{ local(c.issued_at, "%Y-%m-%d") }}</span></div>
</body></html>
"""

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_compiled = _env.from_string(_TEMPLATE)


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def to_html(certificate: Certificate, issuer: str = "市南区志愿者联合会") -> str:
    zone = certificate.zone
    return _compiled.render(
        c=certificate, fmt=_fmt, kinds=KIND_NAMES, issuer=issuer,
        local=lambda moment, fmt: _local(moment, zone, fmt),
        thresholds=certificate.max_stars,
        adjusted=any(r.adjustment_reason for r in certificate.records),
        pending_hours=sum(r.hours for r in certificate.pending))
