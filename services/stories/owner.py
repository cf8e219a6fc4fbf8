"""One owner decides: the stories stage's lease, and its state's durability in Redis.

Story assignment reads and changes state every article shares (the live stories, the
near-copy index, the document frequencies), so two workers assigning at once could both
start a story for one event. The stage therefore has one owner at a time: the process
holding the lease ``{prefix}:stories:lease`` (a token with an expiry, renewed well before
it runs out). Other stories processes wait for the lease before they read anything, and
take over when the owner dies: its lease expires, the next one loads the state.

The owner keeps the state in memory (:class:`~services.stories.state.StoriesState`) and
makes it durable in Redis: every assignment's input is appended to
``{prefix}:stories:log`` in the same transaction as its batch's results and acks, and now
and then (``stories_snapshot_every`` articles and ``stories_snapshot_min_s`` seconds
apart) a child process forked from the owner writes the whole state, as it was at the
fork, to ``{prefix}:stories:snapshot`` (with its sequence number) while the owner goes
on; once it is written, the log before it is trimmed. A new owner loads the snapshot,
replays the logged inputs after it, and so rebuilds the very state the last owner had
committed; then it works off the entries the last owner left pending, before any new
one, so that they are assigned in the order they came. docs/CHOICES.md says why, and how
this scales past one Redis node.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time

import redis
import redis.asyncio as aredis
from redis.asyncio.client import Pipeline

from services.stories.state import StoriesState
from services.stories.tuning import DEFAULT_TUNING, Tuning
from shared.ids import entry_id_key
from shared.settings import Settings
from shared.story_schemas import StoryInput
from shared.streams import DATA_FIELD, Keys
from shared.wire import Entry, pack, unpack

log = logging.getLogger("newsflow.stories")

#: The log entry field holding the sequence number of the assignment it records.
SEQ_FIELD = b"seq"

# Renew the lease only if it is still ours: after a long pause another owner may hold it.
# A lease that is gone (Redis lost its data) is taken again: 2.
_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
elseif not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
"""


# Write a snapshot only while its writer still holds the lease: a child of an owner that
# lost it must not put an older state over its successor's.
_SAVE = """
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""


class LeaseLost(RuntimeError):
    """Another process holds the stories lease now: this one must not assign."""


class Owner:
    """The stories lease and the durable state of the process that holds it."""

    def __init__(self, client: aredis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        keys = Keys(settings.stream_prefix)
        self.lease_key = keys.story_state("lease")
        self.log_key = keys.story_state("log")
        self.snapshot_key = keys.story_state("snapshot")
        self.token = f"{settings.consumer_name}:{secrets.token_hex(8)}"
        self.lease_ms = int(settings.stories_lease_s * 1000)
        #: Until when (monotonic) this process surely holds the lease.
        self._held_until = 0.0
        #: Set when the lease had vanished and was taken again: Redis lost its data, so
        #: the next commit saves a snapshot of the state this process still has.
        self.regained = False
        self._renew = client.register_script(_RENEW)

    def holds(self) -> bool:
        """Whether the lease is surely still this process' (with a margin of a tenth)."""
        return time.monotonic() < self._held_until

    async def confirm(self) -> None:
        """Before a batch: renew the lease unless more than half of it is surely left (a
        starved process may have missed its renewals); raises :class:`LeaseLost`."""
        if self._held_until - time.monotonic() < 0.5 * self.settings.stories_lease_s:
            await self.renew()

    async def acquire(self) -> None:
        """Wait until this process holds the lease."""
        waited = False
        while True:
            started = time.monotonic()
            if await self.client.set(self.lease_key, self.token, nx=True, px=self.lease_ms):
                self._held_until = started + 0.9 * self.settings.stories_lease_s
                log.info("stories: %s owns the story state", self.settings.consumer_name)
                return
            if not waited:
                holder = await self.client.get(self.lease_key)
                log.info("stories: waiting for the lease, held by %r", holder)
                waited = True
            await asyncio.sleep(min(1.0, self.settings.stories_lease_s / 10))

    async def renew(self) -> None:
        """Extend the lease; raises :class:`LeaseLost` if another process took it."""
        started = time.monotonic()
        renewed = await self._renew(keys=[self.lease_key], args=[self.token, self.lease_ms])
        if not renewed:
            self._held_until = 0.0
            raise LeaseLost("the stories lease was taken over by another process")
        if renewed == 2:
            log.warning("stories: the lease was gone (Redis lost its data?); took it again")
            self.regained = True
        self._held_until = started + 0.9 * self.settings.stories_lease_s

    async def release(self) -> None:
        """Give the lease up at shutdown, so a successor need not wait for it to expire."""
        await self.client.eval(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end"
            " return 0",
            1,
            self.lease_key,
            self.token,
        )

    async def load(self, tuning: Tuning = DEFAULT_TUNING) -> StoriesState:
        """The state the last owner committed: the snapshot, then the log after it."""
        state = StoriesState(tuning)
        blob = await self.client.get(self.snapshot_key)
        if isinstance(blob, bytes) and blob:
            try:
                state = StoriesState.restore(blob, tuning)
            except (ValueError, KeyError, TypeError) as exc:
                log.error("stories: ignoring an unreadable snapshot (%s); using the log", exc)
        replayed, expected = 0, state.seq + 1
        entries: list[tuple[bytes, dict[bytes, bytes]]] = await self.client.xrange(  # type: ignore[assignment]
            self.log_key
        )
        for _entry_id, fields in entries:
            seq = int(fields[SEQ_FIELD])
            if seq < expected:
                continue
            if seq > expected:
                log.error(
                    "stories: the log lacks assignments %d..%d (trimmed before a snapshot "
                    "was saved?); stories of earlier articles may differ",
                    expected,
                    seq - 1,
                )
            state.assign(StoryInput.model_validate_json(unpack(fields[DATA_FIELD])))
            state.seq = seq
            expected = seq + 1
            replayed += 1
        log.info(
            "stories: state loaded: %d live stories, %d assignments replayed after the snapshot",
            len(state.cards),
            replayed,
        )
        return state

    def record(self, pipe: Pipeline, article: StoryInput, seq: int) -> None:
        """Log one assignment's input (inside the batch's transaction)."""
        pipe.xadd(self.log_key, {DATA_FIELD: pack(article), SEQ_FIELD: str(seq)})

    def save_in_background(self, state: StoriesState) -> int:
        """Fork a child that writes a snapshot of ``state`` as it is now (copy-on-write:
        the owner goes on assigning meanwhile); the child's pid. It exits 0 once the
        snapshot is written, 2 if the lease is no longer this process', 1 on an error.
        Call it between batches, so that the state is the committed one."""
        url = self.settings.require_redis_url()
        cluster = self.settings.redis_cluster
        pid = os.fork()
        if pid:
            return pid
        code = 1
        try:  # the child: no logging (another thread may have held its lock at the fork)
            blob = state.snapshot()
            client = redis.RedisCluster.from_url(url) if cluster else redis.Redis.from_url(url)
            written = client.eval(_SAVE, 2, self.snapshot_key, self.lease_key, blob, self.token)
            code = 0 if written else 2
        finally:
            os._exit(code)

    async def trim_log(self, keep: int) -> None:
        """Drop the log entries a written snapshot covers: all but the ``keep`` newest
        (the assignments committed after the snapshot's). Call it between batches."""
        await self.client.xtrim(self.log_key, maxlen=max(keep, 0), approximate=False)

    async def pending(self, stream: str, group: str) -> list[Entry]:
        """Every entry the group still has pending, whoever it was delivered to, claimed
        for this process, oldest first. Safe only for the lease holder."""
        entries: list[Entry] = []
        start = "0-0"
        while True:
            reply = await self.client.xautoclaim(
                stream, group, self.settings.consumer_name, 0, start_id=start, count=100
            )
            start = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
            for entry_id, fields in reply[1]:
                if fields is not None:
                    key = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                    entries.append(Entry(key, fields))
            if start == "0-0":
                break
        entries.sort(key=lambda e: entry_id_key(e.entry_id))
        return entries
