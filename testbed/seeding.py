"""Seeds: a run's root seed derives every episode's seed, independent of workers and order."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import overload

import numpy as np


def episode_seed(root: int, k: int, stream: str = "") -> int:
    """Episode k's seed: child k of `SeedSequence(root)` (of the stream, e.g. a stage name).

    It depends only on (root, stream, k), so running a prefix, resuming, or splitting the
    episodes over workers gives the same seeds; it is what `SeedSequence(...).spawn(n)[k]`
    gives, computed without spawning the k children before it.
    """
    key = (zlib.crc32(stream.encode()), k) if stream else (k,)
    return int(np.random.SeedSequence(root, spawn_key=key).generate_state(1, dtype=np.uint32)[0])


class EpisodeSeeds(Sequence[int]):
    """The seeds of episodes 0..count-1, computed when read (a count may be huge)."""

    def __init__(self, root: int, count: int, stream: str = ""):
        self.root, self.count, self.stream = root, count, stream

    def __len__(self) -> int:
        return self.count

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> list[int]: ...

    def __getitem__(self, index: int | slice) -> int | list[int]:
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(self.count))]
        if not -self.count <= index < self.count:
            raise IndexError(index)
        return episode_seed(self.root, index % self.count, self.stream)


def episode_seeds(root: int, count: int, stream: str = "") -> list[int]:
    """`count` episode seeds derived from `root` (and a stream name), as a list."""
    return list(EpisodeSeeds(root, count, stream))


def member_seed(episode_seed: int, index: int) -> int:
    """The seed of the `index`-th member of a team in an episode."""
    state = np.random.SeedSequence(episode_seed, spawn_key=(index,)).generate_state(1)
    return int(state[0])


def stream_seed(root: int, stream: str, index: int) -> int:
    """The `index`-th seed of an unbounded named stream (training episodes, evaluations)."""
    key = (zlib.crc32(stream.encode()), index)
    return int(np.random.SeedSequence(root, spawn_key=key).generate_state(1)[0])
