"""The order form (issue 17, item 1): each site's usual capacity, type and street in the markup for the form's
script, and the live estimate: the invitations the launch is expected to send (the pacing's own plan, as the
launch's confirmation shows it) and the invitation SMS in each language with its segments, without writing
anything."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from mobilize.domain.segments import count_segments
from mobilize.models import AuditEvent, Demand, Order, SiteRole
from mobilize.models._types import utcnow
from mobilize.wartime import pacing_inputs
from tests.web.conftest import csrf_token
from tests.web.test_order_pages import _form


def _estimate(client, data: dict):
    return client.post("/command/orders/estimate", data={**data, "csrf_token": csrf_token(client, "/command")})


def test_the_form_carries_usual_capacities_types_and_streets(clients, registry, web_runtime):
    page = clients["commander"].get("/command/orders/new").get_data(as_text=True)
    with web_runtime.transaction() as session:
        usual = {(site_id, role.role.code): role.capacity for site_id in (registry.site_a, registry.site_b)
                 for role in session.scalars(select(SiteRole).where(SiteRole.site_id == site_id))}
    assert usual
    for (site_id, role), capacity in usual.items():
        assert re.search(rf'name="cap-{site_id}-{role}"\s+placeholder="{capacity}" value="" data-usual="{capacity}"', page)
    assert f'<tr data-kind="testing_site" data-site="{registry.site_a}">' in page
    assert 'data-street="badaguan"' in page and 'data-fill="shown"' in page and 'data-fill="street"' in page
    assert 'data-filter="kind"' in page and "检测点" in page  # the site type by its name
    assert 'src="/static/order_form.js"' in page and 'data-estimate-url="/command/orders/estimate"' in page


def test_the_estimate_is_the_pacings_plan_and_the_sms_per_language(clients, registry, web_runtime):
    before = _counts(web_runtime)
    response = _estimate(clients["commander"], _form(registry))
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    invitations = int(re.search(r'data-estimate-invitations="(\d+)"', html).group(1))
    assert 'data-estimate-places="3"' in html
    # the same number the launch's confirmation shows: the pacing's plan for the saved draft
    order_id = _save(clients["commander"], registry)
    with web_runtime.transaction() as session:
        order = session.get(Order, order_id)
        plan = pacing_inputs.deadline_tradeoff(session, order, utcnow(), 0.045)
        expected = next(row for row in plan["rows"] if row["chosen"])["invitations"]
    assert invitations == expected and invitations > 0
    for language in ("zh", "en"):
        block = re.search(rf'data-language="{language}" data-segments="(\d+)">.*?<blockquote[^>]*>(.*?)</blockquote>',
                          html, re.S)
        assert block, language
        text = block.group(2).replace("&#39;", "'").replace("&amp;", "&").replace("&#34;", '"')
        assert int(block.group(1)) == count_segments(text).segments
        assert "全员核酸检测志愿者招募" in text
    assert "中文" in html and "英文" in html  # languages by their names, not zh / en
    assert _counts(web_runtime)[0] == before[0] + 1  # only the draft saved above: the estimate wrote nothing


def _counts(runtime) -> tuple[int, int, int]:
    with runtime.transaction() as session:
        return (session.scalar(select(func.count()).select_from(Order)),
                session.scalar(select(func.count()).select_from(Demand)),
                session.scalar(select(func.count()).select_from(AuditEvent)))


def _save(client, registry) -> int:
    response = client.post("/command/orders", data={**_form(registry), "csrf_token": csrf_token(client, "/command")})
    assert response.status_code == 303
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_the_estimate_writes_nothing(clients, registry, web_runtime):
    before = _counts(web_runtime)
    for _ in range(2):
        assert _estimate(clients["commander"], _form(registry)).status_code == 200
    assert _counts(web_runtime) == before


def test_an_estimate_of_a_form_that_could_not_be_saved_says_why(clients, registry):
    data = _form(registry)
    data.pop(f"cap-{registry.site_a}-registration")
    data.pop(f"cap-{registry.site_b}-queue_keeping")
    response = _estimate(clients["commander"], data)
    assert response.status_code == 422 and "请至少填写一个名额" in response.get_data(as_text=True)
    past = _form(registry, ends_at=(utcnow() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    response = _estimate(clients["commander"], past)
    assert response.status_code == 422 and "the window must end after it starts" in response.get_data(as_text=True)


def test_an_estimate_without_a_title_previews_a_stand_in(clients, registry):
    response = _estimate(clients["commander"], _form(registry, title=""))
    assert response.status_code == 200 and "（标题）" in response.get_data(as_text=True)


def test_only_commanders_estimate(clients, registry):
    for role in ("viewer", "officer"):
        assert _estimate(clients[role], _form(registry)).status_code == 403
    assert clients["anonymous"].post("/command/orders/estimate", data=_form(registry)).status_code in (302, 400, 401)
