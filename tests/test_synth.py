"""Tests of the synthetic department feeds: contract, determinism, month drift, defects."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely

from analytics.catalog import load_catalog
from etl import normalise
from etl.feedspec import FEEDS_BY_NAME
from etl.ids import is_valid_id, normalise_id, valid_id_mask
from geo.crs import to_wgs84
from geo.regions import MOUNTAIN_COUNTIES
from synth import generate
from synth.defects import FILE_DEFECTS, TARGETS
from synth.feeds import FEEDS
from synth.population import (
    COUNTY_NAMES,
    COUNTY_PEOPLE,
    HOUSEHOLD_SIZE_P,
    build_population,
    county_household_targets,
)
from synth.writer import FORMATS

SEED = 20240601
MONTH, NEXT = "2024-06", "2024-07"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "feeds.md"
ID_FEEDS = [f for f, t in TARGETS.items() if t.id_column]
CITY = {"3301": "杭州市", "3307": "金华市", "3311": "丽水市"}
# Approximate real positions of the fixture counties (lon, lat of a corner of the village grid).
FIXTURE_COUNTIES = {
    "331122": (120.00, 28.60),
    "330127": (118.90, 29.55),
    "330102": (120.15, 30.22),
    "330782": (120.02, 29.25),
}


def make_villages(counties: dict[str, tuple[float, float]], per_county: int) -> gpd.GeoDataFrame:
    """Square villages (every 7th a triangle, every 11th two squares) laid out in a grid."""
    rows, geoms = [], []
    side = 0.02
    for code, (x0, y0) in counties.items():
        width = int(np.ceil(np.sqrt(per_county)))
        for i in range(per_county):
            x, y = x0 + (i % width) * side, y0 + (i // width) * side
            geom: shapely.Geometry
            if i % 7 == 3:
                geom = shapely.Polygon([(x, y), (x + side, y), (x, y + side)])
            elif i % 11 == 5:
                geom = shapely.MultiPolygon(
                    [
                        shapely.box(x, y, x + side / 3, y + side / 3),
                        shapely.box(x + side / 2, y + side / 2, x + side, y + side),
                    ]
                )
            else:
                geom = shapely.box(x, y, x + side, y + side)
            town = 101 + i // 12
            rows.append(
                {
                    "code": f"{code}{town:03d}{201 + i % 12:03d}",
                    "name": f"样{i}村",
                    "town_name": f"{['壶', '新', '东', '石', '溪'][town % 5]}{town}镇",
                    "county_code": code,
                    "county_name": COUNTY_NAMES[code],
                    "city_name": CITY.get(code[:4], "某市"),
                }
            )
            geoms.append(geom)
    return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")


@pytest.fixture(scope="module")
def villages() -> gpd.GeoDataFrame:
    return make_villages(FIXTURE_COUNTIES, 80)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, villages):
    """Demo runs: the month twice (determinism), the next month, and a clean month."""
    out = {}
    for key, month, rate in (
        ("a", MONTH, 0.01),
        ("b", MONTH, 0.01),
        ("next", NEXT, 0.01),
        ("clean", MONTH, 0.0),
    ):
        folder = tmp_path_factory.mktemp(key)
        out[key] = generate(
            villages, scale="demo", month=month, seed=SEED, out_dir=folder, defect_rate=rate
        )
    return out


def read_feed(manifest, feed: str) -> pd.DataFrame:
    """Read a feed as text as it is in the file: header row from the manifest, all as str,
    the blank row (a file defect, not a data row) left out; date cells as ISO dates."""
    entry = manifest.file(feed)
    path = manifest.path(feed)
    if entry.format == "csv":
        frame = pd.read_csv(path, encoding=entry.encoding, dtype=str, keep_default_na=False)
    else:
        wb = openpyxl.load_workbook(path, read_only=True)
        rows = list(wb.worksheets[0].iter_rows(values_only=True))
        header = rows[entry.header_row - 1]
        width = len(header)
        body = [
            [
                "" if v is None else v.date().isoformat() if isinstance(v, dt.datetime) else str(v)
                for v in (*r, *[None] * (width - len(r)))  # a blank row may hold no cells
            ]
            for r in rows[entry.header_row :]
            if r != header
        ]
        frame = pd.DataFrame(body, columns=list(header), dtype=str)
    return frame[(frame != "").any(axis=1)].reset_index(drop=True)


def excel_dates(manifest, feed: str) -> int:
    """Date cells (not text) in an XLSX feed."""
    wb = openpyxl.load_workbook(manifest.path(feed), read_only=True)
    return sum(
        isinstance(v, dt.datetime) for r in wb.worksheets[0].iter_rows(values_only=True) for v in r
    )


def as_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Amounts as the ETL's normalisation reads them (￥, 元, thousands separators)."""
    return (
        frame.apply(lambda c: normalise.number(c.str.normalize("NFKC"))[0])
        .replace("", np.nan)
        .astype(float)
    )


def test_manifest_lists_every_feed_with_matching_row_counts(runs):
    manifest = runs["a"]
    assert [f.feed for f in manifest.files] == list(FEEDS)
    assert manifest.households == 49_600
    assert 0.98 < manifest.people / (49_600 * 760_000 / 496_000) < 1.02
    on_disk = (manifest.out_dir / "manifest.json").read_text(encoding="utf-8")
    assert '"out_dir"' not in on_disk and '"sha256"' in on_disk
    for entry in manifest.files:
        path = manifest.path(entry.feed)
        assert path.name == f"{entry.feed}_{MONTH}.{entry.format}"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256
        assert len(read_feed(manifest, entry.feed)) == entry.rows
        assert entry.rows > 0 or entry.feed == "disaster_events"


def test_same_seed_and_month_give_identical_bytes(runs):
    a, b = runs["a"].out_dir, runs["b"].out_dir
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert len(names) == len(FEEDS) + 2  # the feeds, manifest.json and the hazard GeoTIFF
    assert "hazard_susceptibility.tif" in names
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_ids_valid_except_injected_checksum_defects(runs):
    manifest = runs["a"]
    for feed in ID_FEEDS:
        ids = read_feed(manifest, feed)[TARGETS[feed].id_column]
        ids = ids[ids != ""]
        defects = manifest.file(feed).defects
        raw_ok = valid_id_mask(ids.to_numpy())
        fixed_ok = np.array([is_valid_id(normalise_id(s)) for s in ids])
        assert (~fixed_ok).sum() == defects["bad_id_checksum"], feed
        assert (fixed_ok & ~raw_ok).sum() == defects["fullwidth_id"] + defects["lowercase_x"], feed


def test_clean_month_has_no_defects(runs):
    manifest = runs["clean"]
    for entry in manifest.files:
        assert not any(entry.defects.values()), entry.feed
        frame = read_feed(manifest, entry.feed)
        assert not frame.duplicated().any(), entry.feed
        for column in frame.columns:
            if column.endswith("_date"):
                assert frame[column].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all(), (entry.feed, column)
    roster = read_feed(manifest, "civil_affairs_roster")
    assert valid_id_mask(roster["id_no"].to_numpy()).all()
    assert roster["id_no"].is_unique
    assert set(roster["status"]) == {"低保", "特困", "低边"}


def test_defect_counts_follow_the_rate(runs):
    for entry in runs["a"].files:
        row_defects = sum(v for k, v in entry.defects.items() if k not in FILE_DEFECTS)
        copies = entry.defects.get("duplicate_row", 0) + entry.defects.get(
            "conflicting_duplicate", 0
        )
        clean_rows = entry.rows - copies
        assert row_defects == round(0.01 * clean_rows), entry.feed


def test_defects_are_really_in_the_files(runs, villages):
    manifest = runs["a"]
    roster = read_feed(manifest, "civil_affairs_roster")
    known_households = set(read_feed(runs["clean"], "civil_affairs_roster")["household_no"])
    for entry in manifest.files:
        frame = read_feed(manifest, entry.feed)
        targets = TARGETS[entry.feed]
        # Rows blanked in a required column may coincide by chance; count copies among the rest.
        complete = (frame[list(targets.required)] != "").all(axis=1)
        assert frame[complete].duplicated().sum() == entry.defects["duplicate_row"], entry.feed
        if targets.household_column:
            col = frame[targets.household_column].str.normalize("NFKC")
            unknown = (col != "") & ~col.isin(known_households)
            assert unknown.sum() == entry.defects["unknown_household"], entry.feed
            widened = col != frame[targets.household_column]
            assert widened.sum() == entry.defects["fullwidth_household"], entry.feed
        if targets.date_column and entry.rows > 100:
            col = frame[targets.date_column]
            iso = col.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
            assert ((col != "") & ~iso).sum() == entry.defects["date_format"], entry.feed
            if targets.in_month_date:
                early = iso & ~col.str.startswith(MONTH)
                assert early.sum() == entry.defects["date_outside_month"], entry.feed
            if targets.excel_dates:
                assert excel_dates(manifest, entry.feed) == entry.defects["excel_date"]
        if targets.amount_columns:
            text = frame[list(targets.amount_columns)]
            plain = text.apply(lambda c: c.str.fullmatch(r"-?\d+\.\d{2}") | (c == ""))
            assert (~plain).any(axis=1).sum() == entry.defects["amount_format"], entry.feed
            values = as_numbers(text)
            assert (values < 0).any(axis=1).sum() == entry.defects["negative_amount"], entry.feed
        if targets.conflict_column:
            key = list(FEEDS_BY_NAME[entry.feed].key)
            distinct = frame[complete].drop_duplicates()
            clashes = distinct.duplicated(key).sum()
            assert clashes == entry.defects["conflicting_duplicate"], entry.feed
        if targets.policy_column:
            codes = frame[targets.policy_column]
            assert codes.str.fullmatch(r"p\d{3}").sum() == entry.defects["lowercase_policy"]
            unknown_codes = codes.str.fullmatch(r"P0(6[1-9]|[7-9]\d)")
            assert unknown_codes.sum() == entry.defects["unknown_policy"]
        if targets.text_column:
            typed = frame[targets.text_column].str.contains("户主身份证")
            assert typed.sum() == entry.defects["id_in_text"], entry.feed
    unknown_village = ~roster["village_code"].isin(set(villages["code"])) & (
        roster["village_code"] != ""
    )
    assert unknown_village.sum() == manifest.file("civil_affairs_roster").defects["unknown_village"]
    housing = read_feed(manifest, "housing_appraisal")
    lon = housing["longitude"].astype(float)
    outside = ~lon.between(118.0, 123.0)
    assert outside.sum() == manifest.file("housing_appraisal").defects["coord_out_of_province"]


def test_medical_totals_add_up(runs):
    claims = read_feed(runs["clean"], "medical_claims")
    cents = claims[["total_cost", "reimbursed", "out_of_pocket"]].map(
        lambda v: round(float(v) * 100)
    )
    assert (cents["total_cost"] == cents["reimbursed"] + cents["out_of_pocket"]).all()
    assert (cents["reimbursed"] > 0).all()
    assert set(claims["diagnosis_category"]) <= {"慢性病", "大病", "住院", "门诊"}


def test_next_month_keeps_households_with_some_entries_and_exits(runs):
    now = read_feed(runs["a"], "civil_affairs_roster")
    later = read_feed(runs["next"], "civil_affairs_roster")
    before, after = set(now["household_no"]), set(later["household_no"])
    assert len(before) == len(after) == 49_600
    assert len(after - before) == runs["next"].households_entered > 0
    assert len(before - after) == runs["next"].households_exited > 0
    assert len(before & after) / len(before) > 0.99
    # Persisting households keep their members and ID numbers.
    pairs = set(zip(now["household_no"], now["id_no"], strict=True))
    kept = later[later["household_no"].isin(before)]
    same = [p in pairs for p in zip(kept["household_no"], kept["id_no"], strict=True)]
    assert np.mean(same) > 0.97
    income_now = read_feed(runs["a"], "income_survey").drop_duplicates("household_no")
    income_later = read_feed(runs["next"], "income_survey").drop_duplicates("household_no")
    both = income_now.merge(income_later, on="household_no", suffixes=("_a", "_b"))
    changed = both["income_per_capita_a"] != both["income_per_capita_b"]
    assert 0.03 < changed.mean() < 0.09


def test_encodings_as_documented(runs):
    manifest = runs["a"]
    gbk = [f for f in manifest.files if f.encoding == "gbk"]
    assert {f.feed for f in gbk} >= {"income_survey", "water_safety"}
    for entry in gbk:
        data = manifest.path(entry.feed).read_bytes()
        assert data.decode("gbk").startswith(",".join(read_feed(manifest, entry.feed).columns))
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        assert b"\r\n" in data[:200]
    for entry in manifest.files:
        data = manifest.path(entry.feed).read_bytes()
        if entry.encoding == "utf-8-sig":
            assert data.startswith(b"\xef\xbb\xbf")
        elif entry.encoding == "utf-8":
            assert not data.startswith(b"\xef\xbb\xbf")
            data.decode("utf-8")


def test_xlsx_title_row_and_repeated_header(runs):
    manifest = runs["a"]
    entry = manifest.file("disability_registry")
    wb = openpyxl.load_workbook(manifest.path("disability_registry"), read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert rows[0][0] == "2024年6月 残疾人登记数据"
    assert entry.header_row == 2
    assert rows[1] == ("id_no", "name", "disability_type", "grade", "certificate_date")
    assert rows.count(rows[1]) == 2 and entry.defects["repeated_header"] == 1
    housing = list(
        openpyxl.load_workbook(manifest.path("housing_appraisal"), read_only=True)
        .worksheets[0]
        .iter_rows(values_only=True)
    )
    assert housing[0][0] == "household_no"
    assert isinstance(housing[1][3], float)


def test_gps_readings_sit_at_the_household_after_conversion(runs, villages):
    pop = build_population(villages, n_households=49_600, seed=SEED)
    where = pd.DataFrame(
        {"lon": pop.households.lon, "lat": pop.households.lat}, index=pop.households.no
    )
    for feed, near_m, far_share in (
        ("housing_appraisal", 30, 0.0),
        ("official_visits", 100, 0.015),
    ):
        frame = read_feed(runs["clean"], feed)
        lon, lat = to_wgs84(
            frame["longitude"].astype(float),
            frame["latitude"].astype(float),
            frame["coord_sys"].to_numpy(),
        )
        truth = where.loc[frame["household_no"]]
        dist = np.hypot(
            (lon - truth["lon"].to_numpy()) * 111_320 * np.cos(np.radians(lat)),
            (lat - truth["lat"].to_numpy()) * 111_320,
        )
        assert np.mean(dist < near_m) > 0.97 - far_share, feed
        if far_share:
            assert 0.5 * far_share < np.mean(dist > 1_000) < 2 * far_share
        assert set(frame["coord_sys"]) == {"gcj02", "wgs84"}
    visits = read_feed(runs["clean"], "official_visits")
    hours = visits["visit_time"].str.slice(11, 13).astype(int)
    assert 0 < (hours < 5).mean() < 0.03
    # Lazy officials paste one text again and again; random choice alone rarely repeats 3 times.
    repeats = visits.groupby(["official_id", "content"]).size()
    assert (repeats >= 3).sum() > 10


def test_subsidy_codes_come_from_the_catalog(runs):
    ledger = read_feed(runs["clean"], "subsidy_ledger")
    catalog = {p.code: p.department for p in load_catalog().policies}
    assert set(ledger["policy_code"]) <= set(catalog)
    assert {"P001", "P002", "P045"} <= set(ledger["policy_code"])
    assert (ledger["amount"].astype(float) > 0).all()
    paid_by = ledger.drop_duplicates("policy_code").set_index("policy_code")["paying_department"]
    assert all(paid_by[code] == catalog[code] for code in paid_by.index)


def test_county_shares_follow_the_weight_table():
    everywhere = make_villages(
        {
            c: (118.0 + (i % 10) * 0.3, 27.5 + (i // 10) * 0.3)
            for i, c in enumerate(sorted(COUNTY_PEOPLE))
        },
        3,
    )
    n = 30_000
    pop = build_population(everywhere, n_households=n, seed=1)
    active = pop.active(0)[pop.people.household]
    county = pop.people.id_no[active].astype("U6")
    mountain_share = np.isin(county, list(MOUNTAIN_COUNTIES)).mean()
    expected = sum(COUNTY_PEOPLE[c] for c in MOUNTAIN_COUNTIES) / 760_000
    assert abs(mountain_share - expected) < 0.015
    assert abs((county == "331122").mean() - 15_000 / 760_000) < 0.004
    # Full-scale arithmetic: 496,000 households hold 760,000 people within 1 %.
    mean_size = sum(k * p for k, p in HOUSEHOLD_SIZE_P.items())
    assert abs(496_000 * mean_size / 760_000 - 1) < 0.01
    codes = np.array(sorted(COUNTY_PEOPLE))
    jinyun = county_household_targets(codes, 496_000)[list(codes).index("331122")]
    assert abs(jinyun * mean_size - 15_000) < 300
    assert sum(COUNTY_PEOPLE.values()) == 760_000 and len(COUNTY_PEOPLE) == 90


def test_population_ignores_village_row_order(villages):
    a = build_population(villages, n_households=2_000, seed=4)
    b = build_population(villages.sample(frac=1.0, random_state=1), n_households=2_000, seed=4)
    assert np.array_equal(a.people.id_no, b.people.id_no)
    assert np.array_equal(a.households.lon, b.households.lon)
    inside = shapely.contains_xy(
        a.villages.geometry[a.households.village], a.households.lon, a.households.lat
    )
    assert inside.all()


def test_bad_arguments_are_rejected(villages, tmp_path):
    for month in ("2023-12", "2028-01", "2024-13", "June"):
        with pytest.raises(ValueError, match="month"):
            generate(villages, scale="demo", month=month, seed=1, out_dir=tmp_path)
    with pytest.raises(ValueError, match="scale"):
        generate(villages, scale="huge", month=MONTH, seed=1, out_dir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="EPSG:4326"):
        build_population(villages.to_crs(3857), n_households=10, seed=1)


def test_contract_document_matches_the_feeds(runs):
    text = DOCS.read_text(encoding="utf-8")
    manifest = runs["a"]
    for entry in manifest.files:
        header = ",".join(read_feed(manifest, entry.feed).columns)
        assert f"`{header}`" in text, entry.feed
        assert f"{entry.feed}_YYYY-MM.{entry.format}" in text
        for kind in entry.defects:
            section = text.split(f"## {entry.feed}")[1].split("\n## ")[0]
            assert f"`{kind}`" in section, (entry.feed, kind)
    for policy in load_catalog().policies:
        assert re.search(rf"\| {policy.code} \| {re.escape(policy.name_zh)} \|", text), policy.code
    assert io.StringIO(text).readline().startswith("# ")
    assert set(FORMATS) == set(FEEDS)
