"""Settings, read from the environment and an optional ``.env`` file.

Every setting is documented in ``.env.example``; keep the two in step.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SAMPLE_DATA_DIR = Path(__file__).parent / "market" / "sample"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    # storage
    database_url: str = Field(
        default="sqlite+aiosqlite:///var/stoxlify.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db",
    )
    database_echo: bool = False

    # market data
    market_offline: bool = Field(
        default=True,
        description="Serve every market request from the CSV source (MARKET_DATA_DIR); no network.",
    )
    market_data_dir: Path = SAMPLE_DATA_DIR
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

    # chat transports
    telegram_token: SecretStr | None = None
    telegram_mode: Literal["polling", "webhook"] = "polling"
    telegram_webhook_url: str | None = None  # public HTTPS URL Telegram posts updates to
    telegram_webhook_secret: SecretStr | None = None  # checked on every webhook call
    telegram_webhook_listen: str = "0.0.0.0"
    telegram_webhook_port: int = 8443
    discord_token: SecretStr | None = None
    discord_sync: Literal["guild", "global"] = "global"  # guild: instant sync to DISCORD_GUILD_IDS (development)
    discord_guild_ids: list[int] = Field(default_factory=list)
    discord_message_content: bool = False  # privileged intent: lets the bot delete keys pasted in servers
    rate_limit_per_minute: int = 12  # expensive commands (charts, backtests) per user per minute

    # administrators: platform identities ("telegram:123456", "discord:987654321", "console:alice")
    admin_ids: list[str] = Field(default_factory=list)
    admin_chat: str | None = None  # where Contact Us messages go: "telegram:-1001234567890"

    # the free tier's limits (a settled subscription raises them: core/account/limits.py)
    free_max_deployments: int = 3
    free_live_trading: bool = False
    free_max_position_value: float | None = None

    # jobs
    jobs_enabled: bool = True

    # logging
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"

    @field_validator("telegram_token", "discord_token", "telegram_webhook_secret", "telegram_webhook_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value in ("", None) else value

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
