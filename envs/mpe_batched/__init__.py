"""Batched MPE: PettingZoo 1.24.3's simple_spread_v3, simple_tag_v3 and simple_adversary_v3
for N copies at once, stepped with numpy array operations over all copies (a `VecEnv`,
`testbed.rollout.vector`).

What is reproduced: from the same state and actions, observations (float32, PettingZoo's
layout per scenario), rewards (incl. `local_ratio` of simple_spread), terminations (never) and
truncations (after `max_cycles` steps; observations are returned for every agent at that
step) equal PettingZoo's parallel env's to float rounding (tests: 1e-6; in practice they are
bit-identical, the float64 operations being done in PettingZoo's order). That covers the
discrete action -> force table and continuous `(a[2] - a[1], a[4] - a[3])` (clipped to
[0, 1], computed in the action's dtype), `accel` per agent type (default sensitivity 5),
contact forces (softplus penetration with `contact_margin` 1e-3, `contact_force` 100, between
entities that both `collide`, summed in entity order), integration (position with the old
velocity, damping 0.25, dt 0.1, then `max_speed` clipping) and the silent agents'
communication state (zeroed every step). Costs are 0.0 for every agent and step, like the
`infos[a]["cost"]` of `testbed.envs.pettingzoo_std`; there are no action masks.

Initial states: episode `e` of copy `c` is drawn from `np.random.default_rng(copy_seed(seed, c,
e))` in PettingZoo's `reset_world` order (goal landmark first for simple_adversary, then the
agents' positions, then the landmarks'), so it equals PettingZoo's `reset(seed=copy_seed(seed,
c, e))` exactly; `rng.CopyDraws` computes those draws for many copies at once. Auto-reset:
a copy whose episode ended (all copies truncate together unless states were set) is reset in
the same `step`, whose `final` holds its last observations.

State layout (`BatchedMPE` arrays, copy axis first, agents in `possible_agents` order,
landmarks in PettingZoo's order): `pos`, `vel` (N, A, 2), `comm` (N, A, 2), `landmark_pos`
(N, L, 2), `steps` (N,), `goal` (N,) (simple_adversary's goal landmark; 0 elsewhere).
`get_state(c)` / `set_state(c, state)` read and write one copy as a dict (`agent_pos`,
`agent_vel`, `agent_comm`, `landmark_pos`, `steps`, `goal`); `pettingzoo_state(env)` and
`set_pettingzoo_state(env, state)` do the same for a PettingZoo env; `observe()` gives the
observations of the current state.

Factories: the keyword parameters (and annotations) of `testbed.envs.pettingzoo_std`'s
wrappers, after `num_envs`, plus `max_steps` (an extra episode cut, as a stage's `max_steps`;
truncation at min(max_cycles, max_steps)); `render_mode` must be None (no rendering).

Version history: v0 (PettingZoo 1.24.3 MPE, first batched version).
"""

from __future__ import annotations

from testbed.envs.mpe_batched.core import (
    BatchedMPE,
    pettingzoo_state,
    set_pettingzoo_state,
)
from testbed.envs.mpe_batched.scenarios import BatchedAdversary, BatchedSpread, BatchedTag
from testbed.envs.pettingzoo_std import Count, Fraction, NonNegative, RenderMode

__all__ = [
    "BatchedAdversary",
    "BatchedMPE",
    "BatchedSpread",
    "BatchedTag",
    "pettingzoo_state",
    "set_pettingzoo_state",
    "simple_adversary_v3",
    "simple_spread_v3",
    "simple_tag_v3",
]


def _check(render_mode: RenderMode, **counts: int) -> None:
    if render_mode is not None:
        raise ValueError("the batched MPE does not render (render_mode must be None)")
    for name, value in counts.items():
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")


def simple_spread_v3(
    num_envs: Count,
    N: Count = 3,  # noqa: N803 (PettingZoo's parameter name)
    local_ratio: Fraction = 0.5,
    max_cycles: Count = 25,
    continuous_actions: bool = False,
    render_mode: RenderMode = None,
    max_agents: Count | None = None,
    max_steps: Count | None = None,
) -> BatchedSpread:
    """`num_envs` copies of simple_spread_v3 (agent_0..agent_{N-1}); `max_agents` pads the
    observations as `testbed.envs.spread_padding` does."""
    _check(render_mode, N=N)
    return BatchedSpread(
        num_envs, N, local_ratio, max_cycles, continuous_actions, max_steps, max_agents
    )


def simple_tag_v3(
    num_envs: Count,
    num_good: Count = 1,
    num_adversaries: Count = 3,
    num_obstacles: NonNegative = 2,
    max_cycles: Count = 25,
    continuous_actions: bool = False,
    render_mode: RenderMode = None,
    max_steps: Count | None = None,
) -> BatchedTag:
    """`num_envs` copies of simple_tag_v3 (adversary_0.., then agent_0..)."""
    _check(render_mode, num_good=num_good, num_adversaries=num_adversaries)
    if num_obstacles < 0:
        raise ValueError(f"num_obstacles must be non-negative, got {num_obstacles}")
    return BatchedTag(
        num_envs,
        num_good,
        num_adversaries,
        num_obstacles,
        max_cycles,
        continuous_actions,
        max_steps,
    )


def simple_adversary_v3(
    num_envs: Count,
    N: Count = 2,  # noqa: N803 (PettingZoo's parameter name)
    max_cycles: Count = 25,
    continuous_actions: bool = False,
    render_mode: RenderMode = None,
    max_steps: Count | None = None,
) -> BatchedAdversary:
    """`num_envs` copies of simple_adversary_v3 (adversary_0, agent_0..agent_{N-1})."""
    _check(render_mode, N=N)
    return BatchedAdversary(num_envs, N, max_cycles, continuous_actions, max_steps)
