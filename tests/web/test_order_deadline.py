"""The deadline in the pages (issue 14): the order form's needed-by time and urgent switch, and the order page's
projection line ("95% by 06:12 at this pace"), reloaded with the live progress."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from mobilize.models import Order
from mobilize.models._types import utcnow
from tests.wartime.conftest import run_wave
from tests.web.test_order_pages import _form, _post

pytestmark = pytest.mark.paced  # the service's default waves: paced to the deadline


def _local(when) -> str:
    return (when + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M")  # Asia/Shanghai


def test_the_form_sets_the_deadline_and_urgency_and_names_a_bad_one(clients, registry, web_runtime):
    commander = clients["commander"]
    needed_by = utcnow() + timedelta(minutes=30)
    response = _post(commander, "/command/orders", _form(registry, needed_by=_local(needed_by), urgent="1"))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    order_id = int(re.search(r"/command/orders/(\d+)$", response.headers["Location"]).group(1))
    with web_runtime.transaction() as session:
        order = session.get(Order, order_id)
        assert order.urgent and abs((order.needed_by - needed_by).total_seconds()) < 60
    edit = commander.get(f"/command/orders/{order_id}/edit").get_data(as_text=True)
    assert f'name="needed_by" value="{_local(needed_by)}"' in edit
    refused = _post(commander, "/command/orders", _form(registry, needed_by=_local(utcnow() - timedelta(hours=1))))
    assert refused.status_code == 422
    assert "needed-by" in refused.get_data(as_text=True) or "需要" in refused.get_data(as_text=True)


def test_the_order_page_projects_when_95_percent_will_be_filled(clients, registry, web_runtime):
    commander = clients["commander"]
    needed_by = utcnow() + timedelta(minutes=40)
    # 6 volunteers for 3 places: at the form's 50% they could not be expected to fill 95% ("not in sight")
    response = _post(commander, "/command/orders", _form(registry, needed_by=_local(needed_by),
                                                         expected_answer_rate="90"))
    order_id = int(re.search(r"/command/orders/(\d+)$", response.headers["Location"]).group(1))
    _post(commander, f"/command/orders/{order_id}/launch", {"confirm": "1"})
    run_wave(web_runtime, order_id)
    progress = commander.get(f"/command/orders/{order_id}/progress").get_data(as_text=True)
    line = re.search(r'<p class="projection[^"]*" id="order-projection"\s+data-on-track="(true|false)">(.*?)</p>',
                     progress, re.S)
    assert line is not None, progress[:3000]
    assert _local(needed_by)[-5:] in line.group(2)  # the deadline, local time
    assert re.search(r"按当前节奏，预计 \d\d:\d\d 达到95%", line.group(2))  # and when 95% are expected


def test_the_launch_confirmation_shows_the_deadline_trade_off(clients, registry, web_runtime):
    commander = clients["commander"]
    response = _post(commander, "/command/orders", _form(registry, needed_by=_local(utcnow() + timedelta(hours=1)),
                                                         expected_answer_rate="90"))
    order_id = int(re.search(r"/command/orders/(\d+)$", response.headers["Location"]).group(1))
    step = commander.get(f"/command/orders/{order_id}/confirm/launch").get_data(as_text=True)
    table = re.search(r'<table class="grid deadline-tradeoff" data-confirm="deadline">(.*?)</table>', step, re.S)
    assert table is not None, step[:3000]
    assert table.group(1).count("<tr") == 4 and 'data-deadline="chosen"' in table.group(1)  # header and 3 rows
