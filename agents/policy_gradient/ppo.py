"""PPO: Proximal Policy Optimization with the clipped surrogate objective.

Schulman, Wolski, Dhariwal, Radford, Klimov (2017), "Proximal Policy Optimization
Algorithms", arXiv:1707.06347. Per rollout of `rollout_steps` env steps:

    A_t       = GAE(gamma, lambda)                     (agents/common/rollout.py)
    r_t(th)   = pi_th(a_t|s_t) / pi_old(a_t|s_t)
    L_clip    = E[min(r_t A_t, clip(r_t, 1 - eps, 1 + eps) A_t)]
    L_value   = E[(V(s_t) - R_t)^2]   (optionally clipped around the old value, as in the
                                       OpenAI baselines code)
    loss      = -L_clip + value_coef * L_value - entropy_coef * H[pi]

optimised for `epochs` passes over shuffled minibatches with Adam, gradients clipped to
`max_grad_norm`; advantages normalised per minibatch; optional early stop when the approximate
KL of an epoch exceeds `target_kl`. Discrete actions use a Categorical (illegal actions get
-inf logits), Box actions a Gaussian with a state-independent log-std whose samples are clipped
to the bounds before they reach the env (log-probs use the unclipped sample). `act` is the
evaluation policy: argmax over legal actions / the Gaussian mean (clipped); `explore` samples.

Truncation (time limit) bootstraps with V(next_obs); only termination does not. Separate actor
and critic MLPs (tanh, orthogonal init: sqrt 2 hidden, 0.01 policy head, 1 value head), as in
CleanRL's ppo.py / ppo_continuous_action.py (Huang et al. 2022, "The 37 Implementation Details
of PPO"), which also describes the options here: observation normalisation (running mean/std,
clipped to +-10), reward scaling (rewards divided by the running std of the discounted return),
learning-rate annealing to 0 (and, as in the SB3 zoo, optionally the clip range).

Defaults are the paper's MuJoCo settings (Table 3: 2048 steps, lr 3e-4, 10 epochs, minibatch
64, gamma 0.99, lambda 0.95, eps 0.2), also the Stable-Baselines3 defaults.

Composition (PPO-Lagrangian, multi-agent PPO): `update()` is `advantages(batch)` then
`optimize(batch, advantages, returns)`; a composer can take the rollout itself with
`take_rollout()`, combine reward advantages with cost advantages (`batch["cost"]` holds each
step's cost; `testbed.agents.common.rollout.gae` computes any signal's advantages) and call
`optimize`, whose loss terms are `policy_loss` (this module) and `value_loss`
(agents/common/rollout.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from testbed.agents.common.encoders import NetworkConfig, feature_extractor, with_encoder
from testbed.agents.common.nets import adam, descend, mlp
from testbed.agents.common.normalize import RunningNormalizer
from testbed.agents.common.rollout import (
    Actor,
    EpisodeContinuity,
    RolloutBuffer,
    gae,
    mask_tensor,
    one_row,
    same_batch,
    standardize,
    value_loss,
)
from testbed.agents.common.spaces import obs_dim, to_vector, to_vectors


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters (defaults: Schulman et al. 2017, Table 3)."""

    learning_rate: float = 3e-4
    """Adam step size (start value when annealed)."""
    rollout_steps: int = 2048
    """Env steps collected between updates, over all env copies: each of N copies collects
    rollout_steps // N steps (at least one)."""
    minibatch_size: int = 64
    """Transitions per gradient step."""
    epochs: int = 10
    """Passes over each rollout."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda (1 = Monte-Carlo returns, 0 = one-step TD)."""
    clip_range: float = 0.2
    """Surrogate clipping epsilon (start value when annealed)."""
    clip_value_loss: bool = False
    """Clip the value update around the rollout's values by `clip_range`."""
    value_coef: float = 0.5
    """Weight of the value loss."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip (0 = none)."""
    normalize_advantage: bool = True
    """Standardise advantages per minibatch."""
    target_kl: float = 0.0
    """Stop an update's epochs once the approximate KL exceeds this (0 = never)."""
    normalize_observations: bool = False
    """Normalise observations by a running mean/std (saved with the weights)."""
    scale_rewards: bool = False
    """Divide rewards by the running std of the discounted return."""
    anneal_steps: int = 0
    """Anneal the learning rate linearly to 0 over this many env steps (0 = constant)."""
    anneal_clip_range: bool = False
    """Anneal the clip range too (needs anneal_steps)."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the actor and of the critic."""
    log_std_init: float = 0.0
    """Initial log-std of the Gaussian policy (Box actions)."""
    adam_eps: float = 1e-5
    """Adam epsilon (1e-5 as in the baselines code)."""
    network: NetworkConfig | None = None
    """A feature extractor before the actor and critic MLPs (each gets its own), e.g.
    `network: {type: multimodal}` for Dict observations (agents/common/encoders.py)."""


_STATS = ("loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")


def policy_loss(
    log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor, clip: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(-L_clip, approximate KL (Schulman's k3 estimator), fraction of clipped ratios)."""
    log_ratio = log_prob - old_log_prob
    ratio = log_ratio.exp()
    surrogate = torch.min(ratio * advantages, ratio.clamp(1.0 - clip, 1.0 + clip) * advantages)
    with torch.no_grad():
        approx_kl = ((ratio - 1.0) - log_ratio).mean()
        clip_fraction = ((ratio - 1.0).abs() > clip).float().mean()
    return -surrogate.mean(), approx_kl, clip_fraction


class ActsWithPPO:
    """For learners built around a `PPO` in `self.ppo` (PPO-Lagrangian, CPO, CVaR-PPO): acting is
    PPO's (`explore` samples, `act` is the argmax / Gaussian mean); they change only learning."""

    default_num_envs = 8
    """Env copies a train stage steps by default (its `num_envs`)."""

    ppo: PPO
    _continuity: EpisodeContinuity  # set by the learner

    def reset(self, seed: int | None = None) -> None:
        self.ppo.reset(seed)

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        return self.ppo.act(observation, action_mask)

    def explore(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        return self.ppo.explore(observation, action_mask)

    def explore_batch(self, observations: Any, action_masks: np.ndarray | None = None) -> Any:
        return self.ppo.explore_batch(observations, action_masks)

    def _abandoned(self, transition: dict[str, Any]) -> bool:
        """Whether a single-env transition starts after an abandoned episode (not the
        observation the last one reached); remembers where this one leads."""
        return self._continuity.broken(self.ppo.observation_space, transition)


class PPO:
    """PPO for one agent with a Discrete or 1-D Box action space."""

    default_num_envs = 8
    """Env copies a train stage steps by default (its `num_envs`)."""

    Config = PPOConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: PPOConfig | None = None,
    ):
        self.config = c = config or PPOConfig()
        if c.normalize_observations and c.network is not None:
            raise ValueError(
                "normalize_observations standardises the flat observation, which would "
                "corrupt a network: encoder's token ids and pixels; use one of the two"
            )
        self.observation_space = observation_space
        dim = obs_dim(observation_space)
        actor_encoder, width = feature_extractor(c.network, observation_space)
        self.actor = Actor(width, action_space, c.hidden, c.log_std_init, "PPO")
        self.actor.net = with_encoder(actor_encoder, self.actor.net)
        critic_encoder, _ = feature_extractor(c.network, observation_space)
        self.critic = with_encoder(critic_encoder, mlp(width, 1, c.hidden, out_gain=1.0))
        self.parameters = [*self.actor.parameters(), *self.critic.parameters()]
        self.optimizer = adam(self.parameters, c.learning_rate, c.adam_eps)
        self.obs_norm = RunningNormalizer(dim) if c.normalize_observations else None
        self.return_norm = RunningNormalizer(1) if c.scale_rewards else None
        self.discounted_return = np.zeros(1)  # per env copy
        self.buffer = RolloutBuffer(c.rollout_steps)
        self.steps = 0
        self.updates = 0
        self._pending: tuple | None = None
        self.continuity = EpisodeContinuity()

    # -- acting -------------------------------------------------------------------------------

    def _vector(self, observation: Any) -> np.ndarray:
        raw = to_vector(self.observation_space, observation)
        return raw if self.obs_norm is None else self.obs_norm(raw)

    def _vectors(self, observations: Any, update_stats: bool = False) -> np.ndarray:
        raw = to_vectors(self.observation_space, observations)
        if self.obs_norm is None:
            return raw
        if update_stats:
            self.obs_norm.update(raw)
        return self.obs_norm(raw)

    def reset(self, seed: int | None = None) -> None:
        """Nothing to reset: `act` is deterministic, `explore` uses torch's global RNG."""

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        x = torch.from_numpy(self._vector(observation))
        with torch.no_grad():
            return self.actor.to_env(self.actor.mode(x, mask_tensor(action_mask)))

    def explore(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        masks = None if action_mask is None else np.asarray(action_mask, bool)[None]
        return self.explore_batch([observation], masks)[0]

    def explore_batch(self, observations: Any, action_masks: np.ndarray | None = None) -> Any:
        """Sampled actions for a batch of observations (one row per env copy)."""
        x = self._vectors(observations, update_stats=True)
        with torch.no_grad():
            obs = torch.from_numpy(x)
            dist = self.actor.distribution(obs, mask_tensor(action_masks))
            action = dist.sample()
            log_prob = dist.log_prob(action)
            value = self.critic(obs)[:, 0]
        env_actions = self.actor.to_env_batch(action)
        self._pending = (observations, env_actions, x, action, log_prob, value)
        return env_actions

    # -- learning -----------------------------------------------------------------------------

    def _evaluate_batch(self, batch: Any) -> tuple:
        """(obs vectors, network actions, log-probs, values) of a batch of transitions; cached
        from `explore_batch` when it produced these actions for these observations."""
        pending, self._pending = self._pending, None
        if (
            pending is not None
            and len(pending[1]) == len(batch.action)
            and same_batch(pending[0], batch.obs)
            and np.array_equal(pending[1], batch.action)
        ):
            return pending[2:]
        x = self._vectors(batch.obs)
        action = self.actor.from_env_batch(batch.action)
        with torch.no_grad():
            obs = torch.from_numpy(x)
            dist = self.actor.distribution(obs, mask_tensor(batch.action_mask))
            return x, action, dist.log_prob(action), self.critic(obs)[:, 0]

    def _scaled_rewards(self, rewards: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Rewards divided by the running std of each copy's discounted return (clipped)."""
        rewards = np.asarray(rewards, np.float32)
        if self.return_norm is None:
            return rewards
        if np.shape(self.discounted_return) != rewards.shape:
            self.discounted_return = np.zeros(rewards.shape)
        self.discounted_return = self.discounted_return * self.config.gamma + rewards
        self.return_norm.update(self.discounted_return.reshape(-1, 1))
        self.discounted_return = np.where(ends, 0.0, self.discounted_return)
        scaled = rewards / float(np.sqrt(self.return_norm.var[0] + 1e-8))
        return np.clip(scaled, -10.0, 10.0).astype(np.float32)

    def observe(self, transition: dict[str, Any]) -> None:
        """One transition of one env (turn-based games, self-play); an episode abandoned in
        between (the next observation is not the one this transition reached) is cut."""
        if self.continuity.broken(self.observation_space, transition):
            self.buffer.cut()
            self.discounted_return = np.zeros_like(np.asarray(self.discounted_return))
        self.observe_batch(one_row(transition))

    def observe_batch(self, batch: Any) -> None:
        """One step of every env copy (a `TransitionBatch`: arrays with the copy axis first)."""
        x, action, log_prob, value = self._evaluate_batch(batch)
        terminated = np.asarray(batch.terminated, bool)
        truncated = np.asarray(batch.truncated, bool)
        mask = batch.action_mask
        self.buffer.add(
            obs=x,
            action=action,
            log_prob=log_prob,
            value=value,
            reward=self._scaled_rewards(batch.reward, terminated | truncated),
            cost=np.asarray(batch.cost, np.float32),
            next_obs=self._vectors(batch.next_obs),
            terminated=terminated,
            truncated=truncated,
            action_mask=None if mask is None else np.asarray(mask, bool),
        )
        self.steps += len(terminated)

    def take_rollout(self) -> dict[str, torch.Tensor] | None:
        """The full rollout as stacked tensors (emptying the buffer), or None if not full."""
        if not self.buffer.full:
            return None
        batch = self.buffer.batch()
        self.buffer.clear()
        return batch

    def update(self) -> dict[str, float]:
        batch = self.take_rollout()
        if batch is None:
            return {}
        advantages, returns = self.advantages(batch)
        return self.optimize(batch, advantages, returns)

    def advantages(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """GAE advantages and value targets of the reward, bootstrapping with V(next_obs)."""
        with torch.no_grad():
            next_values = self.critic(batch["next_obs"]).squeeze(-1)
        c = self.config
        return gae(
            batch["reward"], batch["value"], next_values, batch["terminated"], batch["end"],
            c.gamma, c.gae_lambda,
        )  # fmt: skip

    def _schedule(self) -> float:
        """Fraction of the start learning rate (and clip range) at this point of training."""
        if self.config.anneal_steps <= 0:
            return 1.0
        return max(0.0, 1.0 - self.steps / self.config.anneal_steps)

    def optimize(
        self, batch: dict[str, torch.Tensor], advantages: torch.Tensor, returns: torch.Tensor
    ) -> dict[str, float]:
        """Clipped-surrogate epochs over minibatches of `batch` with these advantages."""
        c = self.config
        frac = self._schedule()
        lr = c.learning_rate * frac
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        clip = c.clip_range * (frac if c.anneal_clip_range else 1.0)
        masks = batch.get("action_mask")
        n = len(returns)
        steps: list[torch.Tensor] = []  # per minibatch: the _STATS values, read once at the end
        fields = [batch["obs"], batch["action"], batch["log_prob"], batch["value"], advantages,
                  returns, masks]  # fmt: skip
        for _ in range(c.epochs):
            epoch: list[torch.Tensor] = []
            order = torch.randperm(n)
            # one gather per field and epoch; each minibatch is then a slice (a view)
            shuffled = [None if f is None else f[order] for f in fields]
            for start in range(0, n, c.minibatch_size):
                obs, action, old_log_prob, old_value, adv, ret, mask = (
                    None if f is None else f[start : start + c.minibatch_size] for f in shuffled
                )
                log_prob, entropy = self.actor.log_prob_entropy(
                    obs, action, mask, entropy_grad=c.entropy_coef != 0
                )
                if c.normalize_advantage and len(adv) > 1:
                    adv = standardize(adv)
                pg_loss, kl, clip_fraction = policy_loss(log_prob, old_log_prob, adv, clip)
                v_loss = value_loss(
                    self.critic(obs).squeeze(-1), old_value, ret,
                    clip if c.clip_value_loss else None,
                )  # fmt: skip
                entropy = entropy.mean()
                loss = pg_loss + c.value_coef * v_loss - c.entropy_coef * entropy
                descend(self.optimizer, loss, c.max_grad_norm)
                with torch.no_grad():
                    epoch.append(torch.stack([loss, pg_loss, v_loss, entropy, kl, clip_fraction]))
            steps += epoch
            if c.target_kl > 0 and float(torch.stack(epoch)[:, 4].mean()) > c.target_kl:
                break
        self.updates += 1
        explained = 1.0 - float(torch.var(returns - batch["value"]) / (torch.var(returns) + 1e-8))
        means = torch.stack(steps).double().mean(0).tolist()
        metrics = dict(zip(_STATS, means, strict=True))
        metrics.update(explained_variance=explained, learning_rate=lr, updates=self.updates)
        return metrics

    # -- checkpoints --------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "steps": self.steps,
            "updates": self.updates,
            "discounted_return": torch.as_tensor(np.asarray(self.discounted_return, np.float64)),
        }
        if self.obs_norm is not None:
            state["obs_norm"] = self.obs_norm.state_dict()
        if self.return_norm is not None:
            state["return_norm"] = self.return_norm.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps = int(state["steps"])
        self.updates = int(state["updates"])
        self.discounted_return = np.asarray(state["discounted_return"], np.float64).reshape(-1)
        if self.obs_norm is not None:
            self.obs_norm.load_state_dict(state["obs_norm"])
        if self.return_norm is not None:
            self.return_norm.load_state_dict(state["return_norm"])
        self.buffer.clear()
        self.continuity.clear()
