"""Channels: translate platform updates to bot.events and render replies back."""
