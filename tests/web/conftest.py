"""The web UI under Flask's test client: a real database, a real Redis (logins, rate limits and events live
there), users of every role, and a small registry in two streets (八大关 is the officer's street A, 湛山 is street
B).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from mobilize.accounts import create_user, issue_token
from mobilize.app import create_app
from mobilize.models import InboundMessage, OutboundMessage, OutboundStatus, Priority
from mobilize.runtime import Runtime
from tests import factories
from tests.conftest import make_settings
from workers.context import set_runtime

PASSWORD = "password-123"
ROLES = ("admin", "commander", "officer", "viewer")
USERS = {"admin": ("admin", None), "commander": ("commander", None), "officer": ("officer-a", "八大关"),
         "viewer": ("viewer", None)}
STREET_A, STREET_B = "badaguan", "zhanshan"
_CSRF = re.compile(r'name="csrf[-_]token" (?:value|content)="([^"]+)"')


@dataclass
class Registry:
    """What the fixtures wrote, for tests to look for (or to make sure it is not shown)."""

    site_a: int = 0
    site_b: int = 0
    site_b_name: str = "湛山检测点"
    volunteers_a: list[tuple[int, str, str]] = field(default_factory=list)  # (id, name, phone)
    volunteers_b: list[tuple[int, str, str]] = field(default_factory=list)
    contact_phone: str = "+8613905320001"
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def phones(self) -> list[str]:
        return [phone for _, _, phone in self.volunteers_a + self.volunteers_b] + [self.contact_phone]

    @property
    def street_b_markers(self) -> list[str]:
        """Strings that only street B's data contains: an officer of street A must never be shown one."""
        return [self.site_b_name] + [name for _, name, _ in self.volunteers_b] + \
            [phone for _, _, phone in self.volunteers_b]


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    """Argon2 with its production cost takes ~0.5 s a hash here; tests hash with cheap parameters (argon2 all
    the same: verification reads the parameters from the hash)."""
    from argon2 import PasswordHasher

    from mobilize import accounts
    from mobilize.web.ui import login as login_module

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    login_module._dummy_hash.cache_clear()
    yield
    login_module._dummy_hash.cache_clear()


@pytest.fixture
def web_runtime(tmp_path, sqlite_url, redis_url, redis_client) -> Runtime:
    rt = Runtime(make_settings(tmp_path, sqlite_url, redis_url))
    set_runtime(rt)  # jobs run in-process (process_inbound) use it too
    yield rt
    set_runtime(None)
    rt.close()


@pytest.fixture
def app(web_runtime):
    app = create_app(runtime=web_runtime)
    # Streams end fast under the test client, which reads a response to its end.
    app.config.update(EVENT_STREAM_SECONDS=0.3, EVENT_HEARTBEAT_SECONDS=0.1)
    return app


@pytest.fixture
def registry(web_runtime) -> Registry:
    return seed_registry(web_runtime)


def seed_registry(runtime: Runtime) -> Registry:
    data = Registry()
    with runtime.transaction() as session:
        for role, (username, street) in USERS.items():
            user = create_user(session, username, PASSWORD, role, street)
            data.tokens[role] = issue_token(session, user)
        data.site_a = factories.site(session, "八大关", "太平角检测点").id
        data.site_b = factories.site(session, "湛山", data.site_b_name, lat=36.0605, lon=120.367).id
        for number in range(3):
            a = factories.volunteer(session, "八大关", name=f"八大关志愿者{number}")
            b = factories.volunteer(session, "湛山", name=f"湛山志愿者{number}", lon=120.367)
            data.volunteers_a.append((a.id, a.name, a.phone))
            data.volunteers_b.append((b.id, b.name, b.phone))
        _messages(session, data)
    return data


def _messages(session, data: Registry) -> None:
    """One SMS each way, so that the message log has phone numbers to mask."""
    _, _, phone_a = data.volunteers_a[0]
    volunteer_b, _, phone_b = data.volunteers_b[0]
    session.add(InboundMessage(message_sid="SM" + "1" * 32, from_phone=phone_a, to_phone="+8610690000",
                               body="Y27"))
    session.add(OutboundMessage(volunteer_id=volunteer_b, to_phone=phone_b, body=f"请联系{phone_a}",
                                kind="notice", priority=Priority.high, segments=1,
                                status=OutboundStatus.delivered, attempts=1))


def csrf_token(client, path: str = "/no-such-page") -> str:
    """The CSRF token of a page this client can open (a page that is not found renders one too)."""
    page = client.get(path).get_data(as_text=True)
    match = _CSRF.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, role_or_username: str, password: str = PASSWORD, **environ):
    username = USERS[role_or_username][0] if role_or_username in USERS else role_or_username
    token = csrf_token(client)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       environ_base=environ)


@pytest.fixture
def clients(app, registry) -> dict:
    """A logged-in test client per role, and an anonymous one."""
    result = {"anonymous": app.test_client()}
    for role in ROLES:
        client = app.test_client()
        assert login(client, role).status_code == 302
        result[role] = client
    return result
