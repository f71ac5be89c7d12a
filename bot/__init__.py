"""FIT-bot: Feedback Informed Treatment for Danish family departments, on Telegram."""

__version__ = "0.1.0"
