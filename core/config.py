"""Settings, read from the environment and an optional ``.env`` file.

Every setting is documented in ``.env.example``; keep the two in step.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SAMPLE_DATA_DIR = Path(__file__).parent / "market" / "sample"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    # storage
    database_url: str = Field(
        default="sqlite+aiosqlite:///var/stoxlify.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db",
    )
    database_echo: bool = False
    # shared state (buttons, rate limits, the candle cache): in memory unless REDIS_URL is set
    redis_url: str | None = Field(
        default=None,
        description="redis://[:password@]host:6379/0 to share state between replicas; unset: in process memory",
    )
    redis_prefix: str = "stoxlify:"  # every key the bot writes in Redis starts with this

    # market data
    market_offline: bool = Field(
        default=True,
        description="Serve every market request from the CSV source (MARKET_DATA_DIR); no network.",
    )
    market_data_dir: Path = SAMPLE_DATA_DIR
    # the shipped sample data continues in real time (one-minute bars from the seed) after its last bar
    sample_live: bool = True
    sample_seed: int = 1
    market_timeout_s: float = 10.0
    market_max_bars: int = 5000
    binance_markets: list[str] = Field(default_factory=lambda: ["spot"])

    # charts
    chart_max_candles: int = 300
    chart_width_px: int = 1200
    chart_height_px: int = 800

    # backtests (/run, /simulate): starting cash per quote currency, commission per leg by market
    backtest_cash_idr: float = 100_000_000.0
    backtest_cash_usd: float = 10_000.0  # USD, USDT and other quote currencies
    backtest_commission_stocks: float = 0.002  # IDX brokers charge about 0.15 % buying, 0.25 % selling
    backtest_commission_crypto: float = 0.001  # Binance spot taker fee
    backtest_crypto_step: float = 0.00001  # fractional units traded in steps of this size

    # bandarmology (/bandar): an IDX per-ticker broker-summary API, and the crypto trade analysis
    bandar_api_url: str | None = None  # base URL; GET {url}/stocks/broker-summary is called
    bandar_api_key: SecretStr | None = None
    bandar_api_key_header: str = "Authorization"  # "Authorization" sends "Bearer KEY"; any other name the raw key
    bandar_timeout_s: float = 10.0
    bandar_crypto_max_trades: int = 5000  # public trades read per crypto analysis (1,000 a request)
    bandar_large_trade_percentile: float = Field(default=90.0, gt=0, lt=100)  # large takers: top tenth by value
    bandar_large_trade_value: float | None = Field(default=None, gt=0)  # or a fixed size in the quote currency

    # chat transports
    telegram_token: SecretStr | None = None
    telegram_mode: Literal["polling", "webhook"] = "polling"
    # public HTTPS URL Telegram posts updates to; its path is served on API_LISTEN:API_PORT (api.webhooks)
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None  # checked on every webhook call
    telegram_webhook_max_bytes: int = Field(default=1024 * 1024, ge=64 * 1024)  # larger requests: 413, unread
    discord_token: SecretStr | None = None
    discord_sync: Literal["guild", "global"] = "global"  # guild: instant sync to DISCORD_GUILD_IDS (development)
    discord_guild_ids: list[int] = Field(default_factory=list)
    discord_message_content: bool = False  # privileged intent: lets the bot delete keys pasted in servers
    discord_members_intent: bool = False  # privileged intent: a member leaving a server revokes /copy at once
    rate_limit_per_minute: int = 12  # expensive commands (charts, backtests) per user per minute

    # administrators: platform identities ("telegram:123456", "discord:987654321", "console:alice")
    admin_ids: list[str] = Field(default_factory=list)
    admin_chat: str | None = None  # where Contact Us messages go: "telegram:-1001234567890"

    # media (core.media): uploads live in a local folder unless MEDIA_S3_BUCKET names an S3-compatible bucket
    media_dir: Path | None = None  # default: a "media" folder next to the SQLite file (or ./var/media)
    media_max_bytes: int = 5 * 1024 * 1024
    media_s3_bucket: str | None = None
    media_s3_endpoint: str | None = None  # https://s3.ap-southeast-1.amazonaws.com, http://minio:9000, ...
    media_s3_region: str = "us-east-1"
    media_s3_access_key: SecretStr | None = None
    media_s3_secret_key: SecretStr | None = None

    # Contact Us (core.contact): messages one user may send per hour
    contact_per_hour: int = 5

    # the free tier's limits (a settled subscription raises them: core/purchase/limits.py)
    free_max_deployments: int = 3
    free_live_trading: bool = False
    free_max_position_value: float | None = None
    # media storage per user (plans raise them with max_media_files / max_media_bytes); 0: no limit
    free_max_media_files: int = Field(default=20, ge=0)
    free_max_media_bytes: int = Field(default=25 * 1024 * 1024, ge=0)

    # brokers: exchange keys are stored encrypted with the first of these Fernet keys (newest first);
    # older keys still decrypt, so a new key can be put in front and ``rotate`` run at leisure.
    broker_master_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    broker_timeout_s: float = 10.0  # one exchange request, in seconds
    paper_start_idr: float = 100_000_000.0  # a paper account's starting cash
    paper_start_usdt: float = 10_000.0
    # paper fills this fraction worse than the backtest's price (buys higher, sells lower); 0 keeps
    # a paper deployment trade for trade equal to /run
    paper_slippage: float = Field(default=0.0, ge=0, lt=0.1)

    # commerce (core.product, core.purchase): amounts are whole rupiah
    tax_percent: int = Field(default=11, ge=0, le=100)  # Indonesian VAT (PPN)
    prices_include_tax: bool = False  # True: product prices already contain the tax
    payment_provider: Literal["Mock", "Mayar"] = "Mock"  # Mock settles at once (development)
    payment_expiry_hours: int = Field(default=24, ge=1)  # an unpaid invoice expires after this
    mayar_api_key: SecretStr | None = None
    mayar_base_url: str = "https://api.mayar.id"  # sandbox: https://api.mayar.club
    mayar_redirect_url: str | None = None  # where Mayar sends the payer after paying
    mayar_timeout_s: float = 15.0
    mayar_webhook_enabled: bool = False  # serve Mayar's webhook on the API's server (api.webhooks.mayar)
    mayar_webhook_path: str = "/mayar/webhook"
    mayar_webhook_token: SecretStr | None = None  # required by the webhook: its URL must carry ?token=<this>
    mayar_webhook_max_bytes: int = Field(default=64 * 1024, ge=1024)  # Mayar's events are a few KB
    mayar_readbacks_per_minute: int = Field(default=30, ge=1)  # invoice read-backs webhooks may cause, overall
    mayar_readbacks_per_invoice_per_minute: int = Field(default=4, ge=1)
    payment_event_retention_days: int = Field(default=90, ge=1)  # stored webhook events older than this go
    # Telegram Stars (core.purchase.stars): a purchase made in Telegram is invoiced in stars (XTR) instead
    # of PAYMENT_PROVIDER (digital goods sold in a Telegram bot must be paid in Stars); other chats keep it
    stars_enabled: bool = False
    stars_rupiah_per_star: int = Field(default=300, ge=1)  # a total in rupiah / this, rounded up to whole stars

    # compute (core.compute): where CPU work runs, and each user's fair share of it
    # local: a warm process pool; queue: stoxlify worker processes through Redis; inline: threads (tests)
    compute: Literal["local", "queue", "inline"] = "local"
    compute_workers: int = Field(default=0, ge=0)  # processes in the local pool; 0: two per core
    compute_task_limit_s: float = Field(default=30.0, gt=0)  # any task past this is stopped (its worker killed)
    compute_cpu_s_per_minute: float = Field(default=60.0, ge=0)  # per user; 0: unbounded
    compute_tasks_per_user: int = Field(default=2, ge=1)  # a user's tasks running at once; the rest queue
    compute_memory_mb: int = Field(default=2048, ge=0)  # per worker process; 0: unbounded
    compute_broker_url: str | None = None  # COMPUTE=queue: the Redis of the task queue (REDIS_URL when unset)
    compute_queue_slots: int = Field(default=16, ge=1)  # tasks on the queue at once (the rest wait, fairly)
    compute_queue_retry_s: float = Field(default=30.0, gt=0)  # a dead worker's task goes to another after this

    # the HTTP API (api/): the Stoxlify Core API over HTTP, bearer tokens from /token new
    api_enabled: bool = False  # stoxlify run serves it too; stoxlify api serves it alone
    api_listen: str = "127.0.0.1"  # loopback by default: put a TLS proxy in front to expose it
    api_port: int = Field(default=8080, ge=1, le=65535)
    api_max_body_bytes: int = Field(default=1_000_000, ge=1024)  # refused with 413 before the body is read
    api_stream_heartbeat_s: float = Field(default=15.0, gt=0, le=300)  # ": ping" on an idle /v1/alerts/stream
    api_rate_limit_per_minute: int = Field(default=120, ge=0)  # requests per token per minute; 0: unlimited

    # jobs
    jobs_enabled: bool = True

    # deployments and the order executor (core.deployment, core.deployment.executor, jobs.scheduler)
    late_grace_s: int = 900  # Late timing: evaluate this long after the candle closes (delayed feeds)
    tick_every_s: int = 20  # how often the scheduler looks for newly closed candles
    # A feed's "no such ticker" ends a deployment only when every fetch said so for this many ticks
    # in a row, spanning at least this many hours (a single empty answer is a hiccup, not a delisting)
    delisted_after_checks: int = Field(default=10, ge=1)
    delisted_after_hours: float = Field(default=72.0, ge=0)
    order_retries: int = 3  # sends of one order on transient failures (timeouts before sending, rate limits)
    order_retry_base_s: float = 0.5  # first back-off; doubles each retry
    order_max_age_s: int = 900  # a recorded order not sent within this long is marked Failed, never sent late
    order_unknown_grace_s: int = 120  # an order sent with unknown outcome and not found after this is Failed
    # client order ids start with this (letters and digits, 1-6): installations sharing an exchange account differ
    order_id_prefix: str = Field(default="sx", pattern=r"^[A-Za-z][A-Za-z0-9]{0,5}$")
    reconcile_every_s: int = 60  # how often open order intents are reconciled with the broker
    watch_check_every_s: int = 60  # how often watches are checked: an hourly watch hears of a close within a minute
    payments_poll_every_s: int = 120  # how often pending purchases are refreshed from the provider

    # logging
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"
    # python-telegram-bot and discord.py log whole updates and gateway events at DEBUG (what users
    # type, keys included, scrubbed all the same): off unless asked for, even at LOG_LEVEL=DEBUG.
    log_chat_payloads: bool = False

    @field_validator("telegram_token", "discord_token", "telegram_webhook_secret", "telegram_webhook_url",
                     "mayar_webhook_token", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value in ("", None) else value

    @field_validator("broker_master_keys", mode="before")
    @classmethod
    def _key_list(cls, value: object) -> object:
        """A comma-separated string (``KEY1,KEY2``) or a JSON list; empty means none."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    def commission(self, *, crypto: bool) -> float:
        """The fee per leg, a fraction of traded value: the backtest charges it and so does the paper
        account, so a paper deployment trades exactly as ``/run`` shows."""
        return self.backtest_commission_crypto if crypto else self.backtest_commission_stocks

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sample_data(self) -> bool:
        """True when market data comes from the shipped sample files, which every reply must say."""
        return self.market_offline and Path(self.market_data_dir).resolve() == SAMPLE_DATA_DIR.resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
