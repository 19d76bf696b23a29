"""Logins in the browser: the session cookie, the login gate, CSRF, ``/login`` and ``/logout``.

The session lives in PostGIS (``app_session``, :mod:`core.sessions`): Flask's signed cookie
(HttpOnly, SameSite=Lax, Secure over HTTPS) only carries a random session id and the CSRF token,
and the table keeps the id's SHA-256, the user, the login time and the last use. Session and
user are read on every request, so logging out, a disabled account, a new password, a change of
role or ``onemap users logout`` end every copy of the cookie at once. Passwords, the lockout
and the attempt log are ``core.users.authenticate``'s.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import time
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, Response, current_app, g, redirect, request, session
from flask.sessions import SecureCookieSessionInterface

from core import db, sessions, tokens
from core.access import Role, User
from core.errors import (
    BEIJING,
    AccountDisabled,
    AccountLocked,
    AuthenticationFailed,
)
from core.users import authenticate
from dashboards.errors import CsrfRejected, NotLoggedIn, http_status
from dashboards.messages import normalise_lang, t
from dashboards.pages import login_page
from dashboards.wall_access import is_wall_path, wall_gate
from dashboards.websettings import get_web_settings

SESSION_COOKIE = "onemap_session"
#: dash-renderer sends the value of this cookie in this header with every callback
#: (dash/dash-renderer: getCSRFHeader; Dash's csrf_token_name / csrf_header_name defaults).
CSRF_COOKIE = "_csrf_token"
CSRF_HEADER = "X-CSRFToken"
#: Forms (login, logout) send the token as this field.
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Anyone may fetch these: static bundles and assets (no data), the login page, health.
PUBLIC_PREFIXES = ("/_dash-component-suites/", "/assets/", "/static/")
PUBLIC_PATHS = frozenset({"/login", "/logout", "/healthz", "/_favicon.ico"})
#: Without a login the door page only asks to log in.
DOOR_PREFIX = "/h/"
#: Data routes answer 401 instead of redirecting to the login page.
_DATA_PREFIXES = ("/_dash-", "/api/", "/tiles/", "/downloads/", "/ogc")
#: Paths a desktop GIS may reach with an API token (``Authorization: Bearer …``).
TOKEN_PREFIXES = ("/ogc", "/tiles/")
#: The last-seen time is written back at most this often (seconds): fewer new cookies.
_SEEN_EVERY = 30

auth = Blueprint("onemap_auth", __name__)


def now() -> float:
    """The current time in seconds (tests replace it to age a session)."""
    return time.time()


class OneMapSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure per request (or as ``ONEMAP_WEB_SECURE_COOKIES`` says)."""
        setting = get_web_settings().secure_cookies
        return request.is_secure if setting is None else setting


def configure_sessions(server: Flask) -> None:
    """Key, cookie flags and lifetime of the session cookie."""
    settings = get_web_settings()
    server.secret_key = settings.session_key()
    server.session_interface = OneMapSessionInterface()
    server.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=settings.idle_minutes),
        SESSION_REFRESH_EACH_REQUEST=True,
    )


def is_public(path: str) -> bool:
    """True for paths anyone may fetch without a login."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def csrf_token() -> str:
    """The session's CSRF token (made on first use)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


_SESSION_USER_SQL = """
SELECT u.username, u.display_name, u.role, u.jurisdiction, s.login_at, s.seen_at
FROM app_session s JOIN app_user u ON u.username = s.username
WHERE s.id_hash = %s AND NOT u.disabled
"""


def _end_session(session_id: str) -> None:
    with db.app_connection() as conn:
        sessions.end(conn, session_id)


def bearer_user() -> User | None:
    """The user of a valid API token sent as ``Authorization: Bearer …`` (else None)."""
    kind, _, token = request.headers.get("Authorization", "").partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        return None
    with db.app_connection() as conn:
        return tokens.user_of(conn, token)  # None: unknown, revoked, or its user disabled


def session_user() -> User | None:
    """The user of the session, or None; an ended, idle or too old session ends here.

    The cookie only carries a random session id: the session is the ``app_session`` row
    (:mod:`core.sessions`), read with its user on every request.
    """
    session_id = session.get("sid")
    if not session_id:
        return None
    settings, moment = get_web_settings(), now()
    with db.app_connection() as conn:
        row = conn.execute(_SESSION_USER_SQL, (sessions.digest(str(session_id)),)).fetchone()
        idle = row is not None and moment - float(row[5]) > settings.idle_minutes * 60
        old = row is not None and moment - float(row[4]) > settings.max_session_hours * 3600
        if row is not None and (idle or old):
            sessions.end(conn, str(session_id))
        elif row is not None and moment - float(row[5]) >= _SEEN_EVERY:
            sessions.touch(conn, str(session_id), moment)
    if row is None or idle or old:
        session.clear()
        session["expired"] = True
        return None
    return User(row[0], row[1], Role(row[2]), row[3])


def _wants_page() -> bool:
    return request.method in {"GET", "HEAD"} and not request.path.startswith(_DATA_PREFIXES)


def login_url(target: str) -> str:
    """The login page, coming back to ``target`` afterwards."""
    return "/login?" + urlencode({"next": target})


def gate() -> Response | None:
    """Require a login for everything but the public paths (and the door page's prompt)."""
    g.user = None
    if is_public(request.path):
        return None
    if is_wall_path(request.path):
        wall_gate(session_user)  # a kiosk token or a login; 401 otherwise
        return None
    user = session_user()
    if user is None and request.path.startswith(TOKEN_PREFIXES):
        user = bearer_user()
    if user is None:
        if request.path.startswith(DOOR_PREFIX):
            return None
        if _wants_page():
            return redirect(login_url(request.full_path.rstrip("?")))  # type: ignore[return-value]
        raise NotLoggedIn(f"{request.method} {request.path} without a login")
    g.user = user
    return None


def check_csrf() -> None:
    """Refuse a state-changing request that does not carry the session's token."""
    if request.method not in UNSAFE_METHODS:
        return
    expected = session.get("csrf")
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        raise CsrfRejected(f"{request.method} {request.path}: CSRF token missing or wrong")


def set_csrf_cookie(response: Response) -> Response:
    """Hand the session's token to dash-renderer in a (readable, not HttpOnly) cookie."""
    if is_public(request.path) and request.path not in PUBLIC_PATHS:
        return response  # static files: leave the session alone
    token = session.get("csrf")
    secure = OneMapSessionInterface().get_cookie_secure(current_app)
    if token and request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, str(token), samesite="Strict", secure=secure)
    elif not token and CSRF_COOKIE in request.cookies:
        response.delete_cookie(CSRF_COOKIE, samesite="Strict", secure=secure)
    return response


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site, else ``/`` (no open redirect)."""
    if not target or len(target) > 2000 or any(c in target for c in "\\\r\n\t"):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return "/" if parts.path in {"/login", "/logout"} else target


def _failure_message(error: AuthenticationFailed, lang: str) -> str:
    if isinstance(error, AccountLocked):
        return t("login.locked", lang, until=f"{error.until.astimezone(BEIJING):%Y-%m-%d %H:%M}")
    if isinstance(error, AccountDisabled):
        return t("login.disabled", lang)
    return t("login.failed", lang)


def _form(lang: str, target: str, *, username: str = "", message: str | None = None) -> str:
    return login_page(lang, target=target, csrf=csrf_token(), username=username, message=message)


@auth.route("/login", methods=["GET", "POST"])
def login() -> Response:
    """The login form; a right password starts a fresh session and goes back to ``next``."""
    lang = normalise_lang(request.values.get("lang"))
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if session_user() is not None:
            return redirect(target)  # type: ignore[return-value]
        message = t("login.expired", lang) if session.pop("expired", False) else None
        return Response(_form(lang, target, message=message), mimetype="text/html")
    username = request.form.get("username", "")[:100]
    try:
        with db.app_connection() as conn:
            user = authenticate(conn, username, request.form.get("password", "")[:1000])
    except AuthenticationFailed as error:
        page = _form(lang, target, username=username, message=_failure_message(error, lang))
        return Response(page, status=http_status(error), mimetype="text/html")
    if session.get("sid"):
        _end_session(str(session["sid"]))
    session.clear()  # a new session (and a new CSRF token) for the new login: no fixation
    session.permanent = True
    with db.app_connection() as conn:
        session["sid"] = sessions.start(conn, user.username, now())
    csrf_token()
    return redirect(target)  # type: ignore[return-value]


@auth.post("/logout")
def logout() -> Response:
    """End the session on the server (CSRF-checked like every POST): copies of the cookie die."""
    if session.get("sid"):
        _end_session(str(session["sid"]))
    session.clear()
    return redirect("/login")  # type: ignore[return-value]


def install(server: Flask) -> None:
    """Sessions, the gate, CSRF and the login routes on the Flask app."""
    configure_sessions(server)
    server.before_request(gate)
    server.before_request(check_csrf)
    server.after_request(set_csrf_cookie)
    server.register_blueprint(auth)
