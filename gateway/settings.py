"""Settings from the environment (`LINKGATE_` prefix, `.env` too), validated at start."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AnyUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.common import Destination

PACKAGE_DIR = Path(__file__).resolve().parent


class SettingsError(RuntimeError):
    """A bad setting at start: the message names the variable and what is wrong."""


class Settings(BaseSettings):
    """Everything a gateway process needs to know; names follow interface contract v1."""

    model_config = SettingsConfigDict(
        env_prefix="LINKGATE_", env_file=".env", extra="ignore", validate_default=True
    )

    # --- infrastructure
    amqp_url: str = "amqp://guest:guest@localhost:5672/"
    redis_url: str = "redis://localhost:6379/0"
    redis_prefix: str = Field("lg", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    redis_max_connections: int = Field(
        200, ge=1, le=10_000, description="connections per process; more commands wait"
    )
    redis_pool_timeout_s: float = Field(
        5.0, gt=0, description="how long a command waits for a free connection"
    )
    exchange: str = Field("linkage.events", description="topic exchange of contract v1")
    dead_letter_exchange: str = "linkage.dlx"
    spool_dir: Path = Path("var/spool")
    prefetch: int = Field(64, ge=1, le=10_000)
    max_attempts: int = Field(5, ge=1, le=50)
    retry_delays_ms: list[int] = Field(default_factory=lambda: [1000, 5000, 30000])
    idempotency_ttl_s: int = Field(7 * 24 * 3600, ge=60)
    idempotency_claim_ttl_s: int = Field(
        120, ge=1, description="a crashed consumer's in-flight claim frees after this"
    )

    # --- HTTP API
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=1, le=65535)
    http_workers: int = Field(1, ge=1, le=64)
    event_loop: Literal["auto", "asyncio", "uvloop"] = Field(
        "auto", description="every process's event loop: auto = uvloop where installed"
    )
    public_base_url: AnyUrl = AnyUrl("http://127.0.0.1:8080")
    api_keys: dict[str, list[str]] = Field(
        default_factory=dict,
        repr=False,  # the keys themselves are secrets: never in a repr or a log line
        description="API key -> scopes, e.g. {\"k1\": [\"orders:write\", \"routing:read\"]}",
    )
    platform_secrets: dict[str, SecretStr] = Field(
        default_factory=dict, description="platform id -> HMAC secret (12345, sea centres)"
    )
    max_body_bytes: int = Field(256 * 1024, ge=1024)
    api_rate_per_minute: int = Field(
        1200, ge=1, description="requests a minute per API key (burst: a quarter of it)"
    )

    # --- routing
    rules_file: Path | None = None
    directory_file: Path | None = None

    # --- destinations (HTTP endpoints of the centres)
    direct_delivery: list[Destination] = Field(
        default_factory=lambda: [Destination.COMMAND_CENTRE],
        description=(
            "centres the router posts routed alerts to itself; by default only the command "
            "centre (it sees every decision): 12345 gets a ticket transfer and the sea "
            "centres a hand-over from `linkgate sla`, one record per alert"
        ),
    )
    command_centre_url: AnyUrl | None = None
    hotline_url: AnyUrl | None = None
    maritime_sar_url: AnyUrl | None = None
    ocean_fishery_url: AnyUrl | None = None
    destination_timeout_s: float = Field(5.0, gt=0, le=120)

    # --- Asterisk AMI
    ami_host: str = "127.0.0.1"
    ami_port: int = Field(5038, ge=1, le=65535)
    ami_username: str = "linkgate"
    ami_secret: SecretStr = SecretStr("")
    ami_action_timeout_s: float = Field(10.0, gt=0)
    ami_ping_interval_s: float = Field(15.0, gt=0)
    ami_ping_timeout_s: float = Field(5.0, gt=0, description="no Pong in time: link is dead")
    ami_reconnect_max_s: float = Field(30.0, gt=0, description="cap of the jittered backoff")
    ami_event_queue_size: int = Field(10_000, ge=10, description="back-pressure bound")
    ami_inbound_contexts: list[str] = Field(
        default_factory=lambda: ["from-trunk"], description="dialplan contexts of inbound trunks"
    )
    emergency_numbers: list[str] = Field(
        default_factory=lambda: ["110", "12345", "12110", "119", "120", "122"]
    )

    # --- call orchestration: three-way calls, transfer to 12345, duty-line checks
    conference_context: str = Field("linkage-conf", description="dialplan context of the rooms")
    conference_room_base: int = Field(900000, ge=1, description="first numeric ConfBridge room")
    hotline_context: str = "hotline"
    hotline_exten: str = "12345"
    dial_template: str = Field("PJSIP/{national}@trunk", description="{e164} / {national}")
    dial_overrides: dict[str, str] = Field(
        default_factory=dict, description="E.164 -> dial string (duty rooms on our own PBX)"
    )
    originate_caller_id: str = '"110 Linkage" <110>'
    threeway_ring_timeout_s: float = Field(30.0, gt=0, le=300)
    call_state_ttl_s: int = Field(90 * 24 * 3600, ge=3600)
    dutycheck_context: str = "dutycheck"
    dutycheck_exten: str = "s"
    dutycheck_ring_timeout_s: float = Field(30.0, gt=0, le=300)
    dutycheck_concurrency: int = Field(2, ge=1, le=50)
    dutycheck_window_start: str = Field("09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    dutycheck_window_minutes: int = Field(480, ge=0, le=24 * 60)
    dutycheck_schedule_days: list[int] = Field(
        default_factory=list, description="days of month (Asia/Shanghai) of automatic checks"
    )
    dutycheck_miss_threshold: int = Field(3, ge=1, description="Lishui: unanswered 3 times")
    dutycheck_poll_interval_s: float = Field(1.0, gt=0)

    # --- SMS (Twilio) and WeChat / WeCom
    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_from_number: str = ""
    twilio_api_base: AnyUrl = AnyUrl("https://api.twilio.com")
    wechat_token: SecretStr = SecretStr("")
    wechat_app_id: str = ""
    wechat_aes_key: SecretStr = SecretStr("")
    wecom_robot_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="robot name -> WeCom group robot key"
    )
    wecom_api_base: AnyUrl = AnyUrl("https://qyapi.weixin.qq.com")

    # --- operations: metrics, queue depths, live board
    metrics_port: int = Field(0, ge=0, le=65535, description="Prometheus port; 0 = off")
    metrics_host: str = "127.0.0.1"
    rabbitmq_mgmt_url: AnyUrl = AnyUrl("http://127.0.0.1:15672")
    ops_refresh_s: float = Field(5.0, gt=0, le=300, description="gauge refresh period")

    # --- orders, deadlines, platform exchanges, supervision
    deadline_profile: str = Field("lishui", description="default profile: lishui|zhoushan|anhua")
    deadline_jurisdictions: dict[str, str] = Field(
        default_factory=dict, description="jurisdiction -> deadline profile name"
    )
    deadline_overrides: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="profile -> {field: minutes}, e.g. tier1_urban"
    )
    sla_warning_fraction: float = Field(0.7, gt=0, lt=1, description="remind at this share")
    sla_poll_interval_s: float = Field(1.0, gt=0)
    sla_claim_lease_s: float = Field(60.0, gt=0, description="a claimed timer returns after this")
    platform_replay_window_s: int = Field(300, ge=10, le=3600)
    deduction_points: dict[str, float] = Field(
        default_factory=dict, description="evidence kind -> points (Lishui: 0.5-2 per item)"
    )

    # --- logging
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    log_json: bool = True

    @field_validator("amqp_url")
    @classmethod
    def _amqp_scheme(cls, value: str) -> str:
        if not value.startswith(("amqp://", "amqps://")):
            raise ValueError("must start with amqp:// or amqps://")
        return value

    @field_validator("dial_template")
    @classmethod
    def _dial_template(cls, value: str) -> str:
        try:
            value.format(e164="+8613800138000", national="13800138000")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only {{e164}} and {{national}} may be used: {exc!r}") from None
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("wechat_aes_key")
    @classmethod
    def _aes_key_length(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if raw and len(raw) != 43:
            raise ValueError("EncodingAESKey must be 43 characters")
        return value

    def key(self, *parts: str) -> str:
        """A Redis key in this deployment's namespace."""
        return ":".join((self.redis_prefix, *parts))


def load_settings(**overrides: object) -> Settings:
    """Build settings or fail with one clear line per bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = [
            f"LINKGATE_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        ]
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings (tests build their own with `load_settings`)."""
    return load_settings()
