"""CVaR-PPO: PPO whose Lagrange multiplier bounds the CVaR of the episode cost, not its mean.

A mean-cost constraint E[C] <= d (PPO-Lagrangian, CPO) cannot tell a steady small cost from a
rare catastrophe with the same mean. This agent constrains the conditional value-at-risk of the
episode cost C = sum_t c_t at level alpha = `cvar_alpha` (the mean of the worst 1 - alpha
fraction of episodes), in the Rockafellar-Uryasev form (Rockafellar & Uryasev 2000,
"Optimization of Conditional Value-at-Risk"):

    CVaR_alpha(C) = min_nu  nu + E[(C - nu)+] / (1 - alpha)

whose minimiser nu* is the alpha-quantile VaR_alpha(C). The constrained problem
max_pi J_R s.t. CVaR_alpha(C) <= d is relaxed with a multiplier lambda >= 0, as in the
CVaR-constrained policy gradient of Chow, Ghavamzadeh, Janson, Pavone (2017), "Risk-Constrained
Reinforcement Learning with Percentile Risk Criteria" (JMLR), and CPPO, Ying et al. (2022),
"Towards Safe Reinforcement Learning via Constraining Conditional Value-at-Risk" (IJCAI; CPPO
bounds the CVaR of the return loss, here it is the episode cost):

    max_pi min_{lambda >= 0, nu}  J_R(pi) - lambda (nu + E[(C - nu)+] / (1 - alpha) - d)

Per rollout of `rollout_steps` env steps:

    window   = the costs of the last `risk_window` finished episodes
    nu       = their alpha-quantile (the exact minimiser over nu of the empirical R-U form;
               Chow et al. take gradient steps on nu instead)
    CVaR     = nu + mean((C - nu)+) / (1 - alpha)      (= the empirical CVaR_alpha)
    lambda   <- Lagrange.update(CVaR)                    (`testbed.agents.safe.lagrange`)
    tail_t   = (C_{<=t} - nu)+ - (C_{<t} - nu)+         with C_{<t} the episode's cost before
               step t; the tail signals of an episode sum to its tail excess (C - nu)+, the
               only part of E[(C - nu)+] the policy can change, and fall on the steps that
               push the running cost past nu (nu is fixed within a rollout; an episode cut by a
               rollout boundary is measured against two consecutive estimates)
    A_R      = GAE of rewards (PPO's critic);  A_T = GAE of tail_t with a tail critic
               V_T(s, (C_{<t} - nu) / max(d, 1)) (the tail depends on the cost so far, so the
               critic sees it; the policy sees only s, as in PPO-Lagrangian)
    A        = (norm(A_R) - lambda norm(A_T)) / (1 + lambda)
    PPO.optimize(batch, A, R_R);  V_T fitted to its GAE returns by MSE

`norm` standardises over the rollout (as PPO-Lagrangian here does), so lambda weighs like
scales; the 1 / (1 - alpha) factor of the tail term is absorbed in lambda. With alpha = 0 the
constraint is on the mean cost (nu = the minimum cost) and this is PPO-Lagrangian up to the
critic. `cost_limit` d is a bound on the CVaR of this agent's per-episode cost.

The window must hold several episodes beyond VaR: with fewer than 1 / (1 - alpha) episodes, nu
is the worst of them and every tail signal is 0 (lambda still rises, the policy gets no tail
gradient). Keep `risk_window` * (1 - alpha) >= 5 or so; for 1000-step tasks that means a window
spanning many rollouts (its oldest episodes come from older policies).

Defaults: PPO's (Schulman et al. 2017, Table 3); the multiplier as PPO-Lagrangian's
(safety-starter-agents' penalty_lr 0.05, lambda from 0); alpha = 0.9 (the tail 10%; Chow et al.
use 0.95, CPPO's experiments 0.9 to 0.95). `explore` samples, `act` is the argmax / the
Gaussian mean.
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
from testbed.agents.safe.cpo import check_action_space
from testbed.agents.safe.lagrange import Lagrange, LagrangeConfig


def empirical_cvar(costs: np.ndarray | list[float], alpha: float) -> tuple[float, float]:
    """(VaR_alpha, CVaR_alpha) of a sample: nu = its alpha-quantile (the smallest z with
    P(C <= z) >= alpha) and nu + mean((C - nu)+) / (1 - alpha), the Rockafellar-Uryasev form
    at its minimiser (the mean of the worst 1 - alpha of the sample, sharing ties)."""
    costs = np.asarray(costs, np.float64)
    var = float(np.quantile(costs, alpha, method="inverted_cdf"))
    return var, var + float(np.maximum(costs - var, 0.0).mean()) / (1.0 - alpha)


def tail_signals(cost_before: torch.Tensor, costs: torch.Tensor, var: float) -> torch.Tensor:
    """Per-step tail cost (C_{<=t} - nu)+ - (C_{<t} - nu)+; an episode's steps sum to
    (C - nu)+ - (-nu)+, its tail excess (for nu >= 0)."""
    return (cost_before + costs - var).clamp(min=0.0) - (cost_before - var).clamp(min=0.0)


@dataclass(frozen=True)
class CVaRPPOConfig(PPOConfig, LagrangeConfig):
    """PPO's hyperparameters plus the CVaR constraint and its multiplier (`LagrangeConfig`:
    `cost_limit` bounds CVaR_alpha of this agent's episode cost; the cost critic is the tail
    critic)."""

    cvar_alpha: float = 0.9
    """Tail level alpha in [0, 1): CVaR is the mean of the worst 1 - alpha of episodes."""
    risk_window: int = 100
    """Finished episodes (most recent) that VaR and CVaR are estimated from."""


class CVaRPPO(ActsWithPPO):
    """PPO climbing (A_R - lambda A_tail) / (1 + lambda); lambda bounds CVaR_alpha(cost)."""

    Config = CVaRPPOConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: CVaRPPOConfig | None = None,
    ):
        self.config = c = config or CVaRPPOConfig()
        check_action_space(action_space, "CVaR-PPO")
        if not 0.0 <= c.cvar_alpha < 1.0 or c.risk_window < 1:
            raise ValueError("CVaR-PPO needs 0 <= cvar_alpha < 1 and risk_window >= 1")
        if c.network is not None:  # inherited from PPOConfig; its tail critic has no encoder
            raise ValueError(
                "cvar_ppo does not take network: (its tail critic reads the flat "
                "observation); use ppo for an encoder"
            )
        ppo_fields = {f.name: getattr(c, f.name) for f in dataclasses.fields(PPOConfig)}
        ppo_fields["normalize_advantage"] = False  # the combined advantage is normalised here
        self.ppo = PPO(observation_space, action_space, PPOConfig(**ppo_fields))
        self.tail_critic = mlp(obs_dim(observation_space) + 1, 1, c.hidden, out_gain=1.0)
        self.tail_optimizer = adam(self.tail_critic.parameters(), c.learning_rate, c.adam_eps)
        self.lagrange = Lagrange.from_config(c)
        self.observation_space = observation_space
        self.cost_scale = max(float(c.cost_limit), 1.0)
        self.var = 0.0  # nu, the VaR_alpha estimate the tail signals are measured from
        self.window: list[float] = []  # recent finished episode costs
        self._new_episodes = 0
        self.episodes = EpisodeCosts()
        self._cost_before: list[np.ndarray] = []  # C_{<t} of each copy, step by step
        self._continuity = EpisodeContinuity()

    # -- learning -----------------------------------------------------------------------------

    def observe(self, transition: dict[str, Any]) -> None:
        """One transition of one env (turn-based games, self-play)."""
        if self._abandoned(transition):
            self.episodes.abandon()  # the last episode was abandoned: not a finished episode
        ended = transition["terminated"] or transition["truncated"]
        self._record(np.array([transition.get("cost", 0.0)]), np.array([ended]))
        self.ppo.observe(transition)

    def observe_batch(self, batch: Any) -> None:
        """One step of every env copy."""
        self._record(batch.cost, np.asarray(batch.terminated) | np.asarray(batch.truncated))
        self.ppo.observe_batch(batch)

    def _record(self, costs: np.ndarray, ends: np.ndarray) -> None:
        """C_{<t} of each copy's step (for the tail critic) and the finished episodes."""
        if self._cost_before and len(self._cost_before[-1]) != len(costs):
            if not self.ppo.buffer.takes(len(costs)):
                return  # the budget's last, partial vector step: PPO does not store it either
            self._cost_before = []  # the number of copies changed: so did PPO's rollout
        self._cost_before.append(self.episodes.add(costs, ends))
        for cost, _ in self.episodes.take():
            self.window = [*self.window, cost][-self.config.risk_window :]
            self._new_episodes += 1

    def _tail_inputs(self, obs: torch.Tensor, cost_so_far: torch.Tensor) -> torch.Tensor:
        return torch.cat([obs, ((cost_so_far - self.var) / self.cost_scale)[:, None]], dim=1)

    def update(self) -> dict[str, float]:
        batch = self.ppo.take_rollout()
        if batch is None:
            return {}
        c = self.config
        # (steps, copies) -> copy by copy, the order of PPO's rollout rows
        cost_before = torch.tensor(np.stack(self._cost_before).T.reshape(-1), dtype=torch.float32)
        self._cost_before = []
        metrics: dict[str, float] = {}
        if self._new_episodes:  # no finished episode since the last update: nu, lambda stay
            self.var, cvar = empirical_cvar(self.window, c.cvar_alpha)
            self.lagrange.update(cvar)
            metrics.update(var=self.var, cvar=cvar, episode_cost=float(np.mean(self.window)))
            self._new_episodes = 0
        lam = self.lagrange.value

        cost_after = cost_before + batch["cost"]
        tail = tail_signals(cost_before, batch["cost"], self.var)
        tail_inputs = self._tail_inputs(batch["obs"], cost_before)
        with torch.no_grad():
            tail_values = self.tail_critic(tail_inputs).squeeze(-1)
            next_tail_values = self.tail_critic(
                self._tail_inputs(batch["next_obs"], cost_after)
            ).squeeze(-1)
        tail_adv, tail_returns = gae(
            tail, tail_values, next_tail_values, batch["terminated"], batch["end"],
            c.cost_gamma, c.cost_gae_lambda,
        )  # fmt: skip
        reward_adv, reward_returns = self.ppo.advantages(batch)
        if c.normalize_advantage:
            reward_adv, tail_adv = standardize(reward_adv), standardize(tail_adv)
        advantages = (reward_adv - lam * tail_adv) / (1.0 + lam)
        metrics.update(self.ppo.optimize(batch, advantages, reward_returns))

        losses = []
        for _ in range(c.epochs):
            for idx in torch.randperm(len(tail_returns)).split(c.minibatch_size):
                loss = value_loss(
                    self.tail_critic(tail_inputs[idx]).squeeze(-1), tail_values[idx],
                    tail_returns[idx], c.clip_range if c.clip_value_loss else None,
                )  # fmt: skip
                self.tail_optimizer.zero_grad()
                loss.backward()
                if c.max_grad_norm > 0:
                    nn.utils.clip_grad_norm_(self.tail_critic.parameters(), c.max_grad_norm)
                self.tail_optimizer.step()
                losses.append(float(loss.detach()))
        metrics.update(
            lagrange=lam,
            tail_value_loss=float(np.mean(losses)),
            rollout_tail=float(tail.sum()),
            rollout_cost=float(batch["cost"].sum()),
        )
        return metrics

    # -- checkpoints --------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "ppo": self.ppo.state_dict(),
            "tail_critic": self.tail_critic.state_dict(),
            "tail_optimizer": self.tail_optimizer.state_dict(),
            "lagrange": self.lagrange.state_dict(),
            "var": self.var,
            "window": list(self.window),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ppo.load_state_dict(state["ppo"])
        self.tail_critic.load_state_dict(state["tail_critic"])
        self.tail_optimizer.load_state_dict(state["tail_optimizer"])
        self.lagrange.load_state_dict(state["lagrange"])
        self.var = float(state["var"])
        self.window = [float(x) for x in state["window"]]
        self._new_episodes, self.episodes, self._cost_before = 0, EpisodeCosts(), []
        self._continuity.clear()
