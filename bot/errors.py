"""Domain errors that a user may see, defined once.

Every error the product turns into a reply derives from ``UserFacingError``. An error carries a
catalogue key (see ``bot.messages``) and the parameters its text needs; it never carries text itself,
so the same error reads well in every language. ``bot.messages.describe(error, lang)`` is the one
function that turns an error into words.

    UserFacingError
    ├── AudioError            the file itself: empty, not audio, too long, no speech, ...
    │   (defined in bot.audio's section below)
    └── ...                   later: rate limits, quotas, platform refusals
"""

from __future__ import annotations


class UserFacingError(Exception):
    """An error whose meaning a user needs to hear: what happened and what to do."""

    key = "error.internal"

    def __init__(self, detail: str = "", **params: object) -> None:
        super().__init__(detail or self.key)
        self.detail = detail  # for logs only; never shown to users
        self.params = params


# --- audio intake -------------------------------------------------------------------------------


class AudioError(UserFacingError):
    """Something about the audio file prevents analysis."""

    key = "audio.unreadable"
