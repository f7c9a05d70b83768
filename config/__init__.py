"""Settings for mobilize, read from environment variables (a `.env` file may set them).

Embedded defaults (DESIGN section 6): SQLite in the instance folder, a Redis server the project starts itself,
the SMS simulator. Production sets DATABASE_URL, REDIS_URL and the Twilio variables; see production.env.example.
"""
from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

SMS_BACKENDS = ("simulator", "twilio")
# The simulator's well-known development credentials (they guard nothing real; `mobilize up` uses random ones).
SIMULATOR_ACCOUNT_SID = "AC" + "5" * 32
SIMULATOR_AUTH_TOKEN = "simulator-auth-token"
SIMULATOR_DEFAULT_URL = "http://127.0.0.1:5010"
DEFAULT_STAR_THRESHOLDS = (100, 300, 600, 1000, 1500)


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def default_instance_path() -> Path:
    """The instance folder: `instance/` beside a source checkout, else under the virtualenv's prefix."""
    package_root = Path(__file__).resolve().parent.parent
    if (package_root / "setup.cfg").exists():
        return package_root / "instance"
    return Path(sys.prefix) / "var" / "mobilize-instance"


@dataclass(frozen=True)
class Settings:
    instance_path: Path
    database_url: str
    redis_url: str | None
    sms_backend: str = "simulator"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_messaging_service_sid: str | None = None
    public_base_url: str = "http://127.0.0.1:5000"
    simulator_url: str | None = None
    secret_key: str = ""
    default_region: str = "CN"
    hotline: str = "12345"  # the number SMS replies give for questions (12345: the citizens' service line)
    timezone: str = "Asia/Shanghai"
    sms_segments_per_second: float = 100.0
    geocoder: str = "offline"
    geocoder_user_agent: str = "mobilize"
    star_thresholds: tuple[int, ...] = DEFAULT_STAR_THRESHOLDS
    points_per_hour: float = 1.0
    sms_price_per_segment: float = 0.045  # what one SMS segment costs, for the previews' estimates
    sms_currency: str = "CNY"
    log_format: str = "console"
    log_level: str = "INFO"
    # The bearer token Prometheus sends to read /metrics (admins' API tokens read it too); unset: admins only.
    metrics_token: str | None = None
    demo: bool = False
    testing: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def uses_embedded_redis(self) -> bool:
        return not self.redis_url

    def with_overrides(self, **changes) -> "Settings":
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, load_dotenv_file: bool = True) -> "Settings":
        if env is None:
            if load_dotenv_file:
                _load_dotenv()
            env = os.environ
        instance = Path(env.get("MOBILIZE_INSTANCE_PATH") or default_instance_path()).resolve()
        backend = env.get("SMS_BACKEND", "simulator").strip().lower()
        if backend not in SMS_BACKENDS:
            raise ConfigError(f"SMS_BACKEND must be one of {', '.join(SMS_BACKENDS)}, not {backend!r}")
        settings = cls(
            instance_path=instance,
            database_url=env.get("DATABASE_URL") or f"sqlite:///{instance / 'mobilize.db'}",
            redis_url=env.get("REDIS_URL") or None,
            sms_backend=backend,
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or None,
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
            twilio_from=env.get("TWILIO_FROM") or None,
            twilio_messaging_service_sid=env.get("TWILIO_MESSAGING_SERVICE_SID") or None,
            public_base_url=(env.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
            simulator_url=env.get("SIMULATOR_URL") or None,
            secret_key=env.get("SECRET_KEY") or "",
            default_region=env.get("DEFAULT_PHONE_REGION", "CN"),
            hotline=env.get("MOBILIZE_HOTLINE", "12345"),
            timezone=env.get("MOBILIZE_TIMEZONE", "Asia/Shanghai"),
            sms_segments_per_second=_float(env, "SMS_SEGMENTS_PER_SECOND", 100.0),
            geocoder=env.get("GEOCODER", "offline").strip().lower(),
            geocoder_user_agent=env.get("GEOCODER_USER_AGENT", "mobilize"),
            star_thresholds=_thresholds(env.get("STAR_THRESHOLDS")),
            points_per_hour=_float(env, "POINTS_PER_HOUR", 1.0),
            sms_price_per_segment=_float(env, "SMS_PRICE_PER_SEGMENT", 0.045),
            sms_currency=(env.get("SMS_CURRENCY") or "CNY").strip().upper(),
            log_format=env.get("LOG_FORMAT", "console"),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            metrics_token=_metrics_token(env.get("MOBILIZE_METRICS_TOKEN")),
            demo=_bool(env.get("MOBILIZE_DEMO")),
            extra=_matching_timers(env),
        )
        if backend == "twilio":
            _require_twilio(settings)
        else:
            settings = replace(
                settings,
                twilio_account_sid=settings.twilio_account_sid or SIMULATOR_ACCOUNT_SID,
                twilio_auth_token=settings.twilio_auth_token or SIMULATOR_AUTH_TOKEN,
                simulator_url=(settings.simulator_url or SIMULATOR_DEFAULT_URL).rstrip("/"),
            )
        return settings

    def resolved_secret_key(self) -> str:
        """SECRET_KEY, or a random key kept in the instance folder (never in the repository)."""
        if self.secret_key:
            return self.secret_key
        key_file = self.instance_path / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.instance_path.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key


def _load_dotenv() -> None:
    from dotenv import load_dotenv

    load_dotenv(os.environ.get("MOBILIZE_ENV_FILE") or Path.cwd() / ".env", override=False)


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, not {raw!r}")
    return value


def _matching_timers(env: Mapping[str, str]) -> dict:
    """MATCH_HOLD_MAX_S and MATCH_DEBOUNCE_S override the matching's timers (wartime.dispatch.hold_max_s,
    wartime.after_commit): a drill on the live stack compresses time, so its hold-back must shrink with it; 0
    turns either off."""
    timers = {}
    for name, key in (("MATCH_HOLD_MAX_S", "hold_max_s"), ("MATCH_DEBOUNCE_S", "match_debounce_s")):
        raw = env.get(name)
        if raw in (None, ""):
            continue
        try:
            timers[key] = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
        if timers[key] < 0:
            raise ConfigError(f"{name} must not be negative, not {raw!r}")
    return timers


def _bool(raw: str | None) -> bool:
    return (raw or "").strip().lower() in {"1", "true", "yes", "on"}


MIN_METRICS_TOKEN_LENGTH = 32


def _metrics_token(raw: str | None) -> str | None:
    """A shared secret compared as it is: too short a one could be guessed, so it is refused at start."""
    token = (raw or "").strip()
    if token and len(token) < MIN_METRICS_TOKEN_LENGTH:
        raise ConfigError(f"MOBILIZE_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_LENGTH} characters (e.g. "
                          "the output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)")
    return token or None


def _thresholds(raw: str | None) -> tuple[int, ...]:
    if not raw:
        return DEFAULT_STAR_THRESHOLDS
    try:
        values = tuple(int(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(f"STAR_THRESHOLDS must be comma-separated whole hours, not {raw!r}") from None
    if list(values) != sorted(set(values)) or values[0] <= 0:
        raise ConfigError(f"STAR_THRESHOLDS must be increasing positive hours, not {raw!r}")
    return values


def _require_twilio(settings: Settings) -> None:
    missing = [name for name, value in (
        ("TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
        ("TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
    ) if not value]
    if not (settings.twilio_from or settings.twilio_messaging_service_sid):
        missing.append("TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID")
    if missing:
        raise ConfigError("SMS_BACKEND=twilio needs " + ", ".join(missing))
