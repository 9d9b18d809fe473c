"""simple_spread's `max_agents`: one observation length for every N, the unpadded values in
the first slots, presence bits for the rest; the batched env pads the same way."""

from __future__ import annotations

import numpy as np
import pytest

from testbed.envs.spread_padding import pad_spread, padded_dim
from testbed.errors import BadInput
from testbed.registry import make_env


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_every_agent_count_has_one_padded_length(n: int) -> None:
    plain = make_env("mpe/simple_spread_v3", N=n)
    padded = make_env("mpe/simple_spread_v3", N=n, max_agents=4)
    raw, _ = plain.reset(seed=3)
    obs, _ = padded.reset(seed=3)
    assert padded.observation_space("agent_0").shape == (padded_dim(4),) == (31,)
    o, r = obs["agent_0"], raw["agent_0"]
    assert o.shape == (31,)
    np.testing.assert_array_equal(o[: 4 + 2 * n], r[: 4 + 2 * n])  # vel, pos, landmarks
    np.testing.assert_array_equal(o[12 : 12 + 2 * (n - 1)], r[4 + 2 * n : 2 + 4 * n])  # others
    assert not o[4 + 2 * n : 12].any() and not o[12 + 2 * (n - 1) : 18].any()  # empty slots
    np.testing.assert_array_equal(o[24:28], [1.0] * n + [0.0] * (4 - n))  # landmarks present
    np.testing.assert_array_equal(o[28:31], [1.0] * (n - 1) + [0.0] * (4 - n))  # others present
    # the padding changes nothing else: same rewards after the same actions
    actions = {a: 2 for a in plain.possible_agents}
    assert plain.step(actions)[1] == padded.step(actions)[1]


def test_max_agents_below_n_is_refused() -> None:
    with pytest.raises(BadInput, match=r"max_agents \(3\) must be at least N \(4\)"):
        make_env("mpe/simple_spread_v3", N=4, max_agents=3)
    with pytest.raises(ValueError, match="has 18 values"):
        pad_spread(np.zeros(12), 3, 4)
