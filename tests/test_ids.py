"""Tests of GB 11643-1999 identity number helpers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.ids import checksum_char, is_valid_id, make_ids, mask_id, normalise_id, valid_id_mask

FULLWIDTH = {ord(c): ord(c) + 0xFEE0 for c in "0123456789X"}

regions = st.sampled_from(["331122", "330127", "330102", "110105", "440305"])
births = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2024, 12, 31))
sequences = st.integers(min_value=1, max_value=999)


@st.composite
def valid_ids(draw) -> str:
    head = f"{draw(regions)}{draw(births):%Y%m%d}{draw(sequences):03d}"
    return head + checksum_char(head)


def test_known_checksums():
    assert checksum_char("11010519491231002") == "X"
    assert is_valid_id("11010519491231002X")
    assert checksum_char("44052418800101001") == "4"


@settings(max_examples=300)
@given(valid_ids())
def test_generated_ids_are_valid(id18):
    assert is_valid_id(id18)
    assert valid_id_mask([id18]).tolist() == [True]


@settings(max_examples=300)
@given(valid_ids(), st.integers(min_value=0, max_value=16), st.integers(min_value=1, max_value=9))
def test_any_single_digit_change_is_caught(id18, position, delta):
    digit = (int(id18[position]) + delta) % 10
    changed = id18[:position] + str(digit) + id18[position + 1 :]
    assert not is_valid_id(changed)


@settings(max_examples=200)
@given(valid_ids(), st.sampled_from("0123456789X"))
def test_wrong_check_character_is_caught(id18, check):
    candidate = id18[:17] + check
    assert is_valid_id(candidate) == (check == id18[17])


@settings(max_examples=200)
@given(valid_ids())
def test_fullwidth_spaces_and_lowercase_are_normalised(id18):
    messy = " " + id18.translate(FULLWIDTH)[:9] + "\u3000" + id18[9:].lower() + " "
    assert not is_valid_id(messy)
    assert normalise_id(messy) == id18
    assert is_valid_id(normalise_id(messy))


@settings(max_examples=300)
@given(st.one_of(valid_ids(), st.text(max_size=20), st.none(), st.integers()))
def test_mask_agrees_with_scalar_check(value):
    assert valid_id_mask(np.array([value], dtype=object))[0] == is_valid_id(value)


def test_rejects_impossible_dates_and_bad_shapes():
    for head in ("33112219990230001", "33112219991301001", "33112218000101001"):
        assert not is_valid_id(head + checksum_char(head))
    assert not is_valid_id("11010519491231002")
    assert not is_valid_id(None)
    assert not is_valid_id("11010519491231002x")
    with pytest.raises(ValueError):
        checksum_char("1101051949123100")


def test_make_ids_valid_distinct_and_encode_person():
    rng = np.random.default_rng(3)
    n = 50_000
    regions_ = rng.choice(["331122", "330127"], n)
    # Many people share a birth date: forces sequence collisions to be resolved.
    births_ = np.datetime64("1950-01-01") + rng.integers(0, 40, n).astype("timedelta64[D]")
    sexes = rng.choice(["男", "女"], n)
    ids = make_ids(rng, regions_, births_, sexes)
    assert ids.shape == (n,)
    assert len(set(ids.tolist())) == n
    assert valid_id_mask(ids).all()
    assert all(is_valid_id(s) for s in ids[:2000])
    assert np.array_equal(np.char.ljust(ids, 6).astype("U6"), regions_)
    assert [s[6:14] for s in ids[:5]] == [f"{d:%Y%m%d}" for d in births_[:5].tolist()]
    odd = np.array([int(s[16]) % 2 == 1 for s in ids])
    assert np.array_equal(odd, sexes == "男")


def test_make_ids_is_deterministic_and_checks_inputs():
    args = (["331122"] * 3, np.array(["1950-01-01"] * 3, dtype="datetime64[D]"), ["M", "F", "M"])
    first = make_ids(np.random.default_rng(9), *args)
    assert np.array_equal(first, make_ids(np.random.default_rng(9), *args))
    with pytest.raises(ValueError, match="region"):
        make_ids(np.random.default_rng(0), ["33112"], args[1][:1], ["M"])
    with pytest.raises(ValueError, match="sex"):
        make_ids(np.random.default_rng(0), ["331122"], args[1][:1], ["?"])


def test_mask_id():
    assert mask_id("33112219500101123X") == "3311**********123X"
    assert mask_id("1234") == "****"
