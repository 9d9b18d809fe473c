"""What the meta-learners share: a policy written as a function of its parameters
(`torch.func.functional_call`), episode sampling on a task, the policy-gradient loss, the
inner-loop adaptation, and a base class (acting, checkpoints, `adapt`).

A task is a callable that builds one env of it (`make_env() -> ParallelEnv` with one agent);
K episodes of a task run as K envs in lockstep, one forward pass per step for all of them.
Episodes that end early stop stepping (their later rows are masked out). The policy-gradient
loss is REINFORCE with a time-dependent baseline (the mean return-to-go at each step over the
episodes still running) and standardised advantages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from torch.func import functional_call

from testbed.agents.common.nets import adam, mlp
from testbed.agents.common.spaces import obs_dim, to_vectors

Params = dict[str, torch.Tensor]
Task = Callable[[], Any]
"""Builds one env of a task (a one-agent PettingZoo ParallelEnv)."""


class PolicyNet(nn.Module):
    """MLP policy: a Gaussian with a state-independent log-std (Box) or a categorical."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, hidden: Any):
        super().__init__()
        self.discrete = isinstance(action_space, spaces.Discrete)
        if not self.discrete and not (
            isinstance(action_space, spaces.Box) and len(action_space.shape) == 1
        ):
            raise ValueError(
                f"meta-learners need a Discrete or 1-D Box action space, got {action_space}"
            )
        out = int(action_space.n) if self.discrete else int(action_space.shape[0])
        self.net = mlp(obs_dim(observation_space), out, tuple(hidden), nn.ReLU)
        self.log_std = nn.Parameter(torch.zeros(out), requires_grad=not self.discrete)

    def forward(self, obs: torch.Tensor) -> torch.distributions.Distribution:
        out = self.net(obs)
        if self.discrete:
            return torch.distributions.Categorical(logits=out)
        return torch.distributions.Normal(out, self.log_std.exp())


@dataclass
class Episodes:
    """K episodes of one task in lockstep: arrays (T, K, ...); `alive` (T, K) marks the steps
    each episode really had (episodes may end at different times)."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: np.ndarray
    alive: np.ndarray

    @property
    def mean_return(self) -> float:
        return float(self.rewards.sum(0).mean())


def sample(
    net: PolicyNet, params: Params, task: Task, episodes: int, seed: int, space: spaces.Space
) -> Episodes:
    """Roll out `episodes` episodes of `task` with the policy at `params` (sampled actions)."""
    envs = [task() for _ in range(episodes)]
    obs = [env.reset(seed=seed + k)[0] for k, env in enumerate(envs)]
    agent = envs[0].possible_agents[0]
    all_obs, all_actions, all_rewards, all_alive = [], [], [], []
    alive = np.ones(episodes, bool)
    with torch.no_grad():
        while alive.any():
            x = torch.from_numpy(to_vectors(space, [o[agent] for o in obs]))
            action = functional_call(net, params, (x,)).sample()
            rewards = np.zeros(episodes)
            for k in np.flatnonzero(alive):
                next_obs, reward, *_ = envs[k].step({agent: action[k].numpy()})
                obs[k], rewards[k] = next_obs, reward[agent]
            all_obs.append(x)
            all_actions.append(action)
            all_rewards.append(rewards)
            all_alive.append(alive.copy())
            alive = np.array([bool(env.agents) for env in envs])
    for env in envs:
        env.close()
    return Episodes(torch.stack(all_obs), torch.stack(all_actions), np.array(all_rewards),
                    np.array(all_alive))  # fmt: skip


def pg_loss(net: PolicyNet, params: Params, batch: Episodes, gamma: float) -> torch.Tensor:
    """REINFORCE surrogate loss (to minimise) of a batch of episodes at `params`."""
    rewards, alive = batch.rewards, batch.alive
    returns = np.zeros_like(rewards)
    running = np.zeros(rewards.shape[1])
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        returns[t] = running
    dist = functional_call(net, params, (batch.obs,))
    log_prob = dist.log_prob(batch.actions)
    if log_prob.dim() == 3:  # Gaussian: sum over action dimensions
        log_prob = log_prob.sum(-1)
    if alive.all():  # episodes of one length
        advantage = returns - returns.mean(axis=1, keepdims=True)
        advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
        return -(log_prob * torch.as_tensor(advantage, dtype=torch.float32)).mean()
    count = np.maximum(alive.sum(axis=1, keepdims=True), 1)
    advantage = returns - (returns * alive).sum(axis=1, keepdims=True) / count
    live = advantage[alive]
    advantage = np.where(alive, (advantage - live.mean()) / (live.std() + 1e-8), 0.0)
    weights = torch.as_tensor(advantage, dtype=torch.float32)
    return -(log_prob * weights).sum() / float(alive.sum())


def adapt(
    params: Params,
    loss_of: Callable[[Params], torch.Tensor],
    steps: int,
    lr: float,
    first_order: bool,
) -> Params:
    """`steps` gradient steps theta' = theta - lr * grad L(theta). Second order: the steps stay
    differentiable (create_graph); first order: their gradients are constants."""
    for _ in range(steps):
        names = [k for k, p in params.items() if p.requires_grad]
        grads = torch.autograd.grad(
            loss_of(params), [params[k] for k in names], create_graph=not first_order
        )
        new = dict(params)
        for name, grad in zip(names, grads, strict=True):
            new[name] = params[name] - lr * grad
        params = new
    return params


class MetaLearner:
    """Acting, adapting and checkpoints of a meta-learned policy; subclasses give
    `meta_step(tasks, seed) -> metrics` (one outer update on a batch of tasks)."""

    Config: type

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, config: Any):
        self.config = config
        self.observation_space, self.action_space = observation_space, action_space
        self.net = PolicyNet(observation_space, action_space, config.hidden)
        self.optimizer = adam(self.net.parameters(), config.meta_lr)
        self.iterations = 0

    def params(self) -> Params:
        return dict(self.net.named_parameters())

    def reset(self, seed: int | None = None) -> None:
        """Nothing: `act` is deterministic (the mean / most likely action)."""

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        x = torch.from_numpy(to_vectors(self.observation_space, [observation]))
        with torch.no_grad():
            dist = self.net(x)
            if self.net.discrete:
                return int(dist.probs.argmax(-1)[0])
            low, high = self.action_space.low, self.action_space.high
            return np.clip(dist.mean[0].numpy(), low, high).astype(self.action_space.dtype)

    def sample(
        self, task: Task, episodes: int, seed: int, params: Params | None = None
    ) -> Episodes:
        return sample(
            self.net, params or self.params(), task, episodes, seed, self.observation_space
        )

    def loss(self, params: Params, batch: Episodes) -> torch.Tensor:
        return pg_loss(self.net, params, batch, self.config.gamma)

    def adapt(self, task: Task, steps: int, episodes: int, seed: int) -> list[float]:
        """Adapt to `task` in place with `steps` inner steps of `episodes` episodes each (the
        meta-training inner loop's step size); the sampled return before and after each step
        (on fresh episodes): `steps + 1` numbers."""
        needs = {k: v.requires_grad for k, v in self.params().items()}
        params = {k: v.detach().clone().requires_grad_(needs[k]) for k, v in self.params().items()}
        returns = [self.sample(task, episodes, seed, params).mean_return]
        for step in range(steps):
            batch = self.sample(task, episodes, seed + 10_000 * (step + 1), params)
            params = adapt(
                params, lambda p, b=batch: self.loss(p, b), 1, self.config.inner_lr, True
            )
            params = {k: v.detach().requires_grad_(needs[k]) for k, v in params.items()}
            fresh = self.sample(task, episodes, seed + 10_000 * (step + 1) + 5_000, params)
            returns.append(fresh.mean_return)
        with torch.no_grad():
            for name, value in params.items():
                self.params()[name].copy_(value)
        return returns

    def meta_step(self, tasks: list[Task], seed: int) -> dict[str, float]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "iterations": self.iterations}  # fmt: skip

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.iterations = int(state["iterations"])
