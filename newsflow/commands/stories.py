"""The ``stories`` command: the live stories, the most recently active first."""

from __future__ import annotations

import argparse

import redis.asyncio as aredis

from newsflow.commands.session import run_on_redis
from newsflow.stories import describe_story, live_stories
from shared.settings import Settings
from shared.streams import Keys


async def _stories(args: argparse.Namespace, settings: Settings, client: aredis.Redis) -> int:
    cards = await live_stories(client, Keys(settings.stream_prefix), limit=args.limit)
    if args.json:
        for card in cards:
            print(card.model_dump_json())
        return 0
    if not cards:
        print("no live stories")
        return 0
    print(f"{'story':19}  {'size':>4}  {'last seen':16}  {'focus':18}  label  [who]")
    for card in cards:
        print(describe_story(card))
    return 0


def cmd_stories(args: argparse.Namespace) -> int:
    """List the live stories."""
    return run_on_redis(args, _stories)
