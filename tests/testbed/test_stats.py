from __future__ import annotations

import math

import numpy as np

from testbed.evaluate.stats import summarize
from testbed.seeding import episode_seeds


def test_t_interval_matches_textbook_value():
    s = summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    # mean 3, sd sqrt(2.5), t(0.975, 4) = 2.7764
    half = 2.776445 * math.sqrt(2.5) / math.sqrt(5)
    assert s.mean == 3.0 and abs(s.half_width - half) < 1e-4


def test_interval_covers_true_mean_about_95_percent():
    rng = np.random.default_rng(0)
    hits = sum(
        (s := summarize(rng.normal(1.0, 2.0, 20))).ci_low <= 1.0 <= s.ci_high for _ in range(2000)
    )
    assert 0.93 <= hits / 2000 <= 0.97


def test_small_samples_have_no_interval():
    assert math.isnan(summarize([2.0]).ci_low) and summarize([2.0]).mean == 2.0
    assert summarize([]).n == 0
    assert summarize([2.0]).to_dict()["ci_low"] is None


def test_episode_seeds_are_prefix_stable_and_stream_specific():
    assert episode_seeds(7, 10)[:4] == episode_seeds(7, 4)
    assert episode_seeds(7, 4) != episode_seeds(8, 4)
    assert episode_seeds(7, 4, "a") != episode_seeds(7, 4, "b")
    assert len(set(episode_seeds(0, 1000))) == 1000
