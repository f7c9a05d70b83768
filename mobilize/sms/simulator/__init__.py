"""A Twilio-compatible SMS simulator: Twilio's Messages REST API (create, fetch, list, delete), status
callbacks and inbound webhooks signed like Twilio's, carrier opt-out keywords, injectable faults, and
simulated phones that answer invitations like people do. The real `twilio` client talks to it (see
mobilize.sms.twilio_client).

    from mobilize.sms.simulator import SimulatorConfig, SimulatorServer
    with SimulatorServer(SimulatorConfig(webhook_url="http://127.0.0.1:5000/twilio/sms")) as server:
        client = make_twilio_client(DEV_ACCOUNT_SID, DEV_AUTH_TOKEN, server.url)

Importing this package starts nothing; threads start with the first scheduled event.
"""
from mobilize.sms.simulator.configuration import DEFAULT_SENDER, DEV_ACCOUNT_SID, DEV_AUTH_TOKEN, SimulatorConfig
from mobilize.sms.simulator.engine import Simulator
from mobilize.sms.simulator.faults import FaultConfig
from mobilize.sms.simulator.phones import (Phone, PhoneProfile, Reply, default_responder, register_responder,
                                           silent_responder)
from mobilize.sms.simulator.validation import ApiError

__all__ = [
    "ApiError", "DEFAULT_SENDER", "DEV_ACCOUNT_SID", "DEV_AUTH_TOKEN", "FaultConfig", "Phone", "PhoneProfile",
    "Reply", "Simulator", "SimulatorConfig", "SimulatorServer", "create_simulator_app", "default_responder",
    "register_responder", "serve", "silent_responder",
]


def __getattr__(name: str):
    # The Flask app and the server are imported on first use: the engine stays importable without them.
    if name == "create_simulator_app":
        from mobilize.sms.simulator.app import create_simulator_app

        return create_simulator_app
    if name in ("SimulatorServer", "serve"):
        from mobilize.sms.simulator import server

        return getattr(server, name)
    raise AttributeError(name)
