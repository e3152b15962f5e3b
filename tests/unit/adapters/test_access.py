"""A service's store and bus refuse what its service.yaml does not grant, as IAM would."""

from __future__ import annotations

import pytest

from panoptes_network.adapters.access import ACCESS_ENV, Access, AccessDenied, guarded
from tests.unit.fakes import MemoryBus, MemoryStore

ACCESS = Access("step", frozenset({"in"}), frozenset({"out"}), frozenset({"next"}))


def _guarded():
    store, bus = MemoryStore(), MemoryBus()
    store.put("in", "a", b"1")
    store.put("other", "b", b"2")
    g_store, g_bus = guarded("step", store, bus, {ACCESS_ENV: ACCESS.to_env()})
    return store, bus, g_store, g_bus


def test_declared_buckets_and_topics_work_through_the_guard():
    store, bus, g_store, g_bus = _guarded()
    assert g_store.read("in", "a") == b"1"
    written = g_store.write("out", "c", b"3")
    assert g_store.stat("out", "c") == written  # a written bucket may be read back
    g_store.copy("in", "a", "out", "d")
    assert g_store.delete("out", "d", generation=store.stat("out", "d").generation)
    assert [i.name for i in g_store.list("in")] == ["a"]
    g_bus.publish("next", {"x": 1})
    assert bus.on("next") == [{"x": 1}]


@pytest.mark.parametrize(
    ("act", "says"),
    [
        (lambda s, b: s.read("other", "b"), "may not read gs://other"),
        (lambda s, b: s.stat("other", "b"), "may not read gs://other"),
        (lambda s, b: s.read_range("other", "b", 0, 1), "may not read gs://other"),
        (lambda s, b: s.list("other"), "may not read gs://other"),
        (lambda s, b: s.write("in", "z", b""), "may not write gs://in"),
        (lambda s, b: s.copy("in", "a", "other", "z"), "may not write gs://other"),
        (lambda s, b: s.copy("other", "b", "out", "z"), "may not read gs://other"),
        (lambda s, b: s.delete("in", "a", generation=1), "may not write gs://in"),
        (lambda s, b: b.publish("elsewhere", {}), "may not publish to elsewhere"),
    ],
)
def test_anything_else_is_refused_and_nothing_changes(act, says):
    store, bus, g_store, g_bus = _guarded()
    before = dict(store.objects)
    with pytest.raises(AccessDenied, match=says) as refused:
        act(g_store, g_bus)
    assert "services/step/service.yaml" in str(refused.value)
    assert store.objects == before and bus.messages == []


def test_without_the_variable_nothing_is_wrapped_and_a_bad_one_is_named():
    store, bus = MemoryStore(), MemoryBus()
    assert guarded("step", store, bus, {}) == (store, bus)
    with pytest.raises(ValueError, match=ACCESS_ENV):
        guarded("step", store, bus, {ACCESS_ENV: "{not json"})


def test_the_local_stack_gives_each_service_what_its_file_declares():
    from emulator.stack import StackConfig, _service_programs
    from infra.spec import load

    resources = load()
    programs = {p.name: p for p in _service_programs(StackConfig.load(), resources)}
    record = Access.from_env("record-image", dict(programs["record-image"].env))
    spec = resources.services["record-image"]
    assert record == Access(
        "record-image", frozenset(spec.reads), frozenset(spec.writes), frozenset(spec.publishes)
    )
