"""REINFORCE: Monte-Carlo policy gradient with reward-to-go and an optional learned baseline.

Williams (1992), "Simple Statistical Gradient-Following Algorithms for Connectionist
Reinforcement Learning", Machine Learning 8. After every `episodes_per_update` finished
episodes, one gradient step on

    G_t  = r_t + gamma r_{t+1} + ... (reward-to-go; a time-limit truncation adds
           gamma^k V(s_T) when a baseline critic exists, else nothing to bootstrap with)
    A_t  = G_t - b(s_t)            (b = learned state-value baseline, or 0 without it)
    loss = -mean(log pi(a_t|s_t) A_t) - entropy_coef * mean(H) + mean((b(s_t) - G_t)^2)

`normalize_advantage` standardises A over the batch (as PyTorch's examples/reinforce.py
standardises returns). Discrete actions: Categorical (illegal actions get -inf logits); Box
actions: Gaussian with a state-independent log-std, clipped to the bounds for the env. `act`
(evaluation) is argmax over legal actions / the Gaussian mean; `explore` samples.

Defaults follow PyTorch's examples reinforcement_learning/reinforce.py for CartPole (Adam lr
1e-2, gamma 0.99, one hidden layer of 128 units (tanh here; the example uses ReLU and dropout),
standardised returns, one episode per update), with the learned baseline switched on.
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
    discounted_returns,
    mask_tensor,
    one_row,
    same_batch,
    standardize,
)
from testbed.agents.common.spaces import obs_dim, to_vector, to_vectors


@dataclass(frozen=True)
class ReinforceConfig:
    """REINFORCE hyperparameters (defaults: PyTorch examples/reinforce, plus a baseline)."""

    learning_rate: float = 1e-2
    """Adam step size of the policy (and of the baseline)."""
    gamma: float = 0.99
    """Discount factor."""
    episodes_per_update: int = 1
    """Finished episodes collected per gradient step (with N env copies, N or more wastes
    less: an update drops the unfinished episodes' steps so far)."""
    baseline: bool = True
    """Learn a state-value baseline b(s) and subtract it from the returns."""
    normalize_advantage: bool = True
    """Standardise the advantages of each batch."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus."""
    max_grad_norm: float = 0.0
    """Global gradient-norm clip (0 = none)."""
    hidden: tuple[int, ...] = (128,)
    """Hidden layer widths of the policy (and of the baseline)."""
    log_std_init: float = 0.0
    """Initial log-std of the Gaussian policy (Box actions)."""


class Reinforce:
    """REINFORCE for one agent with a Discrete or 1-D Box action space."""

    default_num_envs = 1
    """Env copies a train stage steps by default (its `num_envs`): one, as each update drops
    what the other copies' unfinished episodes collected under the old policy."""

    Config = ReinforceConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: ReinforceConfig | None = None,
    ):
        self.config = c = config or ReinforceConfig()
        if c.episodes_per_update < 1:
            raise ValueError("REINFORCE episodes_per_update must be >= 1")
        self.observation_space = observation_space
        dim = obs_dim(observation_space)
        self.actor = Actor(dim, action_space, c.hidden, c.log_std_init, "REINFORCE")
        self.critic = mlp(dim, 1, c.hidden, out_gain=1.0) if c.baseline else None
        self.parameters = list(self.actor.parameters())
        if self.critic is not None:
            self.parameters += list(self.critic.parameters())
        self.optimizer = adam(self.parameters, c.learning_rate)
        self.episodes: list[list[tuple]] = []  # per env copy: (obs, action, mask, reward) steps
        self.finished: list[tuple[list, np.ndarray]] = []  # (steps, returns) per episode
        self.steps = 0
        self.updates = 0
        self._pending: tuple | None = None
        self._expected_obs: np.ndarray | None = None  # next_obs of the last step

    def reset(self, seed: int | None = None) -> None:
        """Nothing to reset: `act` is deterministic, `explore` uses torch's global RNG (an
        unfinished training episode is dropped in `observe` once another one starts)."""

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

    @property
    def episode(self) -> list:
        """The unfinished episode of the first (or only) env copy."""
        return self.episodes[0] if self.episodes else []

    def observe(self, transition: dict[str, Any]) -> None:
        """One transition of one env; an episode abandoned in between is dropped."""
        x = to_vector(self.observation_space, transition["obs"])
        if self.episode and not np.array_equal(x, self._expected_obs):
            self.episodes = []  # the last episode was abandoned (e.g. a training budget ended)
        self._expected_obs = to_vector(self.observation_space, transition["next_obs"])
        self.observe_batch(one_row(transition))

    def observe_batch(self, batch: Any) -> None:
        """One step of every env copy; each copy's finished episode gets its returns."""
        pending, self._pending = self._pending, None
        if (
            pending is not None
            and same_batch(pending[0], batch.obs)
            and np.array_equal(pending[1], batch.action)
        ):
            actions = pending[2]  # the unclipped samples
        else:
            actions = self.actor.from_env_batch(batch.action)
        x = to_vectors(self.observation_space, batch.obs)
        if len(self.episodes) != len(x):
            self.episodes = [[] for _ in range(len(x))]
        masks = None if batch.action_mask is None else np.asarray(batch.action_mask, bool)
        for c in range(len(x)):
            mask = None if masks is None else masks[c]
            self.episodes[c].append((x[c], actions[c], mask, float(batch.reward[c])))
            if batch.terminated[c] or batch.truncated[c]:
                self._finish(c, batch)
        self.steps += len(x)

    def _finish(self, c: int, batch: Any) -> None:
        """Returns of copy c's episode (bootstrapped with V(s') when cut by a time limit)."""
        bootstrap = 0.0
        if batch.truncated[c] and not batch.terminated[c] and self.critic:
            next_x = to_vectors(self.observation_space, batch.next_obs[c : c + 1])
            with torch.no_grad():
                bootstrap = float(self.critic(torch.from_numpy(next_x))[0, 0])
        rewards = [step[3] for step in self.episodes[c]]
        self.finished.append(
            (self.episodes[c], discounted_returns(rewards, self.config.gamma, bootstrap))
        )
        self.episodes[c] = []

    def update(self) -> dict[str, float]:
        c = self.config
        if len(self.finished) < c.episodes_per_update:
            return {}
        steps = [step for episode, _ in self.finished for step in episode]
        returns = torch.from_numpy(np.concatenate([r for _, r in self.finished]))
        self.finished = []
        obs = torch.from_numpy(np.stack([s[0] for s in steps]))
        actions = torch.stack([s[1] for s in steps])
        masks = None
        if any(s[2] is not None for s in steps):
            width = next(len(s[2]) for s in steps if s[2] is not None)
            masks = torch.from_numpy(
                np.stack([np.ones(width, bool) if s[2] is None else s[2] for s in steps])
            )
        dist = self.actor.distribution(obs, masks)
        advantages = returns
        value_loss = torch.zeros(())
        if self.critic is not None:
            values = self.critic(obs).squeeze(-1)
            value_loss = ((values - returns) ** 2).mean()
            advantages = returns - values.detach()
        if c.normalize_advantage and len(advantages) > 1:
            advantages = standardize(advantages)
        policy_loss = -(dist.log_prob(actions) * advantages).mean()
        entropy = dist.entropy().mean()
        loss = policy_loss - c.entropy_coef * entropy + value_loss
        descend(self.optimizer, loss, c.max_grad_norm)
        self.updates += 1
        # REINFORCE is on-policy: steps of unfinished episodes (other env copies') were taken
        # by the old policy. Later steps' reward-to-go needs only later rewards, so those
        # episodes go on from here.
        self.episodes = [[] for _ in self.episodes]
        return {
            "loss": float(loss.detach()),
            "policy_loss": float(policy_loss.detach()),
            "value_loss": float(value_loss.detach()),
            "entropy": float(entropy.detach()),
            "return_mean": float(returns.mean()),
            "updates": float(self.updates),
        }

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "actor": self.actor.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "steps": self.steps,
            "updates": self.updates,
        }
        if self.critic is not None:
            state["critic"] = self.critic.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        if self.critic is not None:
            self.critic.load_state_dict(state["critic"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps = int(state["steps"])
        self.updates = int(state["updates"])
        self.episodes, self.finished = [], []
