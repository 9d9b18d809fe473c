"""Seeds: a run's root seed derives every episode's seed, independent of workers and order."""

from __future__ import annotations

import zlib

import numpy as np


def episode_seeds(root: int, count: int, stream: str = "") -> list[int]:
    """`count` episode seeds derived from `root` (and a stream name, e.g. a stage name).

    Episode k's seed depends only on (root, stream, k), so running a prefix, resuming, or
    splitting the episodes over workers gives the same seeds.
    """
    key = (zlib.crc32(stream.encode()),) if stream else ()
    children = np.random.SeedSequence(root, spawn_key=key).spawn(count)
    return [int(child.generate_state(1, dtype=np.uint32)[0]) for child in children]


def member_seed(episode_seed: int, index: int) -> int:
    """The seed of the `index`-th member of a team in an episode."""
    state = np.random.SeedSequence(episode_seed, spawn_key=(index,)).generate_state(1)
    return int(state[0])


def stream_seed(root: int, stream: str, index: int) -> int:
    """The `index`-th seed of an unbounded named stream (training episodes, evaluations)."""
    key = (zlib.crc32(stream.encode()), index)
    return int(np.random.SeedSequence(root, spawn_key=key).generate_state(1)[0])
