"""The simulator's settings (`SimulatorConfig`): credentials, the sender number, the time scale and the status
delays, faults, phones' defaults and the webhook senders; and the development credentials it shares with the
service when nothing else is configured."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from config import SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN

from mobilize.sms.simulator.faults import FaultConfig
from mobilize.sms.simulator.phones import PhoneProfile

# Credentials the simulator and the service share when nothing else is configured (never valid at Twilio).
DEV_ACCOUNT_SID = SIMULATOR_ACCOUNT_SID
DEV_AUTH_TOKEN = SIMULATOR_AUTH_TOKEN
DEFAULT_SENDER = "+15005550006"


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything the simulator needs; delays are simulated seconds, multiplied by `time_scale` (0.01: 100x
    faster than life)."""

    account_sid: str = DEV_ACCOUNT_SID
    auth_token: str = DEV_AUTH_TOKEN
    webhook_url: str | None = None  # where texts from phones are POSTed (the service's /twilio/sms)
    sender_number: str = DEFAULT_SENDER  # `from` of Messaging Service sends; who phones text by default
    time_scale: float = 1.0
    queue_delay: float = 0.2  # accepted -> queued (Messaging Service only)
    sent_delay: float = 0.5  # queued -> sent
    delivery_delay: float = 2.0  # sent -> delivered/undelivered
    price_per_segment: float = 0.0075  # USD, shown negative as Twilio does
    faults: FaultConfig = field(default_factory=FaultConfig)
    default_profile: PhoneProfile = field(default_factory=PhoneProfile)  # for phones registered without one
    responder: str | None = None  # global responder: a registered name or "package.module:function"
    carrier_replies: bool = True  # answer STOP/START/HELP like Twilio's default opt-out handling
    webhook_workers: int = 8
    webhook_timeout: float = 15.0
    webhook_retries: int = 3
    webhook_retry_delay: float = 0.5  # simulated seconds before the first retry (doubling)

    def __post_init__(self) -> None:
        if not self.account_sid or not self.auth_token:
            raise ValueError("the simulator needs an account SID and an auth token")
        if self.time_scale <= 0:
            raise ValueError(f"time_scale must be positive, not {self.time_scale!r}")
        if self.webhook_workers < 1:
            raise ValueError("webhook_workers must be at least 1")
        for name in ("queue_delay", "sent_delay", "delivery_delay", "webhook_retry_delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")

    def scaled(self, seconds: float) -> float:
        """Simulated seconds as real seconds."""
        return seconds * self.time_scale

    def with_changes(self, **changes) -> SimulatorConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["auth_token"] = "***"
        data["faults"] = self.faults.to_dict()
        data["default_profile"] = asdict(self.default_profile)
        data["responder"] = self.responder or "default"
        return data
