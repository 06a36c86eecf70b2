"""The conversations, one module each. Channel-free: they speak bot.events only."""
