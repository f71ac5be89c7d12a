"""The marker for human-readable text in the pure domain.

The domain cannot import gettext, so it only *marks* its Danish msgids; ``bot.i18n`` translates them.
Extraction: ``pybabel extract -k N_ ...``. Parameters are Python named ``{placeholders}`` that the
caller fills with ``msg.format(**params)`` after translating. The domain avoids plurals on purpose.
"""


def N_(message: str) -> str:
    """Return ``message`` unchanged; marks it as a Danish msgid for extraction."""
    return message
