"""The pages: the command center's registry summary, map and message log; a street's board by any of its
names; masking by role; everything served locally with a strict content security policy.
"""
from __future__ import annotations

import re

import pytest

from mobilize.app import create_app
from mobilize.domain.phones import mask_phone
from mobilize.runtime import Runtime
from mobilize.web.ui.sitemap import project
from tests.conftest import make_settings
from tests.web.conftest import login


def text(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def test_command_center_shows_the_registry_map_and_message_log(clients, registry):
    page = text(clients["commander"], "/command")
    assert "八大关街道" in page and "湛山街道" in page and "/board/badaguan" in page
    assert page.count('class="site s') == 2  # one map marker per site
    assert "太平角检测点" in page and "湛山检测点" in page
    _, _, phone_a = registry.volunteers_a[0]
    _, _, phone_b = registry.volunteers_b[0]
    assert phone_a in page and phone_b in page  # commanders call people: numbers in clear
    assert 'data-live-channel="command"' in page and 'data-live-fragment="/command/messages"' in page
    assert "已送达" in page and "Y27" in page


def test_viewers_never_see_a_phone_number(clients, registry):
    for path in ("/command", "/command/messages", "/board/badaguan", "/board/zhanshan/sites"):
        page = text(clients["viewer"], path)
        for phone in registry.phones:
            assert phone not in page and phone[3:] not in page, (path, phone)
    log = text(clients["viewer"], "/command/messages")
    _, _, phone_a = registry.volunteers_a[0]
    assert mask_phone(phone_a) in log  # as the sender, and inside the outbound text too
    assert log.count(mask_phone(phone_a)) == 2


@pytest.mark.parametrize("name", ["badaguan", "八大关街道", "八大关", "Badaguan"])
def test_a_board_opens_by_slug_or_chinese_name(clients, name):
    page = text(clients["officer"], f"/board/{name}")
    assert "<h1>八大关街道" in page and "太平角检测点" in page and "湛山检测点" not in page
    assert 'data-live-channel="street-badaguan"' in page


def test_the_board_shows_sites_roles_and_capacity_bars(clients, registry):
    page = text(clients["officer"], "/board/badaguan")
    assert page.count('class="capacity-bar"') == 2  # registration and queue keeping
    assert "容量 2" in page and "容量 3" in page and "登记" in page and "秩序维护" in page
    assert registry.contact_phone in page  # the officer calls the site's contact
    assert mask_phone(registry.contact_phone) in text(clients["viewer"], "/board/badaguan")


def test_another_streets_board_is_forbidden_to_an_officer(clients):
    response = clients["officer"].get("/board/zhanshan")
    assert response.status_code == 403 and "您无权访问此页面" in response.get_data(as_text=True)
    assert clients["officer"].get("/board/zhanshan/sites").status_code == 403
    assert clients["officer"].get("/command").status_code == 403
    assert clients["viewer"].get("/board/zhanshan").status_code == 200


def test_unknown_streets_and_pages_are_404_pages(clients):
    for path in ("/board/火星", "/nothing-here"):
        response = clients["commander"].get(path)
        assert response.status_code == 404 and "页面不存在" in response.get_data(as_text=True)


def test_phones_lead_to_the_simulator_in_simulator_mode(tmp_path, sqlite_url, redis_url, redis_client):
    from tests.web.conftest import seed_registry

    runtime = Runtime(make_settings(tmp_path, sqlite_url, redis_url, simulator_url="http://127.0.0.1:5999"))
    app = create_app(runtime=runtime)
    seed_registry(runtime)
    client = app.test_client()
    login(client, "commander")
    response = client.get("/phones")
    assert response.status_code == 302 and response.headers["Location"] == "http://127.0.0.1:5999/phones?lang=zh"
    client.set_cookie("mobilize_lang", "en")  # the phones open in the page's language
    assert client.get("/phones").headers["Location"] == "http://127.0.0.1:5999/phones?lang=en"
    viewer = app.test_client()
    login(viewer, "viewer")
    assert viewer.get("/phones").status_code == 403  # the simulator shows numbers in clear
    runtime.close()


def test_pages_load_nothing_from_elsewhere_and_forbid_framing(clients):
    response = clients["commander"].get("/command")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)  # every script, style and link is local
    assert "<script>" not in page and " style=" not in page  # nothing inline (the policy would block it)
    for asset in ("/static/app.css", "/static/live.js"):
        assert clients["anonymous"].get(asset).status_code == 200


def test_the_message_log_fragment_is_what_the_page_embeds(clients):
    fragment = text(clients["commander"], "/command/messages")
    assert "<table" in fragment and "<html" not in fragment  # a part of the page, swapped in by live.js


def test_the_map_keeps_proportions_and_north_up():
    # two sites 1 km apart east-west and one 1 km north of the first
    frame = project([(36.0, 120.0), (36.0, 120.0111), (36.009, 120.0)], width=600, height=600, margin=0)
    west, east, north = frame.points
    assert west.y == east.y and north.x == west.x and north.y < west.y  # north is up
    assert abs((east.x - west.x) - (west.y - north.y)) < 6  # 1 km is 1 km both ways
    assert project([(36.0, 120.0)], 100, 50).points[0].x == 50  # one site: the middle
    assert project([]).points == ()
