"""The first draws of `np.random.default_rng(copy_seed(seed, c, e))` for many copies at once.

Auto-reset seeds episode `e` of copy `c` with `testbed.rollout.vector.copy_seed(seed, c, e)`
and draws its initial state from `np.random.default_rng` of that seed. Building one Generator
per copy costs ~25 us (two SeedSequences and a PCG64), which would dominate a batched step of
a thousand copies. `CopyDraws` computes the same numbers with array operations over copies:
NumPy's SeedSequence hash (the uint32 mixing of `numpy/random/bit_generator.pyx`), the PCG64
seeding and XSL-RR output (128-bit arithmetic on uint64 limbs, the k-th state as
`seed * P_k + inc * Q_k` with precomputed constants), `next_double` and `uniform`, and the
32-bit Lemire draw of `Generator.integers(0, n)`. NumPy guarantees these streams are stable
(NEP 19). `reference_draws` is the plain per-copy version it must equal (tested), also used for
small batches and for the rare rejected Lemire draw.
"""

from __future__ import annotations

import zlib

import numpy as np

from testbed.rollout.vector import copy_seed

_M32 = 0xFFFFFFFF
_M64 = (1 << 64) - 1
_M128 = (1 << 128) - 1
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = np.uint32(0xCA01F9DD), np.uint32(0x4973F715)
_PCG_MULT = 0x2360ED051FC65DA44385DF649FCCF645
_POOL = 4
_U16, _U32, _U11, _U58, _U63, _U64 = (np.uint64(k) for k in (16, 32, 11, 58, 63, 64))
_LOW32 = np.uint64(_M32)


def _words(n: int) -> list[int]:
    """An int as SeedSequence's little-endian uint32 words (0 is one word)."""
    out = [] if n else [0]
    while n:
        out.append(n & _M32)
        n >>= 32
    return out


class _Hash:
    """SeedSequence's `hashmix` on uint32 arrays; the hash constant advances per call."""

    def __init__(self, start: int, mult: int):
        self.const, self.mult = start, mult

    def __call__(self, value: np.ndarray) -> np.ndarray:
        value = value ^ np.uint32(self.const)
        self.const = (self.const * self.mult) & _M32
        value = value * np.uint32(self.const)
        return value ^ (value >> np.uint32(16))


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    result = _MIX_L * x - _MIX_R * y
    return result ^ (result >> np.uint32(16))


def _mix_in(pool: list[np.ndarray], word: np.ndarray, hashmix: _Hash) -> list[np.ndarray]:
    """Mix one more entropy word into every pool word (SeedSequence's last loop)."""
    return [_mix(p, hashmix(word)) for p in pool]


def _pool_of(first: list[np.ndarray], hashmix: _Hash) -> list[np.ndarray]:
    """The pool after SeedSequence's first two loops over the first (<= 4) entropy words."""
    zero = np.zeros(1, np.uint32)
    pool = [hashmix(first[i] if i < len(first) else zero) for i in range(_POOL)]
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = _mix(pool[dst], hashmix(pool[src]))
    return pool


def _generate(pool: list[np.ndarray], n_words: int) -> list[np.ndarray]:
    """`SeedSequence.generate_state(n_words, np.uint32)` as n_words arrays."""
    hashmix = _Hash(_INIT_B, _MULT_B)
    return [hashmix(pool[i % _POOL]) for i in range(n_words)]


def _split(value: int) -> tuple[np.uint64, np.uint64]:
    return np.uint64(value >> 64), np.uint64(value & _M64)


def _mulhi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """High 64 bits of the 128-bit product of uint64 arrays."""
    a0, a1, b0, b1 = a & _LOW32, a >> _U32, b & _LOW32, b >> _U32
    p01, p10 = a0 * b1, a1 * b0
    mid = ((a0 * b0) >> _U32) + (p01 & _LOW32) + (p10 & _LOW32)
    return a1 * b1 + (p01 >> _U32) + (p10 >> _U32) + (mid >> _U32)


def _mul128(ahi, alo, bhi, blo):
    """(a * b) mod 2**128 on (hi, lo) uint64 limbs."""
    return _mulhi(alo, blo) + alo * bhi + ahi * blo, alo * blo


class CopyDraws:
    """Initial-state draws of `default_rng(copy_seed(seed, c, e))` for copies 0..n-1.

    `draw(copies, episodes, lows, highs, choices)` returns what, per copy, the Generator's
    `integers(0, choices)` (first, when `choices` is given) and then `uniform(lows[k],
    highs[k])` for k = 0..K-1 return, drawn in that order.
    """

    def __init__(self, num_copies: int):
        self.num_copies = num_copies
        self._crc = np.array(
            [zlib.crc32(f"copy/{c}".encode()) for c in range(num_copies)], np.uint32
        )
        self._root: int | None = None
        self._pcg: dict[int, tuple] = {}

    def set_root(self, seed: int) -> None:
        """Hash the parts of `copy_seed(seed, c, e)` that do not depend on the episode."""
        seed = int(seed)
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        self._root = seed
        run = _words(seed)
        run += [0] * (_POOL - len(run))
        hashmix = _Hash(_INIT_A, _MULT_A)
        pool = _pool_of([np.array([w], np.uint32) for w in run[:_POOL]], hashmix)
        for word in run[_POOL:]:
            pool = _mix_in(pool, np.array([word], np.uint32), hashmix)
        self._pool = _mix_in(pool, self._crc, hashmix)
        self._hash_const = hashmix.const

    def seeds(self, copies: np.ndarray, episodes: np.ndarray) -> np.ndarray:
        """`copy_seed(seed, c, e)` for these copies and episodes (uint32)."""
        hashmix = _Hash(self._hash_const, _MULT_A)
        pool = [p[copies] for p in self._pool]
        return _generate(_mix_in(pool, episodes.astype(np.uint32), hashmix), 1)[0]

    def _constants(self, count: int) -> tuple:
        """(P_k, Q_k) limbs with PCG64 state after draw k = seed * P_k + inc * Q_k."""
        if count not in self._pcg:
            mult, power, total, ps, qs = _PCG_MULT, 1, 0, [], []
            for _ in range(count):  # after draw k: M^(k+2) seed + (M^(k+1) (M+1) + S_(k+1)) inc
                total = (total + power) & _M128
                power = (power * mult) & _M128
                ps.append(_split((power * mult) & _M128))
                qs.append(_split((power * (mult + 1) + total) & _M128))
            limbs = [*zip(*ps, strict=True), *zip(*qs, strict=True)]
            self._pcg[count] = tuple(np.array(x, np.uint64) for x in limbs)
        return self._pcg[count]

    def raw(self, seeds: np.ndarray, count: int) -> np.ndarray:
        """The first `count` `random_raw()` outputs of `default_rng(seed)`: (n, count) uint64."""
        hashmix = _Hash(_INIT_A, _MULT_A)
        words = [w.astype(np.uint64) for w in _generate(_pool_of([seeds], hashmix), 8)]
        val = [words[2 * k] | (words[2 * k + 1] << _U32) for k in range(4)]
        shi, slo = val[0][:, None], val[1][:, None]
        ihi = ((val[2] << np.uint64(1)) | (val[3] >> _U63))[:, None]
        ilo = ((val[3] << np.uint64(1)) | np.uint64(1))[:, None]
        phi, plo, qhi, qlo = self._constants(count)
        ahi, alo = _mul128(shi, slo, phi, plo)
        bhi, blo = _mul128(ihi, ilo, qhi, qlo)
        lo = alo + blo
        hi = ahi + bhi + (lo < alo).astype(np.uint64)
        x, rot = hi ^ lo, hi >> _U58
        return (x >> rot) | (x << ((_U64 - rot) & _U63))

    def draw(
        self,
        copies: np.ndarray,
        episodes: np.ndarray,
        lows: np.ndarray,
        highs: np.ndarray,
        choices: int | None = None,
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """(choice per copy or None, uniform draws (n, K)) for these copies' episodes."""
        if self._root is None:
            raise RuntimeError("set_root(seed) first")
        copies = np.asarray(copies, np.int64)
        episodes = np.asarray(episodes, np.int64)
        if episodes.size and episodes.max() > _M32:
            return reference_draws(self._root, copies, episodes, lows, highs, choices)
        skip = 0 if choices is None else 1
        raw = self.raw(self.seeds(copies, episodes), len(lows) + skip)
        values = lows + (highs - lows) * ((raw[:, skip:] >> _U11) * (1.0 / 9007199254740992.0))
        if choices is None:
            return None, values
        product = (raw[:, 0] & _LOW32) * np.uint64(choices)  # Lemire on the low 32 bits
        chosen = (product >> _U32).astype(np.int64)
        rejected = np.flatnonzero((product & _LOW32) < np.uint64((1 << 32) % choices))
        if rejected.size:
            chosen[rejected], values[rejected] = reference_draws(
                self._root, copies[rejected], episodes[rejected], lows, highs, choices
            )
        return chosen, values


def reference_draws(
    seed: int,
    copies: np.ndarray,
    episodes: np.ndarray,
    lows: np.ndarray,
    highs: np.ndarray,
    choices: int | None = None,
) -> tuple[np.ndarray | None, np.ndarray]:
    """`CopyDraws.draw`, one `np.random.default_rng(copy_seed(seed, c, e))` per copy."""
    chosen = np.zeros(len(copies), np.int64)
    values = np.empty((len(copies), len(lows)))
    for row, (c, e) in enumerate(zip(copies, episodes, strict=True)):
        rng = np.random.default_rng(copy_seed(seed, int(c), int(e)))
        if choices is not None:
            chosen[row] = rng.integers(0, choices)
        values[row] = rng.uniform(lows, highs)
    return (None if choices is None else chosen), values
