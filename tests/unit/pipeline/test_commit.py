"""commit_with_retry: read, plan and commit again when another writer got there first."""

from __future__ import annotations

import pytest

from panoptes_network.pipeline.commit import MAX_ATTEMPTS, commit_with_retry
from panoptes_network.pipeline.ports import DocWrite, WriteConflict
from tests.unit.fakes import MemoryDocuments


class RacingDocuments(MemoryDocuments):
    """Documents where another writer bumps ``images/a`` before each of the first commits."""

    def __init__(self, races: int):
        super().__init__()
        self.races = races
        self.commits = 0

    def commit(self, writes: list[DocWrite]) -> None:
        self.commits += 1
        if self.races > 0:
            self.races -= 1
            self.merge("images", "a", {"other_writer": self.races})
        super().commit(writes)


def plan_increment(documents: MemoryDocuments, reads: list[int]):
    def plan() -> tuple[list[DocWrite], int]:
        snapshot = documents.read([("images", "a")])[("images", "a")]
        reads.append(1)
        count = (snapshot.fields or {}).get("count", 0)
        write = DocWrite(
            "images", "a", {"count": count + 1}, must_exist=True, expected_version=snapshot.version
        )
        return [write], count + 1

    return plan


def test_conflicts_are_read_again_and_the_last_plan_wins():
    documents = RacingDocuments(races=3)
    documents.merge("images", "a", {"count": 0})
    reads: list[int] = []
    result = commit_with_retry(documents, plan_increment(documents, reads), what="images/a")
    assert result == 1
    assert len(reads) == 4 and documents.commits == 4
    assert documents.get("images", "a")["count"] == 1


def test_gives_up_after_the_attempts_naming_what_it_wrote():
    documents = RacingDocuments(races=MAX_ATTEMPTS + 5)
    documents.merge("images", "a", {"count": 0})
    reads: list[int] = []
    with pytest.raises(WriteConflict, match="images/a in 4 attempts"):
        commit_with_retry(documents, plan_increment(documents, reads), what="images/a", attempts=4)
    assert len(reads) == 4
    assert documents.get("images", "a")["count"] == 0


def test_a_plan_with_nothing_to_write_commits_nothing():
    documents = RacingDocuments(races=0)
    assert commit_with_retry(documents, lambda: ([], "skipped"), what="images/a") == "skipped"
    assert documents.commits == 0


def test_a_plan_that_raises_is_not_retried():
    documents = RacingDocuments(races=0)
    calls: list[int] = []

    def plan() -> tuple[list[DocWrite], None]:
        calls.append(1)
        raise WriteConflict("images/a disappeared")

    with pytest.raises(WriteConflict, match="disappeared"):
        commit_with_retry(documents, plan, what="images/a")
    assert calls == [1]
