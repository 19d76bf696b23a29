"""Why an action of the assistance loop was refused (raised by ``actions`` and ``photos``)."""

from __future__ import annotations

from core.errors import OneMapError, OutOfScope


class NotYours(OutOfScope):
    """The household is not paired with the caller, or lies outside their area."""

    user_msg = "This household is not yours to act on (not paired with you, or outside your area)."


class InvalidAction(OneMapError, ValueError):
    """An action that cannot be done as asked (missing reason, unknown measure, too long…)."""
