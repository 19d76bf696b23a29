"""The load mix of `make bench` (Locust, headless): wall screens, leaders, officials, planners.

Run by :mod:`bench.load`, which creates the users and writes the plan (areas, households,
the callbacks' bodies) to the file named by ``ONEMAP_BENCH_PLAN``. Each simulated user logs in
through the form once, as a person of their own (the run's figures are reset when every user
is in: a login hashes a password with argon2id, 64 MiB, on purpose; a morning's logins are not
what the goals are about) and then repeats what its
role does, at a person's pace:

- a wall screen (大屏) runs the real wall page: a tour step every 20 s and a version poll
  every 30 s, as ``ONEMAP_WEB_WALL_TOUR_SECONDS`` / ``…_POLL_SECONDS`` default to;
- a county leader drills county → town → village (the map's view callback and the
  children's shapes, as a click sends them), reading each for 3–8 s, and now and then opens
  the statistics page;
- a village official opens one household's portrait and the village's households every
  5–15 s;
- a planner exports a town's warning-density GeoTIFF every 10–30 s.

Requests are named by route so the table groups them.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any, ClassVar

from locust import HttpUser, between, events, task
from locust.env import Environment

PLAN: dict[str, Any] = json.loads(open(os.environ["ONEMAP_BENCH_PLAN"], encoding="utf-8").read())
PASSWORD = PLAN["password"]
CALLBACK = PLAN["callback"]  # {"output", "outputs", "url_id", "fitted_id"}


def _outputs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    described = [{"id": i, "property": p} for i, p in pairs]
    if len(pairs) == 1:
        return {"output": f"{pairs[0][0]}.{pairs[0][1]}", "outputs": described[0]}
    key = ".." + "...".join(f"{i}.{p}" for i, p in pairs) + ".."
    return {"output": key, "outputs": described}


_WALL_SETUP = _outputs(
    [
        ("wall-areas", "url"),
        ("wall-map", "viewport"),
        ("wall-heat", "children"),
        ("wall-tour-areas", "data"),
        ("wall-shading", "data"),
        ("wall-tour", "interval"),
        ("wall-version", "data"),
    ]
)
_WALL_STEP = _outputs(
    [
        ("wall-title", "children"),
        ("wall-month", "children"),
        ("wall-synthetic", "children"),
        ("wall-kpis", "children"),
        ("wall-worst", "children"),
        ("wall-trend", "figure"),
        ("wall-areas", "hideout"),
    ]
)
_WALL_POLL = _outputs([("wall-polled", "data")])
_STATS_BODY = _outputs([("stats-body", "children"), ("stats-document", "data")])


_LOGGED_IN = {"count": 0}
_ENVIRONMENT: dict[str, Environment] = {}


@events.init.add_listener
def _keep_environment(environment: Environment, **_kwargs: Any) -> None:
    _ENVIRONMENT["env"] = environment


def _logged_in() -> None:
    """Count a finished login; when every simulated person is in, the figures start afresh."""
    _LOGGED_IN["count"] += 1
    environment = _ENVIRONMENT.get("env")
    runner = environment.runner if environment else None
    if runner is not None and _LOGGED_IN["count"] == runner.target_user_count:
        runner.stats.reset_all()
        print(f"all {_LOGGED_IN['count']} users logged in: figures reset", flush=True)


class _Person(HttpUser):
    abstract = True
    #: The plan's key of this role's logins; each simulated person takes the next one.
    account = ""
    _taken: ClassVar[dict[str, int]] = {}

    def on_start(self) -> None:
        """Log in through the form as this person's own account."""
        taken = _Person._taken.get(self.account, 0)
        _Person._taken[self.account] = taken + 1
        logins = PLAN["users"][self.account]
        self.username = logins[taken % len(logins)]
        self.client.get("/login", name="/login")
        token = self.client.cookies.get("_csrf_token", "")
        self.client.post(
            "/login",
            data={"username": self.username, "password": PASSWORD, "csrf_token": token},
            name="/login POST",
            allow_redirects=False,
        )
        self.csrf = self.client.cookies.get("_csrf_token", "")
        _logged_in()

    def callback(self, path: str, body: dict[str, Any], name: str) -> Any:
        """POST one Dash callback; return its response's JSON (None when it failed)."""
        with self.client.post(
            path, json=body, headers={"X-CSRFToken": self.csrf}, name=name, catch_response=True
        ) as response:
            if response.status_code not in {200, 204}:
                response.failure(f"{response.status_code}")
                return None
            return response.json() if response.status_code == 200 else {}

    def view(self, search: str) -> None:
        """The map's main callback for a URL (what a click or a page load triggers)."""
        body = {
            "output": CALLBACK["output"],
            "outputs": CALLBACK["outputs"],
            "inputs": [{"id": CALLBACK["url_id"], "property": "search", "value": search}],
            "state": [{"id": CALLBACK["fitted_id"], "property": "data", "value": None}],
            "changedPropIds": [f"{CALLBACK['url_id']}.search"],
        }
        self.callback("/_dash-update-component", body, "dash: show_view")


class WallScreen(_Person):
    """A wall screen in a leader's office: the province's wall page, touring its cities."""

    weight = 3
    wait_time = between(8, 12)
    account = "wall"

    def on_start(self) -> None:
        """Log in and open the wall page (its tour's areas and data version)."""
        super().on_start()
        self.step_no, self.areas, self.version = 0, None, None
        body = _WALL_SETUP | {
            "inputs": [
                {"id": "wall-url", "property": "pathname", "value": "/wall/33"},
                {"id": "wall-url", "property": "search", "value": ""},
                {"id": "wall-polled", "property": "data", "value": None},
            ],
            "changedPropIds": ["wall-url.pathname"],
            "state": [],
        }
        answer = self.callback("/wall/_dash-update-component", body, "dash: wall setup") or {}
        props = answer.get("response", {})
        self.areas = props.get("wall-tour-areas", {}).get("data")
        self.version = props.get("wall-version", {}).get("data")
        self.client.get("/wall/api/areas/33/children.geojson", name="/wall/api/areas/[code]")

    @task(3)
    def step(self) -> None:
        """The tour's next area (every 20 s on a real wall)."""
        self.step_no += 1
        body = _WALL_STEP | {
            "inputs": [
                {"id": "wall-tour", "property": "n_intervals", "value": self.step_no},
                {"id": "wall-tour-areas", "property": "data", "value": self.areas},
                {"id": "wall-screen", "property": "data", "value": 1080},
            ],
            "state": [
                {"id": "wall-shading", "property": "data", "value": None},
                {"id": "wall-url", "property": "search", "value": ""},
            ],
            "changedPropIds": ["wall-tour.n_intervals"],
        }
        self.callback("/wall/_dash-update-component", body, "dash: wall step")

    @task(2)
    def poll(self) -> None:
        """The cheap version poll (every 30 s on a real wall)."""
        body = _WALL_POLL | {
            "inputs": [{"id": "wall-poll", "property": "n_intervals", "value": 1}],
            "state": [{"id": "wall-version", "property": "data", "value": self.version}],
            "changedPropIds": ["wall-poll.n_intervals"],
        }
        self.callback("/wall/_dash-update-component", body, "dash: wall poll")


class Leader(_Person):
    """A county leader drilling from the county to a town and a village, reading each."""

    weight = 3
    wait_time = between(3, 8)
    account = "leader"

    def on_start(self) -> None:
        """Log in; no drill started yet."""
        super().on_start()
        self.path: list[str] = []

    @task(6)
    def drill(self) -> None:
        """One click down (county → town → village → its households), then back up."""
        if not self.path:
            village = random.choice(PLAN["villages"])
            self.path = [village[:6], village[:9], village]
        code = self.path.pop(0)
        self.view(f"?area={code}")
        self.client.get(
            f"/api/areas/{code}/children.geojson?v=1", name="/api/areas/[code]/children"
        )
        if len(code) == 12:
            self.client.get(
                f"/api/areas/{code[:9]}/households.geojson?v=1&s=l",
                name="/api/areas/[code]/households",
            )

    @task(1)
    def statistics(self) -> None:
        """The statistics page of the county or one of its towns."""
        code = random.choice(PLAN["villages"])[: random.choice((6, 9))]
        body = _STATS_BODY | {
            "inputs": [{"id": "stats-url", "property": "search", "value": f"?area={code}"}],
            "changedPropIds": ["stats-url.search"],
            "state": [],
        }
        self.callback("/stats/_dash-update-component", body, "dash: statistics")


class Official(_Person):
    """A village official opening the portraits of their households."""

    weight = 3
    wait_time = between(5, 15)
    account = "official"

    @task
    def portrait(self) -> None:
        """One household's portrait in the map, and the village's households."""
        household = random.choice(PLAN["households"])
        self.view(f"?area={PLAN['official_area']}&household={household}")
        self.client.get(
            f"/api/areas/{PLAN['official_area']}/households.geojson?v=1&s=o",
            name="/api/areas/[code]/households",
        )


class Planner(_Person):
    """A planner exporting the warning-density GeoTIFF of towns."""

    weight = 1
    wait_time = between(10, 30)
    account = "planner"

    @task
    def export(self) -> None:
        """A town's warning-density GeoTIFF."""
        town = random.choice(PLAN["villages"])[:9]
        self.client.get(f"/downloads/heat/{town}.tif?v=1", name="/downloads/heat/[code].tif")
