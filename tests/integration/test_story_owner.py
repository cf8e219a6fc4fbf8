"""The stories owner on a real Redis: one lease holder at a time, snapshots written by a
forked child and trimmed logs, a state that loads back exactly, and the entries a dead
owner left pending taken over in stream order."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aredis

from services.stories.app import StoriesStage
from services.stories.owner import LeaseLost, Owner
from services.stories.state import StoriesState
from shared.settings import Settings
from shared.story_schemas import StoryInput
from shared.streams import DATA_FIELD, Keys
from shared.wire import unpack
from tests.helpers import as_text, wait_until
from tests.story_fixtures import STREAM, draft

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


def _owner(client: aredis.Redis, settings: Settings, name: str) -> Owner:
    return Owner(client, settings.model_copy(update={"consumer_name": name, "stories_lease_s": 2}))


async def test_one_owner_at_a_time_and_a_successor_after_release(
    client: aredis.Redis, settings: Settings
) -> None:
    first, second = _owner(client, settings, "one"), _owner(client, settings, "two")
    await first.acquire()
    assert first.holds()
    waiting = asyncio.create_task(second.acquire())
    await asyncio.sleep(0.5)
    assert not waiting.done()  # the lease is taken: the second one waits
    with pytest.raises(LeaseLost):
        await second.renew()
    await first.release()
    await asyncio.wait_for(waiting, timeout=5)
    assert second.holds()
    with pytest.raises(LeaseLost):
        await first.renew()  # it is the second one's now
    assert not first.holds()


async def test_a_lease_that_vanished_is_taken_again_and_a_snapshot_asked_for(
    client: aredis.Redis, settings: Settings
) -> None:
    owner = _owner(client, settings, "one")
    await owner.acquire()
    await client.delete(owner.lease_key)  # Redis lost its data
    await owner.renew()
    assert owner.regained and await client.get(owner.lease_key) == owner.token.encode()


async def test_a_snapshot_in_the_background_then_the_log_after_it_load_the_same_state(
    client: aredis.Redis, settings: Settings
) -> None:
    owner = _owner(client, settings, "one")
    await owner.acquire()
    stage = StoriesStage(owner, StoriesState(), settings)
    for first, part in ((True, STREAM[:4]), (False, STREAM[4:])):
        done = stage.work([draft(item) for item in part])
        pipe = client.pipeline(transaction=True)
        stage.commit(pipe, done)
        stage.observe(done, await pipe.execute())
        if first:
            stage.start_snapshot()
            await wait_until(lambda: _finished(stage), timeout=30)
            # The log the snapshot covers is gone.
            assert await client.xlen(owner.log_key) == 0
    assert stage.saved_seq == 4 and await client.xlen(owner.log_key) == len(STREAM) - 4
    # The log records what assignment reads, without the mentions the drafts carried.
    assert all(e.mentions for item in STREAM for e in item.entities)
    records: list[tuple[bytes, dict[bytes, bytes]]] = await client.xrange(owner.log_key)  # type: ignore[assignment]
    for _, fields in records:
        logged = StoryInput.model_validate_json(unpack(fields[DATA_FIELD]))
        assert logged.entities and not any(e.mentions for e in logged.entities)
        assert not any(p.mentions for p in logged.places)
    loaded = await owner.load()
    assert loaded.seq == stage.state.seq == len(STREAM)
    assert loaded.snapshot() == stage.state.snapshot()
    cards = await client.hlen(Keys(settings.stream_prefix).story_state("cards"))
    assert cards == len(stage.state.cards) == 3


async def _finished(stage: StoriesStage) -> bool:
    await stage.finish_snapshot()
    return stage.saving is None


async def test_a_snapshot_is_not_written_by_a_process_that_lost_the_lease(
    client: aredis.Redis, settings: Settings
) -> None:
    owner = _owner(client, settings, "one")
    await owner.acquire()
    stage = StoriesStage(owner, StoriesState(), settings)
    await client.set(owner.lease_key, "someone else")
    stage.start_snapshot()
    await wait_until(lambda: _finished(stage), timeout=30)
    assert not await client.exists(owner.snapshot_key)
    assert stage.saved_seq == 0


async def test_entries_a_dead_owner_left_pending_are_taken_over_in_stream_order(
    client: aredis.Redis, settings: Settings
) -> None:
    stream, group = Keys(settings.stream_prefix).drafts, "stories"
    await client.xgroup_create(stream, group, id="0", mkstream=True)
    ids = [await client.xadd(stream, {"data": draft(item).model_dump_json()}) for item in STREAM]
    await client.xreadgroup(group, "dead-owner", {stream: ">"}, count=4)
    await client.xreadgroup(group, "dead-owner-2", {stream: ">"}, count=2)
    owner = _owner(client, settings, "successor")
    await owner.acquire()
    taken = await owner.pending(stream, group)
    assert [entry.entry_id for entry in taken] == [as_text(i) for i in ids[:6]]
    pending = await client.xpending_range(stream, group, min="-", max="+", count=10)
    assert {p["consumer"] for p in pending} == {b"successor"}
