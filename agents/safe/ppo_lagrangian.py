"""PPO-Lagrangian: PPO on the Lagrangian of a constrained MDP, with a learned multiplier.

Ray, Achiam, Amodei (2019), "Benchmarking Safe Exploration in Deep Reinforcement Learning"
(OpenAI Safety Gym; the PPO-Lagrangian baseline of safety-starter-agents), optionally with the
PID multiplier of Stooke, Achiam, Abbeel (2020). Composed from the project's PPO
(`testbed.agents.policy_gradient.ppo`), a cost critic and a `Lagrange` object
(`testbed.agents.safe.lagrange`); per rollout of `rollout_steps` env steps:

    J_C         = mean cost of the episodes that finished during the rollout
    lambda      <- Lagrange.update(J_C)        (once per rollout, before the policy update)
    A_R, R_R    = GAE of rewards with PPO's critic
    A_C, R_C    = GAE of costs with the cost critic V_C  (`cost_gamma`, `cost_gae_lambda`)
    A           = (norm(A_R) - lambda * norm(A_C)) / (1 + lambda)
    PPO.optimize(batch, A, R_R)    (clipped surrogate on A; reward critic on R_R)
    V_C         fitted to R_C by MSE for `epochs` passes over minibatches

`norm` standardises advantages over the rollout (both signals, as OmniSafe's PPOLag does;
safety-starter-agents only centres the cost advantages), so lambda weighs like scales and
lambda = 1 weighs cost as much as reward; the combined advantage is then used as is
(the inner PPO's per-minibatch normalisation is off, or it would undo the 1 / (1 + lambda)
scale). `cost_limit` d is a per-episode cost budget of this learner's agent (for
`testbed/safe_navigation_v0`: steps spent in hazards, touching robots or speeding).

Defaults are PPO's (Schulman et al. 2017, Table 3) and, for the multiplier, safety-starter-
agents' `penalty_lr` 0.05 with lambda starting at 0. Same contract as PPO: `explore` samples,
`act` is the argmax / Gaussian mean.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from testbed.agents.common.nets import adam, mlp
from testbed.agents.common.rollout import (
    EpisodeContinuity,
    EpisodeCosts,
    gae,
    standardize,
    value_loss,
)
from testbed.agents.common.spaces import obs_dim
from testbed.agents.policy_gradient.ppo import PPO, ActsWithPPO, PPOConfig
from testbed.agents.safe.lagrange import Lagrange, LagrangeConfig


@dataclass(frozen=True)
class PPOLagrangianConfig(PPOConfig, LagrangeConfig):
    """PPO's hyperparameters plus the constraint and its multiplier (`LagrangeConfig`:
    `cost_limit` bounds this agent's mean episode cost)."""


class PPOLagrangian(ActsWithPPO):
    """PPO whose policy climbs (A_R - lambda A_C) / (1 + lambda); lambda enforces the budget."""

    Config = PPOLagrangianConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: PPOLagrangianConfig | None = None,
    ):
        self.config = c = config or PPOLagrangianConfig()
        if c.network is not None:  # inherited from PPOConfig; its cost critic has no encoder
            raise ValueError(
                "ppo_lagrangian does not take network: (its cost critic reads the flat "
                "observation); use ppo for an encoder"
            )
        ppo_fields = {f.name: getattr(c, f.name) for f in dataclasses.fields(PPOConfig)}
        ppo_fields["normalize_advantage"] = False  # the combined advantage is normalised here
        self.ppo = PPO(observation_space, action_space, PPOConfig(**ppo_fields))
        self.cost_critic = mlp(obs_dim(observation_space), 1, c.hidden, out_gain=1.0)
        self.cost_optimizer = adam(self.cost_critic.parameters(), c.learning_rate, c.adam_eps)
        self.lagrange = Lagrange.from_config(c)
        self.observation_space = observation_space
        self.episodes = EpisodeCosts()
        self._continuity = EpisodeContinuity()

    # -- learning -----------------------------------------------------------------------------

    def observe(self, transition: dict[str, Any]) -> None:
        """One transition of one env (turn-based games, self-play)."""
        if self._abandoned(transition):
            self.episodes.abandon()  # the last episode was abandoned: not a finished episode
        ended = transition["terminated"] or transition["truncated"]
        self.episodes.add(np.array([transition.get("cost", 0.0)]), np.array([ended]))
        self.ppo.observe(transition)

    def observe_batch(self, batch: Any) -> None:
        """One step of every env copy."""
        self.episodes.add(batch.cost, np.asarray(batch.terminated) | np.asarray(batch.truncated))
        self.ppo.observe_batch(batch)

    def update(self) -> dict[str, float]:
        batch = self.ppo.take_rollout()
        if batch is None:
            return {}
        c = self.config
        metrics: dict[str, float] = {}
        finished = self.episodes.take()
        if finished:  # no finished episode in this rollout: lambda stays
            episode_cost = float(np.mean([cost for cost, _ in finished]))
            self.lagrange.update(episode_cost)
            metrics["episode_cost"] = episode_cost
        lam = self.lagrange.value

        reward_adv, reward_returns = self.ppo.advantages(batch)
        with torch.no_grad():
            cost_values = self.cost_critic(batch["obs"]).squeeze(-1)
            next_cost_values = self.cost_critic(batch["next_obs"]).squeeze(-1)
        cost_adv, cost_returns = gae(
            batch["cost"], cost_values, next_cost_values, batch["terminated"], batch["end"],
            c.cost_gamma, c.cost_gae_lambda,
        )  # fmt: skip
        if c.normalize_advantage and len(reward_adv) > 1:
            reward_adv, cost_adv = standardize(reward_adv), standardize(cost_adv)
        advantages = (reward_adv - lam * cost_adv) / (1.0 + lam)
        metrics.update(self.ppo.optimize(batch, advantages, reward_returns))

        losses = []
        for _ in range(c.epochs):
            for idx in torch.randperm(len(cost_returns)).split(c.minibatch_size):
                loss = value_loss(
                    self.cost_critic(batch["obs"][idx]).squeeze(-1), cost_values[idx],
                    cost_returns[idx], c.clip_range if c.clip_value_loss else None,
                )  # fmt: skip
                self.cost_optimizer.zero_grad()
                loss.backward()
                if c.max_grad_norm > 0:
                    nn.utils.clip_grad_norm_(self.cost_critic.parameters(), c.max_grad_norm)
                self.cost_optimizer.step()
                losses.append(float(loss.detach()))
        metrics.update(
            lagrange=lam,
            cost_value_loss=float(np.mean(losses)),
            cost_value_mean=float(cost_values.mean()),
            rollout_cost=float(batch["cost"].sum()),
        )
        return metrics

    # -- checkpoints --------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "ppo": self.ppo.state_dict(),
            "cost_critic": self.cost_critic.state_dict(),
            "cost_optimizer": self.cost_optimizer.state_dict(),
            "lagrange": self.lagrange.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ppo.load_state_dict(state["ppo"])
        self.cost_critic.load_state_dict(state["cost_critic"])
        self.cost_optimizer.load_state_dict(state["cost_optimizer"])
        self.lagrange.load_state_dict(state["lagrange"])
        self.episodes = EpisodeCosts()
        self._continuity.clear()
