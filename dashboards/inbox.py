"""我的待办 (/inbox), one household's sheet (/inbox/household/<id>), its visits' photos.

Phone-first server-rendered pages (390 px and up); Jinja escapes every value, so a request
text with markup shows as text. Every action is a CSRF-checked POST handed to
:mod:`analytics.actions` (scoped, versioned, audited); the page only adapts the outcome. A
visit's photos are served only by ``/inbox/photo/<id>`` (read by ``layers.visit_photos``,
audited, never cached).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Blueprint, Response, redirect, render_template_string, request
from werkzeug.exceptions import RequestEntityTooLarge

from analytics import actions, inbox
from analytics.assist_settings import get_assist_settings, get_photo_settings
from analytics.help_measures import help_measures
from analytics.lifecycle import BadTransition, StaleVersion
from analytics.photos import PhotoRefused
from core.errors import BEIJING, OneMapError
from dashboards.auth import csrf_token
from dashboards.errors import http_status
from dashboards.inbox_templates import HOUSEHOLD_PAGE, INBOX_PAGE, MESSAGE_PAGE
from dashboards.messages import HTML_LANG, normalise_lang, t
from dashboards.viewer import audited_request, current_user, mark_personal, request_id
from layers.visit_photos import UnknownPhoto, open_photo

inbox_pages = Blueprint("onemap_inbox", __name__)
_HOUSEHOLD = re.compile(r"H[0-9]{6,24}")


def page_lang() -> str:
    """The page's language from the query or the form."""
    return normalise_lang(request.values.get("lang"))


def _suffix(lang: str) -> str:
    return "?lang=en" if lang == "en" else ""


def render(template: str, lang: str, status: int = 200, **context: Any) -> Response:
    """Render an inbox template (personal data: never cached)."""
    page = render_template_string(
        template,
        t=lambda key, **values: t(key, lang, **values),
        html_lang=HTML_LANG[lang],
        lang=lang,
        suffix=_suffix(lang),
        csrf=csrf_token(),
        when=lambda at: f"{at.astimezone(BEIJING):%m-%d %H:%M}" if at else "",
        iso=lambda at: at.astimezone(dt.UTC).isoformat(timespec="seconds"),
        **context,
    )
    mark_personal()
    return Response(page, status=status, mimetype="text/html")


def message_page(
    lang: str, key: str, status: int, *, back: str | None = None, **values: Any
) -> Response:
    """A page with one message and a way back (refusals, conflicts)."""
    back = back or request.form.get("back") or "/inbox"
    if not back.startswith("/inbox"):
        back = "/inbox"
    return render(MESSAGE_PAGE, lang, status, message=t(key, lang, **values), back=back)


@inbox_pages.get("/inbox")
def inbox_page() -> Response:
    """The signed-in official's open items, worst level and nearest deadline first."""
    lang = page_lang()
    box = inbox.open_inbox(current_user(), request_id())
    return render(
        INBOX_PAGE,
        lang,
        box=box,
        items=box.items,
        done=request.args.get("done") == "1",
        area_actor=box.actor == actions.AREA_ACTOR,
        max_items=inbox.MAX_ITEMS,
    )


def _int(name: str) -> int:
    value = request.form.get(name, "")
    if not value.isdigit():
        raise actions.InvalidAction(f"{name} must be a number")
    return int(value)


def outcome(lang: str, call: Any, target: str) -> Response:
    """Run an action; a clear page (409/403/422) when it cannot be done, else back."""
    try:
        call()
    except StaleVersion:
        return message_page(lang, "inbox.conflict", 409)
    except actions.NotYours:
        return message_page(lang, "inbox.refused", 403)
    except PhotoRefused as error:
        key = f"photo.refused.{error.reason}"
        return message_page(lang, key, http_status(error), back=target, **error.values)
    except (actions.InvalidAction, BadTransition) as error:
        return message_page(lang, "inbox.invalid", 422, detail=error.user_msg)
    sep = "&" if "?" in target else "?"
    return redirect(f"{target}{sep}done=1" + ("&lang=en" if lang == "en" else ""))  # type: ignore[return-value]


@inbox_pages.post("/inbox/act")
def act() -> Response:
    """Acknowledge, verify, resolve or dismiss a warning or a task."""
    lang, user = page_lang(), current_user()
    kind, action = request.form.get("kind", ""), request.form.get("action", "")
    back = request.form.get("back") or "/inbox"
    target = back if back.startswith("/inbox") else "/inbox"

    def call() -> None:
        item, version, note = _int("item"), _int("version"), request.form.get("note")
        if kind == "warning":
            actions.act_on_warning(
                user, item, action, version=version, note=note, request_id=request_id()
            )
        elif kind == "task":
            actions.act_on_task(
                user, item, action, version=version, note=note, request_id=request_id()
            )
        else:
            raise actions.InvalidAction(f"unknown item kind {kind!r}")

    return outcome(lang, call, target)


@inbox_pages.get("/inbox/household/<household_id>")
def household_page(household_id: str) -> Response:
    """One household: open items, visit form, recent visits and the help plan."""
    lang, user = page_lang(), current_user()
    if not _HOUSEHOLD.fullmatch(household_id):
        return message_page(lang, "inbox.refused", 404)
    try:
        sheet = inbox.household_sheet(user, household_id, request_id())
    except actions.NotYours:
        return message_page(lang, "inbox.refused", 403)
    return render(
        HOUSEHOLD_PAGE,
        lang,
        sheet=sheet,
        items=sheet["items"],
        measures=help_measures(),
        today=dt.datetime.now(BEIJING).date(),
        done=request.args.get("done") == "1",
        statuses=actions.PLAN_STATUSES,
        photo_max=get_photo_settings().max_per_visit,
    )


def _location() -> actions.Location | None:
    lat, lon = request.form.get("lat", ""), request.form.get("lon", "")
    if not lat or not lon:
        return None
    try:
        return actions.Location(float(lat), float(lon))
    except ValueError as error:
        raise actions.InvalidAction("the location is not a number") from error


def _photos() -> list[bytes]:
    """The visit form's photos (an empty file field sends a part without a name: none)."""
    cap = get_photo_settings().max_bytes
    # One byte over the cap is enough to refuse it; the request's size is capped by Flask.
    return [part.stream.read(cap + 1) for part in request.files.getlist("photo") if part.filename]


@inbox_pages.post("/inbox/household/<household_id>/visit")
def visit(household_id: str) -> Response:
    """Record a home visit (with the browser's location when allowed, and photos)."""
    lang, user = page_lang(), current_user()
    return outcome(
        lang,
        lambda: actions.record_visit(
            user,
            household_id,
            note=request.form.get("note", ""),
            location=_location(),
            photos=_photos(),
            request_id=request_id(),
        ),
        f"/inbox/household/{household_id}",
    )


@inbox_pages.get("/inbox/photo/<int:photo_id>")
def photo(photo_id: int) -> Response:
    """One visit photo, for the household's official (404 for anyone else), audited."""
    try:
        with audited_request(current_user()) as trail:
            found = open_photo(trail, photo_id)
    except UnknownPhoto as error:
        return message_page(page_lang(), "error.unknown_photo", http_status(error))
    response = Response(found.data, mimetype=found.content_type)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    return response


@inbox_pages.errorhandler(RequestEntityTooLarge)
def _too_large(_error: RequestEntityTooLarge) -> Response:
    # The form was not read (it is too large): the language and the way back come from the URL.
    settings = get_photo_settings()
    return message_page(
        normalise_lang(request.args.get("lang")),
        "photo.refused.request_too_large",
        413,
        back=request.path.removesuffix("/visit"),
        max=settings.max_per_visit,
        mb=settings.max_megabytes,
    )


def _date(name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(request.form.get(name, ""))
    except ValueError as error:
        raise actions.InvalidAction(f"{name} is not a date") from error


@inbox_pages.post("/inbox/household/<household_id>/plan")
def add_measure(household_id: str) -> Response:
    """Add a measure to the household's plan (answering a warning when one is named)."""
    lang, user = page_lang(), current_user()

    def call() -> None:
        warning = request.form.get("warning", "")
        actions.add_plan_item(
            user,
            household_id,
            measure=request.form.get("measure", ""),
            owner=request.form.get("owner", ""),
            start=_date("start"),
            due=_date("due"),
            warning_id=int(warning) if warning.isdigit() else None,
            request_id=request_id(),
        )

    return outcome(lang, call, f"/inbox/household/{household_id}")


@inbox_pages.post("/inbox/plan/<int:item_id>")
def plan_status(item_id: int) -> Response:
    """Move a plan item on (or drop it, with a reason)."""
    lang, user = page_lang(), current_user()
    back = request.form.get("back") or "/inbox"
    return outcome(
        lang,
        lambda: actions.set_plan_status(
            user,
            item_id,
            request.form.get("status", ""),
            version=_int("version"),
            reason=request.form.get("reason"),
            request_id=request_id(),
        ),
        back if back.startswith("/inbox") else "/inbox",
    )


@inbox_pages.errorhandler(OneMapError)
def _refused(error: OneMapError) -> Response:
    return message_page(page_lang(), "inbox.invalid", http_status(error), detail=error.user_msg)


def cap() -> int:
    """The per-official household cap (the team page names who is over)."""
    return get_assist_settings().max_households_per_official
