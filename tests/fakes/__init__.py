"""Loopback fakes of the chat platforms (Telegram Bot API, Zalo OA Open API) for tests.

They are real HTTP servers on 127.0.0.1, so the bot talks to them exactly as it talks to the
platforms: python-telegram-bot via ``base_url``, the Zalo client via its base URLs.
"""

from ._telegram_records import BotMessage, CallbackAnswer, InlineButton, SentDocument
from ._zalo_records import WebhookPost, ZaloButton, ZaloSentMessage
from .telegram_api import FakeTelegram, TelegramLimits
from .zalo_oa import FakeZaloOA, zalo_signature

__all__ = [
    "BotMessage",
    "CallbackAnswer",
    "FakeTelegram",
    "FakeZaloOA",
    "InlineButton",
    "SentDocument",
    "TelegramLimits",
    "WebhookPost",
    "ZaloButton",
    "ZaloSentMessage",
    "zalo_signature",
]
