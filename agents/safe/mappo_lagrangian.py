"""MAPPO-Lagrangian: MAPPO on the Lagrangian of a constrained Markov game.

Gu, Kuba, Chen, Wen, Wang, Yang, Knoll (2023), "Safe Multi-Agent Reinforcement Learning for
Multi-Robot Control" (Artificial Intelligence 319; MACPO and MAPPO-L). Composed from the
project's MAPPO (`testbed.agents.marl.mappo`: shared actor, centralised critic, per-agent GAE),
a centralised cost critic V_C (same input as the reward critic: all group agents'
observations + the agent indicator) and `Lagrange` multipliers (`testbed.agents.safe.lagrange`).
Per rollout of `rollout_steps` env steps of the group:

    J_C          = mean episode cost of the episodes that finished during the rollout
    lambda       <- Lagrange.update(J_C)          (before the policy update)
    A_R, R_R     = GAE of rewards with MAPPO's critic, per agent trajectory
    A_C, R_C     = GAE of costs with V_C (`cost_gamma`, `cost_gae_lambda`), per agent trajectory
    A            = (norm(A_R) - lambda * norm(A_C)) / (1 + lambda)
    MAPPO.optimize(batch, A, R_R)      (clipped surrogate on A; reward critic on R_R)
    V_C          fitted to R_C (clipped, value-normalised like the reward critic)

The same advantage formula as the single-agent PPO-Lagrangian (agents/safe/ppo_lagrangian.py):
`norm` standardises each signal over the rollout batch, and the combined advantage is used as is.
With `cost_advantage: "center"` the cost advantages are only centred (OmniSafe's buffer does
this), so lambda weighs costs in their own units and the cost term fades as costs get rare.

Two constraint modes:
- `constraint: "team"`: one lambda on the team's episode cost (the sum of all group agents'
  costs over the episode) <= `cost_limit`. The team's cost is the sum of the agents' costs,
  so the gradient of lambda * (sum_i J^i_C - d) is lambda * sum_i grad J^i_C: every agent's
  cost advantages come from its own costs, all weighed by the one team lambda. (Charging each
  agent the team's per-step cost instead would let an agent that terminates early, e.g. at its
  goal, escape its teammates' later costs: a reward for leaving, not for safety.)
- `constraint: "agent"` (the paper's per-agent constraints J^i_C <= c^i): one lambda per agent on
  its own episode cost <= `cost_limit`; each agent's advantages use its own lambda.

Lambda uses OmniSafe's Adam rule by default (`lagrange_mode: "adam"`, lr 0.035 as in OmniSafe's
PPOLag configs); "gradient" (safety-starter-agents, lr 0.05) and "pid" (Stooke et al. 2020)
are the alternatives. MAPPO's hyperparameters are MAPPO's defaults. `explore` samples, `act` is
MAPPO's evaluation policy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from testbed.agents.common.group_rollout import ValueNorm, fit_critic
from testbed.agents.common.nets import adam, mlp
from testbed.agents.common.rollout import gae, standardize
from testbed.agents.marl.mappo import ACTIVATIONS, MAPPO, MAPPOConfig
from testbed.agents.safe.lagrange import Lagrange, LagrangeConfig

CONSTRAINTS = ("team", "agent")
COST_ADVANTAGES = ("standardize", "center")


@dataclass(frozen=True)
class MAPPOLagrangianConfig(MAPPOConfig, LagrangeConfig):
    """MAPPO's hyperparameters plus the constraint, its multiplier(s) and the cost critic
    (`LagrangeConfig`, with OmniSafe's Adam multiplier as the default)."""

    constraint: str = "team"
    """"team": the team's summed episode cost <= cost_limit (one lambda); "agent": each
    agent's own episode cost <= cost_limit (one lambda per agent)."""
    lagrange_mode: str = "adam"
    """As in `LagrangeConfig`; "adam" here, as OmniSafe's PPOLag."""
    lagrange_lr: float = 0.035
    """As in `LagrangeConfig`; OmniSafe's `lambda_lr`."""
    cost_advantage: str = "standardize"
    """"standardize" (like the reward advantages) or "center" (OmniSafe: only the mean is
    removed, so the cost term keeps its scale and fades as the costs become rare)."""


class MAPPOLagrangian:
    """MAPPO whose actors climb (A_R - lambda A_C) / (1 + lambda); lambda enforces the budget."""

    default_num_envs = 16
    """Env copies a train stage steps by default (as MAPPO)."""

    Config = MAPPOLagrangianConfig
    joint = True

    def __init__(
        self,
        observation_spaces: Mapping[str, spaces.Space],
        action_spaces: Mapping[str, spaces.Space],
        config: MAPPOLagrangianConfig | None = None,
    ):
        self.config = c = config or MAPPOLagrangianConfig()
        if c.constraint not in CONSTRAINTS:
            raise ValueError(f"constraint must be one of {CONSTRAINTS}, got {c.constraint!r}")
        if c.cost_advantage not in COST_ADVANTAGES:
            raise ValueError(
                f"cost_advantage must be one of {COST_ADVANTAGES}, got {c.cost_advantage!r}"
            )
        mappo_fields = {f.name: getattr(c, f.name) for f in dataclasses.fields(MAPPOConfig)}
        self.mappo = MAPPO(
            observation_spaces, action_spaces, MAPPOConfig(**mappo_fields), "MAPPO-Lagrangian"
        )
        self.agents = self.mappo.agents
        activation = ACTIVATIONS[c.activation]
        self.cost_critics = [
            mlp(dim, 1, c.hidden, activation, out_gain=1.0) for dim in self.mappo.critic_dims
        ]
        self.cost_optimizers = [
            adam(v.parameters(), c.critic_learning_rate, c.adam_eps) for v in self.cost_critics
        ]
        self.cost_norms = [ValueNorm(c.value_normalization) for _ in self.cost_critics]
        self.lagranges = [
            Lagrange.from_config(c)
            for _ in range(1 if c.constraint == "team" else len(self.agents))
        ]
        self._episode_costs = {a: np.zeros(1) for a in self.agents}  # per env copy
        self._finished: list[list[float]] = [[] for _ in self.lagranges]

    @property
    def lagrange(self) -> Lagrange:
        """The team's multiplier (mode "team"); the first agent's in mode "agent"."""
        return self.lagranges[0]

    # -- acting: MAPPO's ----------------------------------------------------------------------

    def reset(self, seed: int | None = None) -> None:
        self.mappo.reset(seed)

    def act(
        self, observations: Mapping[str, Any], action_masks: Mapping[str, np.ndarray | None]
    ) -> dict[str, Any]:
        return self.mappo.act(observations, action_masks)

    def explore(
        self, observations: Mapping[str, Any], action_masks: Mapping[str, np.ndarray | None]
    ) -> dict[str, Any]:
        return self.mappo.explore(observations, action_masks)

    def explore_batch(
        self, observations: Mapping[str, Any], action_masks: Mapping[str, Any]
    ) -> dict[str, np.ndarray]:
        return self.mappo.explore_batch(observations, action_masks)

    # -- learning -----------------------------------------------------------------------------

    def observe(self, transitions: Mapping[str, Mapping[str, Any]]) -> None:
        """One step of one env ({agent: transition} of the group's live agents)."""
        if not transitions:
            return
        if self.mappo.breaks_episode(transitions):  # the last episode was abandoned
            self._episode_costs = {a: np.zeros(1) for a in self.agents}
        self._count(
            {a: np.array([t.get("cost", 0.0)]) for a, t in transitions.items()},
            np.array([all(t["terminated"] or t["truncated"] for t in transitions.values())]),
        )
        self.mappo.observe(transitions)

    def observe_batch(self, batches: Mapping[str, Any]) -> None:
        """One step of every env copy ({agent: TransitionBatch})."""
        ends = np.logical_and.reduce(
            [np.asarray(b.terminated) | np.asarray(b.truncated) for b in batches.values()]
        )  # a copy's episode is over when no group agent is left live
        self._count({a: np.asarray(b.cost, np.float64) for a, b in batches.items()}, ends)
        self.mappo.observe_batch(batches)

    def _count(self, costs: Mapping[str, np.ndarray], ends: np.ndarray) -> None:
        """Add each copy's step costs; finish the episodes of the copies in `ends`."""
        n = len(ends)
        if any(len(v) != n for v in self._episode_costs.values()):
            self._episode_costs = {a: np.zeros(n) for a in self.agents}
        for agent, cost in costs.items():
            self._episode_costs[agent] = self._episode_costs[agent] + cost
        for c in np.flatnonzero(ends):
            if self.config.constraint == "team":
                self._finished[0].append(float(sum(v[c] for v in self._episode_costs.values())))
            else:
                for i, agent in enumerate(self.agents):
                    self._finished[i].append(float(self._episode_costs[agent][c]))
            for agent in self.agents:
                self._episode_costs[agent][c] = 0.0

    def update(self) -> dict[str, float]:
        batches = self.mappo.take_rollout()
        if batches is None:
            return {}
        c = self.config
        metrics: dict[str, list[float]] = {}
        for lagrange, finished in zip(self.lagranges, self._finished, strict=True):
            if finished:  # no finished episode in this rollout: lambda stays
                lagrange.update(float(np.mean(finished)))
                metrics.setdefault("episode_cost", []).append(float(np.mean(finished)))
                finished.clear()
        lambdas = torch.tensor([lag.value for lag in self.lagranges], dtype=torch.float32)
        for head, batch in enumerate(batches):
            if not batch:
                continue
            reward_adv, reward_returns = self.mappo.advantages(head, batch)
            critic, norm = self.cost_critics[head], self.cost_norms[head]
            with torch.no_grad():
                cost_raw = critic(batch["state"]).squeeze(-1)
                next_cost = norm.denormalize(critic(batch["next_state"]).squeeze(-1))
            cost_adv, cost_returns = gae(
                batch["cost"], norm.denormalize(cost_raw), next_cost, batch["terminated"],
                batch["end"], c.cost_gamma, c.cost_gae_lambda,
            )  # fmt: skip
            lam = lambdas[0] if c.constraint == "team" else lambdas[batch["agent_index"]]
            cost_adv = (
                standardize(cost_adv)
                if c.cost_advantage == "standardize"
                else (cost_adv - cost_adv.mean())
            )
            advantages = (standardize(reward_adv) - lam * cost_adv) / (1.0 + lam)
            for key, value in self.mappo.optimize(head, batch, advantages, reward_returns).items():
                metrics.setdefault(key, []).append(value)
            metrics.setdefault("cost_value_loss", []).append(
                self._fit_cost_critic(head, batch["state"], cost_raw, cost_returns)
            )
            metrics.setdefault("rollout_cost", []).append(float(batch["cost"].sum()))
        self.mappo.updates += 1
        out = {key: float(np.mean(values)) for key, values in metrics.items()}
        out.update(lagrange=float(lambdas.mean()), updates=float(self.mappo.updates))
        return out

    def _fit_cost_critic(
        self, head: int, states: torch.Tensor, old_raw: torch.Tensor, returns: torch.Tensor
    ) -> float:
        c = self.config
        self.cost_norms[head].update(returns)
        clip = c.clip_range if c.clip_value_loss else None
        size = max(1, -(-len(returns) // c.minibatches))
        losses = [
            fit_critic(
                self.cost_critics[head],
                self.cost_optimizers[head],
                self.cost_norms[head],
                states,
                old_raw,
                returns,
                idx,
                clip,
                c.max_grad_norm,
            )  # fmt: skip
            for _ in range(c.epochs)
            for idx in torch.randperm(len(returns)).split(size)
        ]
        return float(np.mean(losses))

    # -- checkpoints --------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "mappo": self.mappo.state_dict(),
            "cost_critics": [v.state_dict() for v in self.cost_critics],
            "cost_optimizers": [o.state_dict() for o in self.cost_optimizers],
            "cost_norms": [n.state_dict() for n in self.cost_norms],
            "lagranges": [lag.state_dict() for lag in self.lagranges],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mappo.load_state_dict(state["mappo"])
        for objects, key in (
            (self.cost_critics, "cost_critics"), (self.cost_optimizers, "cost_optimizers"),
            (self.cost_norms, "cost_norms"), (self.lagranges, "lagranges"),
        ):  # fmt: skip
            if len(state[key]) != len(objects):
                raise ValueError(f"{key}: {len(state[key])} saved, {len(objects)} expected")
            for obj, saved in zip(objects, state[key], strict=True):
                obj.load_state_dict(saved)
        self._episode_costs = {a: np.zeros(1) for a in self.agents}
        self._finished = [[] for _ in self.lagranges]
