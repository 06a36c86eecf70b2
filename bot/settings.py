"""Settings from the environment (LANGNGHE_*) or a .env file; command-line flags override."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.db import DEFAULT_URL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LANGNGHE_", env_file=".env", extra="ignore")

    database_url: str = DEFAULT_URL
    today: str | None = None  # "2017-05-10" replays the 2017 season
    plan: Path | None = None  # another plan file; default: the shipped 2017 plan
    sqlite_synchronous: str = "NORMAL"
    default_language: str = "vi"

    # Web server (Zalo and Telegram webhooks)
    host: str = "127.0.0.1"
    port: int = 8080

    # Zalo Official Account
    zalo_app_id: str = ""
    zalo_oa_id: str = ""
    zalo_oa_secret_key: SecretStr = SecretStr("")
    zalo_app_secret: SecretStr = SecretStr("")
    # The first token pair, used only while the database holds none (then it rotates
    # there; `langnghe-bot zalo set-token` stores a pair explicitly).
    zalo_access_token: SecretStr = SecretStr("")
    zalo_refresh_token: SecretStr = SecretStr("")
    # Where the APIs are: the real Zalo by default, a test server in tests and demos.
    zalo_api_base: str = "https://openapi.zalo.me"
    zalo_oauth_base: str = "https://oauth.zaloapp.com"

    # Telegram
    telegram_token: SecretStr = SecretStr("")
    telegram_webhook_secret: SecretStr = SecretStr("")
    telegram_webhook_url: str = ""  # public https URL of /telegram/webhook, set at start
    telegram_base_url: str = ""  # another Bot API server (a test server); default Telegram's
    telegram_chat_per_second: float = 1.0  # our limit per private chat, with bursts of:
    telegram_chat_burst: int = 3

    # Reminders and broadcasts
    reminders: Path | None = None  # reminder rules; default: bot/plans/<plan id>.reminders.toml
    scheduler_seconds: float = 5.0  # how often the scheduler looks for due work
    outbox_lease_seconds: float = 60.0  # a claimed message not sent by then goes back

    # Forwarding confirmed registrations to another system (optional): each is POSTed as
    # JSON with an HMAC-SHA256 signature of the body in X-Langnghe-Signature.
    forward_url: str = ""
    forward_secret: SecretStr = SecretStr("")
