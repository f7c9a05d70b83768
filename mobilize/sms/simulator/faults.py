"""Fault injection: what can go wrong between the service and Twilio, with probabilities and a seed."""
from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields, replace

UNDELIVERED_ERRORS = {
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
}
FAILED_ERRORS = {30008: "Unknown error"}


class FaultError(ValueError):
    """A fault setting out of range; the message names it."""


@dataclass(frozen=True)
class FaultConfig:
    """Probabilities are per event, between 0 and 1.

    throttle_rate: a REST request gets 429 (Twilio error 20429, "Too Many Requests").
    server_error_rate: a REST request gets 500 (20500) or 503 (20503), half and half.
    latency_ms: added to every REST request: a number, or a [low, high] range drawn uniformly.
    accept_latency_ms: added after a message is created, before its answer: the gateway has accepted it and
        the client, if it gives up waiting first, does not know (milliseconds).
    undelivered_rate: a sent message ends `undelivered` (error 30003, 30005 or 30006).
    failed_rate: a message ends `failed` without being sent (error 30008).
    duplicate_webhook_rate: a webhook (inbound SMS or status callback) is delivered twice, same MessageSid.
    seed: makes the draws reproducible (for a given order of requests).
    """

    throttle_rate: float = 0.0
    server_error_rate: float = 0.0
    latency_ms: float | tuple[float, float] = 0.0
    accept_latency_ms: float = 0.0
    undelivered_rate: float = 0.0
    failed_rate: float = 0.0
    duplicate_webhook_rate: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("throttle_rate", "server_error_rate", "undelivered_rate", "failed_rate",
                     "duplicate_webhook_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise FaultError(f"{name} must be a probability between 0 and 1, not {value!r}")
        object.__setattr__(self, "latency_ms", parse_latency(self.latency_ms))
        accept_latency = self.accept_latency_ms
        if isinstance(accept_latency, bool) or not isinstance(accept_latency, (int, float)) or accept_latency < 0:
            raise FaultError(f"accept_latency_ms must be milliseconds (>= 0), not {accept_latency!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise FaultError(f"seed must be an integer, not {self.seed!r}")

    @classmethod
    def from_dict(cls, data: dict | None, base: "FaultConfig | None" = None) -> "FaultConfig":
        if data is not None and not isinstance(data, dict):
            raise FaultError(f"fault settings are an object, not {data!r}")
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultError(f"unknown fault setting(s): {', '.join(unknown)} "
                             f"(known: {', '.join(sorted(known))})")
        return replace(base or cls(), **data)

    def to_dict(self) -> dict:
        data = asdict(self)
        if isinstance(self.latency_ms, tuple):
            data["latency_ms"] = list(self.latency_ms)
        return data


def parse_latency(value) -> float | tuple[float, float]:
    """50, "50", [20, 200], (20, 200) or "20-200" (milliseconds)."""
    if isinstance(value, str):
        text = value.strip()
        if "-" in text.lstrip("-"):
            low, _, high = text.partition("-")
            value = (low, high)
        else:
            value = text or 0
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise FaultError(f"latency_ms range must be [low, high], not {value!r}")
        try:
            low, high = float(value[0]), float(value[1])
        except (TypeError, ValueError):
            raise FaultError(f"latency_ms range must be two numbers, not {value!r}") from None
        if low < 0 or high < low:
            raise FaultError(f"latency_ms range must have 0 <= low <= high, not {value!r}")
        return (low, high)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FaultError(f"latency_ms must be milliseconds or a [low, high] range, not {value!r}") from None
    if number < 0:
        raise FaultError(f"latency_ms must not be negative, not {value!r}")
    return number


class Faults:
    """The live fault settings and their random source (one lock: draws are reproducible under a seed)."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> FaultConfig:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
        return config

    def update(self, changes: dict) -> FaultConfig:
        """Change some settings; a new seed restarts the random sequence, other changes keep it going."""
        config = FaultConfig.from_dict(changes, base=self.config)
        with self._lock:
            self.config = config
            if "seed" in changes:
                self._rng = random.Random(config.seed)
        return config

    def chance(self, probability: float) -> bool:
        if probability <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < probability

    def pick(self, options):
        with self._lock:
            return self._rng.choice(list(options))

    def latency_seconds(self) -> float:
        latency = self.config.latency_ms
        if isinstance(latency, tuple):
            with self._lock:
                return self._rng.uniform(*latency) / 1000.0
        return latency / 1000.0

    def request_fault(self) -> tuple[int, int, str] | None:
        """(HTTP status, Twilio code, message) for a REST request that should fail, else None."""
        config = self.config
        if config.throttle_rate <= 0.0 and config.server_error_rate <= 0.0:
            return None
        with self._lock:
            if config.throttle_rate > 0.0 and self._rng.random() < config.throttle_rate:
                return (429, 20429, "Too Many Requests")
            if config.server_error_rate > 0.0 and self._rng.random() < config.server_error_rate:
                if self._rng.random() < 0.5:
                    return (500, 20500, "Internal Server Error")
                return (503, 20503, "Service Unavailable")
        return None

    def message_fate(self) -> tuple[str, int | None]:
        """How a new outbound message will end: delivered, undelivered or failed, with its error code."""
        config = self.config
        if config.failed_rate <= 0.0 and config.undelivered_rate <= 0.0:
            return ("delivered", None)
        with self._lock:
            if config.failed_rate > 0.0 and self._rng.random() < config.failed_rate:
                return ("failed", 30008)
            if config.undelivered_rate > 0.0 and self._rng.random() < config.undelivered_rate:
                return ("undelivered", self._rng.choice(sorted(UNDELIVERED_ERRORS)))
        return ("delivered", None)


def error_message_for(code: int | None) -> str | None:
    if code is None:
        return None
    return UNDELIVERED_ERRORS.get(code) or FAILED_ERRORS.get(code) or {
        21610: "Attempt to send to unsubscribed recipient"}.get(code, "Message delivery failed")
