"""Every real 2020 record renders: units, observations and images of firestore-seed.json.

The seed holds records of an older shape: a unit's position in ``latitude``/``longitude``,
times as strings (loaded both as strings and as timestamps), observations without counters,
images with ``file_path`` instead of ``bucket_path``. Tests skip when the file is absent.
"""

from __future__ import annotations

from panoptes_network.explorer import home, image, observation, observations, unit, units
from tests.unit.explorer.openapi_check import schema_errors


def test_home_totals_of_the_seed(seed, seed_documents):
    answer = home(seed_documents)
    assert schema_errors(answer, "Home") == []
    totals = answer["totals"]
    assert totals["units"]["value"] == len(seed["units"]) == 4
    for name, counter in [("observations", "num_observations"), ("images", "num_images")]:
        assert totals[name]["value"] == sum(u[counter] for u in seed["units"].values())
        assert totals[name]["complete"]
    exposure = totals["exposure_hours"]  # the 2020 units have no total_minutes_exptime
    assert exposure["value"] is None and not exposure["complete"]
    assert exposure["units_without_counter"] == sorted(seed["units"])
    assert len(answer["latest"]) == 10


def test_every_unit(seed, seed_documents):
    listed = units(seed_documents)
    assert schema_errors(listed, "UnitList") == []
    assert [u["unit_id"] for u in listed["units"]] == sorted(seed["units"])
    for unit_id, doc in seed["units"].items():
        answer = unit(seed_documents, unit_id, limit=3)
        assert schema_errors(answer, "UnitDetail") == [], unit_id
        assert answer["unit"]["location"] == {
            "latitude": doc["latitude"],
            "longitude": doc["longitude"],
        }
        assert answer["unit"]["exposure_hours"] is None


def test_every_observation(seed, seed_documents):
    for sequence_id, doc in seed["observations"].items():
        answer = observation(seed_documents, sequence_id)
        assert schema_errors(answer, "ObservationDetail") == [], sequence_id
        expected = sorted(i for i, d in seed["images"].items() if d["sequence_id"] == sequence_id)
        assert sorted(f["image_id"] for f in answer["frames"]) == expected
        assert answer["observation"]["field_name"] == doc["field_name"]


def test_every_image(seed, seed_documents):
    for image_id, doc in seed["images"].items():
        answer = image(seed_documents, image_id)
        assert schema_errors(answer, "ImageDetail") == [], image_id
        assert answer["pointing"]["ra_mnt"] == doc["ra_mnt"]
        assert (answer["header"] is None) == ("bucket_path" not in doc)


def test_every_observation_is_listed_in_time_order(seed, seed_documents):
    for descending in (True, False):
        seen, cursor = [], None
        while True:
            page = observations(seed_documents, descending=descending, limit=6, cursor=cursor)
            assert schema_errors(page, "ObservationPage") == []
            seen += [o["sequence_id"] for o in page["observations"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(seed["observations"])
        starts = [seed["observations"][s]["time"] for s in seen]
        assert starts == sorted(starts, reverse=descending)
