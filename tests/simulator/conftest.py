"""Fixtures for the SMS simulator: the simulator on a free port, the REAL twilio client pointed at it, a tiny
server catching the webhooks it sends, and a validator for Twilio's Message schema."""
from __future__ import annotations

import json

import pytest

from mobilize.sms.simulator import SimulatorConfig
from mobilize.sms.simulator.control import SimulatorControl
from mobilize.sms.simulator.server import SimulatorServer
from mobilize.sms.twilio_client import make_twilio_client
from sim_support import ACCOUNT_SID, AUTH_TOKEN, OPENAPI, SERVICE_NUMBER, Receiver, make_message_validator


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


# -- the simulator -------------------------------------------------------------------------------------------

@pytest.fixture
def make_sim(receiver):
    """make_sim(**SimulatorConfig overrides) -> a started SimulatorServer (fast time_scale by default)."""
    servers: list[SimulatorServer] = []

    def start(**overrides) -> SimulatorServer:
        settings = dict(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN,
                        webhook_url=receiver.url("/twilio/sms"), sender_number=SERVICE_NUMBER,
                        time_scale=0.001, webhook_retry_delay=1.0)
        settings.update(overrides)
        server = SimulatorServer(SimulatorConfig(**settings)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def sim(make_sim) -> SimulatorServer:
    return make_sim()


@pytest.fixture
def client(sim):
    return make_twilio_client(ACCOUNT_SID, AUTH_TOKEN, sim.url)


@pytest.fixture
def control(sim) -> SimulatorControl:
    return SimulatorControl(sim.url)


@pytest.fixture(scope="session")
def openapi() -> dict:
    return json.loads(OPENAPI.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def message_validator(openapi):
    return make_message_validator(openapi)
