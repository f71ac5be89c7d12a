"""FIT-bot: Feedback Informed Treatment for Danish family departments, on Telegram."""

import os

__version__ = "0.1.0"

# python-telegram-bot 22 warns that RetryAfter.retry_after becomes a timedelta; opt in to the new type now
# (the code accepts both) so the warning never fires in production logs or under `filterwarnings = error`.
os.environ.setdefault("PTB_TIMEDELTA", "1")
