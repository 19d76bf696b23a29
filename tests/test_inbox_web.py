"""我的待办 and the door page over HTTP: the inbox, refused and conflicting posts, the door
form's limits and honeypot, XSS shown as text, no personal data for an anonymous scan, plates."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest

from analytics.assist_settings import get_assist_settings
from layers.door import issue_codes, plates_for_village, plates_html
from tests.assist_fixtures import Field, field_fixture  # noqa: F401 — the fixture
from tests.conftest import logged_in_client


def anonymous() -> Any:
    from dashboards.app import create_app

    return create_app().server.test_client()


def _csrf(client: Any) -> str:
    return str(client.get_cookie("_csrf_token").value)


def _token(url: str, household_id: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT token FROM household_token WHERE household_id = %s", (household_id,)
        ).fetchone()
    assert row is not None
    return str(row[0])


def _form(page: str, item: str) -> dict[str, str]:
    """The hidden fields of the acknowledge form of ``item`` (kind-id) on an inbox page."""
    start = page.index(f'id="item-{item}"')
    block = page[start : page.index("</div></li>", start)]
    form = block[block.index('class="act act-acknowledge"') :]
    form = form[: form.index("</form>")]
    return dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form))


def test_inbox_lists_worst_first_and_refuses_what_is_not_yours(field: Field) -> None:
    client = logged_in_client(field.url, field.official)
    page = client.get("/inbox").get_data(as_text=True)
    assert 'class="countdown"' in page and "模拟数据" in page
    first = re.search(r'id="item-(warning|task)-(\d+)"', page)
    assert first is not None
    levels = re.findall(r'class="item level-([a-z_]+)', page)
    assert levels[0] == "red"
    form = _form(page, f"warning-{field.red_warning}")
    form["csrf_token"] = _csrf(client)
    assert client.post("/inbox/act", data=form).status_code == 302
    replayed = client.post("/inbox/act", data=form)  # the same post again: a stale version
    assert replayed.status_code == 409
    assert "inbox-message" in replayed.get_data(as_text=True)
    # Another official's household, with a well-formed post: refused.
    with psycopg.connect(field.url) as conn:
        other = conn.execute(
            "SELECT warning_id, version FROM warning WHERE official_id = %s"
            " AND status = 'raised' LIMIT 1",
            (field.sibling_id,),
        ).fetchone()
    assert other is not None
    refused = client.post(
        "/inbox/act",
        data=form | {"item": str(other[0]), "version": str(other[1])},
    )
    assert refused.status_code == 403
    no_csrf = client.post("/inbox/act", data={k: v for k, v in form.items() if k != "csrf_token"})
    assert no_csrf.status_code == 403


def test_door_page_shows_no_personal_data_and_takes_requests(field: Field) -> None:
    with psycopg.connect(field.url) as conn:
        household = conn.execute(
            "SELECT household_id FROM pairing WHERE official_id = %s AND valid_to IS NULL"
            " AND village_code = %s ORDER BY 1 LIMIT 1",
            (field.official_id, field.village),
        ).fetchone()
        assert household is not None
        secrets = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM person WHERE household_id = %(h)s"
                " UNION SELECT id_masked FROM person WHERE household_id = %(h)s"
                " UNION SELECT address FROM household WHERE household_id = %(h)s",
                {"h": household[0]},
            ).fetchall()
        ]
    token = _token(field.url, household[0])
    visitor = anonymous()
    page = visitor.get(f"/h/{token}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "0578-" in text  # the official's work phone
    assert secrets and not [s for s in secrets if s in text]
    assert household[0] not in text and "收入" not in text  # nor any income
    limit = get_assist_settings().request_max_chars
    post = {"csrf_token": _csrf(visitor), "category": "help"}
    too_long = visitor.post(f"/h/{token}/request", data=post | {"text": "多" * (limit + 1)})
    assert too_long.status_code == 422
    xss = "<script>alert('x')</script> 家里漏水"
    assert visitor.post(f"/h/{token}/request", data=post | {"text": xss}).status_code == 200
    bot = visitor.post(f"/h/{token}/request", data=post | {"text": "spam", "website": "x"})
    assert bot.status_code == 200
    statuses = [
        visitor.post(f"/h/{token}/request", data=post | {"text": f"第{n}次"}).status_code
        for n in range(get_assist_settings().requests_per_plate_hour)
    ]
    assert statuses[-1] == 429 and statuses[0] == 200
    with psycopg.connect(field.url) as conn:
        stored = conn.execute(
            "SELECT body, due_at - created_at FROM task WHERE kind = 'request'"
            " AND household_id = %s ORDER BY task_id",
            (household[0],),
        ).fetchall()
    assert "spam" not in [s[0] for s in stored]
    assert len(stored) == get_assist_settings().requests_per_plate_hour
    assert stored[0][1].total_seconds() == 24 * 3600
    inbox = logged_in_client(field.url, field.official).get("/inbox").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; 家里漏水" in inbox
    assert "<script>alert(" not in inbox


def test_one_time_code_opens_the_households_own_list_once(field: Field) -> None:
    with psycopg.connect(field.url, autocommit=True) as conn:
        slips = issue_codes(conn, field.village)
        first = conn.execute(
            "SELECT h.household_id FROM household h WHERE h.village_code = %s"
            " AND h.month = (SELECT max(month) FROM published_month) ORDER BY 1 LIMIT 1",
            (field.village,),
        ).fetchone()
        plates = plates_for_village(conn, field.village, "https://onemap.example")
    assert first is not None and slips
    token = _token(field.url, first[0])
    visitor = anonymous()
    visitor.get(f"/h/{token}")
    post = {"csrf_token": _csrf(visitor), "code": slips[0][1]}
    opened = visitor.post(f"/h/{token}/code", data=post)
    assert opened.status_code == 302
    own = visitor.get(f"/h/{token}").get_data(as_text=True)
    assert 'id="door-own"' in own
    again = anonymous()
    again.get(f"/h/{token}")
    reused = again.post(f"/h/{token}/code", data={"csrf_token": _csrf(again), "code": slips[0][1]})
    assert reused.status_code == 403
    sheet = plates_html(plates, "test")
    assert len(plates) == len(slips) and sheet.count('class="plate"') == len(plates)
    assert "data:image/svg+xml" in sheet and first[0] not in sheet


@pytest.mark.parametrize("path", ["/inbox", "/inbox/household/H000000000"])
def test_inbox_needs_a_login(field: Field, path: str) -> None:
    response = anonymous().get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
