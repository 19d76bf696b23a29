"""The load mix of `make bench` (Locust, headless): wall screens, leaders, officials, planners.

Run by :mod:`bench.load`, which creates the users and writes the plan (areas, households) to
the file named by ``ONEMAP_BENCH_PLAN``. Each simulated user logs in through the form once and
then repeats its role's requests; requests are named by route so the table groups them.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

from locust import HttpUser, between, task

PLAN: dict[str, Any] = json.loads(open(os.environ["ONEMAP_BENCH_PLAN"], encoding="utf-8").read())
PASSWORD = PLAN["password"]
CALLBACK = PLAN["callback"]  # {"output", "outputs", "url_id", "fitted_id"}


class _Person(HttpUser):
    abstract = True
    username = ""

    def on_start(self) -> None:
        self.client.get("/login", name="/login")
        token = self.client.cookies.get("_csrf_token", "")
        self.client.post(
            "/login",
            data={"username": self.username, "password": PASSWORD, "csrf_token": token},
            name="/login POST",
            allow_redirects=False,
        )
        self.csrf = self.client.cookies.get("_csrf_token", "")

    def view(self, search: str) -> None:
        """The map's main callback for a URL (what a click or a page load triggers)."""
        body = {
            "output": CALLBACK["output"],
            "outputs": CALLBACK["outputs"],
            "inputs": [{"id": CALLBACK["url_id"], "property": "search", "value": search}],
            "state": [{"id": CALLBACK["fitted_id"], "property": "data", "value": None}],
            "changedPropIds": [f"{CALLBACK['url_id']}.search"],
        }
        self.client.post(
            "/_dash-update-component",
            json=body,
            headers={"X-CSRFToken": self.csrf},
            name="dash: show_view",
        )


class WallScreen(_Person):
    """A wall screen in a county office: the province view, refreshed every few seconds."""

    weight = 3
    wait_time = between(4, 6)
    username = PLAN["users"]["wall"]

    @task
    def poll(self) -> None:
        """The province's areas and the view, as the wall's refresh asks for them."""
        self.client.get("/api/areas/33/children.geojson?v=1", name="/api/areas/[code]/children")
        self.view("?area=33")


class Leader(_Person):
    """A county leader drilling from the county to a town and a village."""

    weight = 3
    wait_time = between(1, 3)
    username = PLAN["users"]["leader"]

    @task
    def drill(self) -> None:
        """County → town → village, then the town's households."""
        village = random.choice(PLAN["villages"])
        for code in (village[:6], village[:9], village):
            self.view(f"?area={code}")
            self.client.get(
                f"/api/areas/{code}/children.geojson?v=1", name="/api/areas/[code]/children"
            )
        self.client.get(
            f"/api/areas/{village[:9]}/households.geojson?v=1&s=l",
            name="/api/areas/[code]/households",
        )


class Official(_Person):
    """A village official opening the portraits of their households."""

    weight = 3
    wait_time = between(1, 3)
    username = PLAN["users"]["official"]

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
    wait_time = between(3, 6)
    username = PLAN["users"]["planner"]

    @task
    def export(self) -> None:
        """A town's warning-density GeoTIFF."""
        town = random.choice(PLAN["villages"])[:9]
        self.client.get(f"/downloads/heat/{town}.tif?v=1", name="/downloads/heat/[code].tif")
