"""The 我的待办 count badge in the header of every page (a small component of its own)."""

from __future__ import annotations

from dash import html

from analytics.inbox import inbox_count
from core.access import User
from dashboards.messages import t


def inbox_badge(user: User, lang: str) -> html.A | None:
    """A link to /inbox with the open-item count; None for roles that act on no household."""
    count, late = inbox_count(user)
    if count == 0 and late == 0 and not _acts(user):
        return None
    return html.A(
        t("inbox.badge", lang, n=count),
        href="/inbox" + ("?lang=en" if lang == "en" else ""),
        id="inbox-badge",
        className="inbox-badge" + ("" if count else " empty"),
        title=t("inbox.badge_label", lang, n=count, late=late),
    )


def _acts(user: User) -> bool:
    return user.role.value in {"official", "county_leader"}
