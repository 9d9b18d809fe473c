"""A2C: synchronous advantage actor-critic with n-step (or GAE) returns.

Mnih, Badia, Mirza, Graves, Lillicrap, Harley, Silver, Kavukcuoglu (2016), "Asynchronous
Methods for Deep Reinforcement Learning" (A3C), in the synchronous single-learner form
OpenAI baselines named A2C. Every `rollout_steps` env steps, one gradient step on

    A_t  = GAE(gamma, lambda) over the rollout   (lambda = 1: the paper's n-step return
                                                  R_t = r_t + ... + gamma^k V(s_{t+k}) - V(s_t))
    loss = -mean(log pi(a_t|s_t) A_t) + value_coef * mean((V(s_t) - R_t)^2)
           - entropy_coef * mean(H[pi(.|s_t)])

with RMSprop (the paper's shared RMSprop; alpha 0.99, eps 1e-5) or Adam, gradients clipped to
`max_grad_norm`. Truncation bootstraps with V(next_obs); termination does not. One env here
(the paper runs 16 actor threads; SB3 runs n_envs copies), so a rollout is `rollout_steps`
consecutive steps of one env.

Discrete actions: Categorical (illegal actions get -inf logits); Box actions: Gaussian with
a state-independent log-std, samples clipped to the bounds before the env (the log-prob uses
the unclipped sample). `act` (evaluation) is argmax over legal actions / the Gaussian mean.

Defaults are Stable-Baselines3's A2C defaults (which follow the baselines code): lr 7e-4,
5 steps, gamma 0.99, lambda 1, value_coef 0.5, entropy_coef 0.0, max_grad_norm 0.5, RMSprop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from testbed.agents.common.nets import adam, descend, mlp
from testbed.agents.common.rollout import (
    Actor,
    EpisodeContinuity,
    RolloutBuffer,
    gae,
    mask_tensor,
    one_row,
    same_batch,
    standardize,
)
from testbed.agents.common.spaces import obs_dim, to_vector, to_vectors


@dataclass(frozen=True)
class A2CConfig:
    """A2C hyperparameters (defaults: Stable-Baselines3 A2C)."""

    learning_rate: float = 7e-4
    """Optimizer step size."""
    rollout_steps: int = 5
    """Env steps of each env copy per update (n of the n-step return): an update learns from
    N x rollout_steps transitions with N copies."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 1.0
    """GAE lambda; 1.0 gives the paper's n-step returns."""
    value_coef: float = 0.5
    """Weight of the value loss."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip (0 = none)."""
    optimizer: str = "rmsprop"
    """'rmsprop' (alpha 0.99, eps 1e-5, as in the paper's code) or 'adam'."""
    normalize_advantage: bool = False
    """Standardise the advantages of each rollout."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the actor and of the critic."""
    log_std_init: float = 0.0
    """Initial log-std of the Gaussian policy (Box actions)."""


class A2C:
    """A2C for one agent with a Discrete or 1-D Box action space."""

    default_num_envs = 8
    """Env copies a train stage steps by default (Mnih et al. 2016 ran 16)."""

    Config = A2CConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: A2CConfig | None = None,
    ):
        self.config = c = config or A2CConfig()
        if c.optimizer not in ("rmsprop", "adam"):
            raise ValueError(f"A2C optimizer must be 'rmsprop' or 'adam', got {c.optimizer!r}")
        self.observation_space = observation_space
        dim = obs_dim(observation_space)
        self.actor = Actor(dim, action_space, c.hidden, c.log_std_init, "A2C")
        self.critic = mlp(dim, 1, c.hidden, out_gain=1.0)
        self.parameters = [*self.actor.parameters(), *self.critic.parameters()]
        if c.optimizer == "rmsprop":
            self.optimizer: torch.optim.Optimizer = torch.optim.RMSprop(
                self.parameters, lr=c.learning_rate, alpha=0.99, eps=1e-5
            )
        else:
            self.optimizer = adam(self.parameters, c.learning_rate)
        self.buffer = RolloutBuffer(c.rollout_steps, per_copy=True)
        self.steps = 0
        self.updates = 0
        self._pending: tuple | None = None
        self.continuity = EpisodeContinuity()

    def reset(self, seed: int | None = None) -> None:
        """Nothing to reset: `act` is deterministic, `explore` uses torch's global RNG."""

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        x = torch.from_numpy(to_vector(self.observation_space, observation))
        with torch.no_grad():
            return self.actor.to_env(self.actor.mode(x, mask_tensor(action_mask)))

    def explore(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        masks = None if action_mask is None else np.asarray(action_mask, bool)[None]
        return self.explore_batch([observation], masks)[0]

    def explore_batch(self, observations: Any, action_masks: np.ndarray | None = None) -> Any:
        """Sampled actions for a batch of observations (one row per env copy)."""
        x = torch.from_numpy(to_vectors(self.observation_space, observations))
        with torch.no_grad():
            action = self.actor.distribution(x, mask_tensor(action_masks)).sample()
        env_actions = self.actor.to_env_batch(action)
        self._pending = (observations, env_actions, action)
        return env_actions

    def observe(self, transition: dict[str, Any]) -> None:
        """One transition of one env; an episode abandoned in between is cut."""
        if self.continuity.broken(self.observation_space, transition):
            self.buffer.cut()  # the last episode was abandoned (e.g. a training budget ended)
        self.observe_batch(one_row(transition))

    def observe_batch(self, batch: Any) -> None:
        """One step of every env copy (a `TransitionBatch`)."""
        pending, self._pending = self._pending, None
        if (
            pending is not None
            and same_batch(pending[0], batch.obs)
            and np.array_equal(pending[1], batch.action)
        ):
            action = pending[2]  # the unclipped samples
        else:
            action = self.actor.from_env_batch(batch.action)
        mask = batch.action_mask
        self.buffer.add(
            obs=to_vectors(self.observation_space, batch.obs),
            action=action,
            reward=np.asarray(batch.reward, np.float32),
            next_obs=to_vectors(self.observation_space, batch.next_obs),
            terminated=np.asarray(batch.terminated, bool),
            truncated=np.asarray(batch.truncated, bool),
            action_mask=None if mask is None else np.asarray(mask, bool),
        )
        self.steps += len(batch)

    def update(self) -> dict[str, float]:
        if not self.buffer.full:
            return {}
        c = self.config
        batch = self.buffer.batch()
        self.buffer.clear()
        values = self.critic(batch["obs"]).squeeze(-1)
        with torch.no_grad():
            next_values = self.critic(batch["next_obs"]).squeeze(-1)
            advantages, returns = gae(
                batch["reward"], values.detach(), next_values, batch["terminated"],
                batch["end"], c.gamma, c.gae_lambda,
            )  # fmt: skip
            if c.normalize_advantage and len(advantages) > 1:
                advantages = standardize(advantages)
        dist = self.actor.distribution(batch["obs"], batch.get("action_mask"))
        policy_loss = -(dist.log_prob(batch["action"]) * advantages).mean()
        value_loss = ((values - returns) ** 2).mean()
        entropy = dist.entropy().mean()
        loss = policy_loss + c.value_coef * value_loss - c.entropy_coef * entropy
        descend(self.optimizer, loss, c.max_grad_norm)
        self.updates += 1
        return {
            "loss": float(loss.detach()),
            "policy_loss": float(policy_loss.detach()),
            "value_loss": float(value_loss.detach()),
            "entropy": float(entropy.detach()),
            "updates": float(self.updates),
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "steps": self.steps,
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps = int(state["steps"])
        self.updates = int(state["updates"])
        self.buffer.clear()
        self.continuity.clear()
