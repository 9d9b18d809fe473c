"""MAPPO: PPO for a group of cooperating agents, with shared parameters and a centralised critic.

Yu, Velu, Vinitsky, Gao, Wang, Bayen, Wu (2022), "The Surprising Effectiveness of PPO in
Cooperative Multi-Agent Games" (NeurIPS Datasets and Benchmarks; arXiv:2103.01955). A joint
learner (the harness builds one per group of env agents, see testbed/joint.py). Per rollout of
`rollout_steps` env steps of the group:

    x_i       = [pad(o_i), onehot(i)]          actor input (shared actor; one actor per agent
                                               without `share_parameters`: x_i = o_i)
    s_i       = [o_1, ..., o_n, onehot(i)]     critic input with `centralized_value` (MAPPO's
                                               agent-specific global state; absent or
                                               terminated agents are zeros), else s_i = x_i (IPPO)
    A_i, R_i  = GAE(gamma, lambda) over agent i's own trajectory    (agents/common/rollout.py)
    actor     : -L_clip(pi(a_i|x_i), A) - entropy_coef * H       (ppo.py `policy_loss`)
    critic    : (V(s_i) - norm(R_i))^2, clipped around the rollout's values   (`value_loss`)

The data of all agents that share an actor form one batch; advantages are standardised over
that batch, then `epochs` passes over `minibatches` shuffled minibatches with separate Adam
optimisers for actor and critic, each gradient clipped to `max_grad_norm`. Value normalisation
(the paper's Suggestion 1; "PopArt-lite", agents/common/group_rollout.py): the critic predicts
returns standardised by running statistics of the value targets, de-normalised for GAE. Every
agent has its own buffer, so GAE never runs across agents; a truncated episode or a rollout cut
mid-episode bootstraps with V(s'), a terminated one does not.

Spaces may differ between agents (agents/common/joint_spaces.py's `PaddedSpaces`, one per
actor): observations are flattened, zero-padded to the largest dim, then the one-hot agent
indicator (as SuperSuit's `pad_observations_v0` + `agent_indicator_v0`); Discrete action sets
padded to the largest (padding and env masks -inf); 1-D Box actions in [-1, 1], rescaled to
each agent's bounds, padding excluded from log-probs and entropy. Discrete and Box agents
cannot share one actor. `max_agents` leaves slots for more agents than the group has.

`explore` samples; `act` is the evaluation policy: argmax over legal actions / the Gaussian
mean (with `stochastic_eval`, a sample from a torch.Generator seeded in `reset(seed)`).
Defaults follow the paper's MPE settings (Appendix; marlbenchmark/on-policy
`train_mpe_spread.sh`, `config.py`): lr 7e-4 (actor and critic), 10 epochs, 1 minibatch, clip
0.2, entropy 0.01, gamma 0.99, GAE lambda 0.95, 64-unit ReLU MLPs, orthogonal init (0.01 gain
on the policy head), max grad norm 10, clipped value loss, value normalisation, rollouts of
128 envs x 25 steps. Not included: the recurrent policy, Huber loss (MSE), input LayerNorm.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from testbed.agents.common.group_rollout import ValueNorm, concat_batches, fit_critic
from testbed.agents.common.joint_spaces import PaddedSpaces
from testbed.agents.common.nets import adam, descend, mlp
from testbed.agents.common.rollout import (
    Actor,
    RolloutBuffer,
    gae,
    one_row,
    same_batch,
    standardize,
)
from testbed.agents.common.spaces import obs_dim, to_vector
from testbed.agents.marl.mappo_inputs import GroupInputs, check_config
from testbed.agents.policy_gradient.ppo import policy_loss

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


@dataclass(frozen=True)
class MAPPOConfig:
    """MAPPO hyperparameters (defaults: Yu et al. 2022, MPE settings)."""

    learning_rate: float = 7e-4
    """Adam step size of the actor(s)."""
    critic_learning_rate: float = 7e-4
    """Adam step size of the critic(s)."""
    rollout_steps: int = 3200
    """Env steps of the group collected between updates, over all env copies: an update
    follows the vector step that reaches it (the paper: 128 envs x 25 steps)."""
    epochs: int = 10
    """Passes over each rollout."""
    minibatches: int = 1
    """Minibatches per pass (the paper's Suggestion 3: do not split the data)."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip_range: float = 0.2
    """Surrogate (and value) clipping epsilon."""
    clip_value_loss: bool = True
    """Clip the value update around the rollout's value predictions."""
    entropy_coef: float = 0.01
    """Weight of the entropy bonus."""
    max_grad_norm: float = 10.0
    """Gradient-norm clip of actor and critic, each (0 = none)."""
    value_normalization: bool = True
    """Critic learns running-standardised returns (the paper's ValueNorm / PopArt-lite)."""
    share_parameters: bool = True
    """One actor and one critic for all agents of the group (with a one-hot agent indicator);
    False: one actor and one critic per agent."""
    centralized_value: bool = True
    """Critic sees all group agents' observations (MAPPO); False: its own only (IPPO)."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the actor and of the critic."""
    activation: str = "relu"
    """Hidden activation: "relu" (the paper) or "tanh"."""
    log_std_init: float = 0.0
    """Initial log-std of the Gaussian policy (Box actions)."""
    adam_eps: float = 1e-5
    """Adam epsilon."""
    stochastic_eval: bool = False
    """`act` samples the policy (seeded by `reset`) instead of taking its mode."""
    max_agents: int = 0
    """Shared parameters: agent indicator and centralised state sized for this many agents
    (extra slots are zeros; 0 = the group's size), so with equal observation lengths (e.g.
    simple_spread's `max_agents`) the networks fit any group of up to that many agents."""


class MAPPO:
    """Parameter-shared (or per-agent) PPO with a centralised critic for a group of agents."""

    default_num_envs = 16
    """Env copies a train stage steps by default (the paper ran 128 on MPE)."""

    Config = MAPPOConfig
    joint = True

    def __init__(
        self,
        observation_spaces: Mapping[str, spaces.Space],
        action_spaces: Mapping[str, spaces.Space],
        config: MAPPOConfig | None = None,
        algorithm: str = "MAPPO",
    ):
        self.config = c = config or MAPPOConfig()
        if not isinstance(observation_spaces, Mapping) or not isinstance(action_spaces, Mapping):
            raise ValueError(f"{algorithm} is a joint learner: it needs {{agent: space}} dicts")
        self.agents = list(observation_spaces)
        slots = check_config(c, len(self.agents), sorted(ACTIVATIONS))
        self.observation_spaces = dict(observation_spaces)
        self.index = {a: i for i, a in enumerate(self.agents)}
        self.obs_dims = {a: obs_dim(s) for a, s in observation_spaces.items()}
        # heads: one (actor, critic) pair shared by all agents, or one pair per agent; each
        # head's view maps its agents' observations/actions into one padded space
        groups = [self.agents] if c.share_parameters else [[a] for a in self.agents]
        self.views = [
            PaddedSpaces({a: observation_spaces[a] for a in g}, {a: action_spaces[a] for a in g},
                         c.share_parameters, algorithm, slots)
            for g in groups
        ]  # fmt: skip
        self.head_of = {a: h for h, view in enumerate(self.views) for a in view.agents}
        self.inputs = GroupInputs(
            self.views, observation_spaces, self.obs_dims, c.centralized_value, c.share_parameters,
            slots,
        )  # fmt: skip
        for view in self.views:
            if not view.discrete and len(view.action_space.shape) != 1:
                raise ValueError(f"{algorithm} needs Discrete or 1-D Box actions")
        state_dim = self.inputs.state_dim
        self.critic_dims = [state_dim if c.centralized_value else v.obs_dim for v in self.views]
        activation = ACTIVATIONS[c.activation]
        self.actors: list[Actor] = []
        self.critics: list[nn.Module] = []
        for view, critic_dim in zip(self.views, self.critic_dims, strict=True):
            actor = Actor(view.obs_dim, view.action_space, c.hidden, c.log_std_init, algorithm)
            actor.net = mlp(view.obs_dim, actor.net[-1].out_features, c.hidden, activation,
                            out_gain=0.01)  # fmt: skip
            self.actors.append(actor)
            self.critics.append(mlp(critic_dim, 1, c.hidden, activation, out_gain=1.0))
        self.actor_optimizers = [
            adam(a.parameters(), c.learning_rate, c.adam_eps) for a in self.actors
        ]
        self.critic_optimizers = [
            adam(v.parameters(), c.critic_learning_rate, c.adam_eps) for v in self.critics
        ]
        self.value_norms = [ValueNorm(c.value_normalization) for _ in self.views]
        self.buffers = {a: RolloutBuffer(c.rollout_steps) for a in self.agents}
        self.collected = 0  # env steps in the buffers
        self.steps = 0
        self.updates = 0
        self._pending: dict[str, tuple] = {}
        self._expected: dict[str, np.ndarray] = {}  # next obs of the agents still live
        self._generator: torch.Generator | None = None

    # -- inputs -----------------------------------------------------------------------------

    def actor_input(self, agent: str, observation: Any) -> np.ndarray:
        """`agent`'s actor input: its flat observation, padded, with its indicator."""
        return self.inputs.actor(agent, [observation])[0]

    def critic_inputs(self, observations: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """The critic's input of every agent in `observations` (the others: zeros)."""
        batch = self.inputs.critic({a: [o] for a, o in observations.items()})
        return {a: rows[0] for a, rows in batch.items()}

    def _log_prob_entropy(
        self, head: int, x: torch.Tensor, actions: torch.Tensor, masks: torch.Tensor | None,
        dim_mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        dist = self.actors[head].distribution(x, masks)
        if dim_mask is None:
            return dist.log_prob(actions), dist.entropy()
        base = dist.base_dist  # padded Box dims do not count
        return (base.log_prob(actions) * dim_mask).sum(-1), (base.entropy() * dim_mask).sum(-1)

    # -- acting -----------------------------------------------------------------------------

    def reset(self, seed: int | None = None) -> None:
        """Seeds the Generator of `stochastic_eval`; `explore` uses torch's global RNG."""
        if self.config.stochastic_eval:
            self._generator = torch.Generator().manual_seed(0 if seed is None else int(seed))

    def act(
        self, observations: Mapping[str, Any], action_masks: Mapping[str, np.ndarray | None]
    ) -> dict[str, Any]:
        agents = [a for a in self.agents if a in observations]
        masks = {a: None if action_masks.get(a) is None else np.asarray(action_masks[a])[None]
                 for a in agents}  # fmt: skip
        out: dict[str, Any] = {}
        with torch.no_grad():
            for head, members in self.inputs.by_head(agents):
                view, actor = self.views[head], self.actors[head]
                x = torch.as_tensor(
                    np.concatenate([self.inputs.actor(a, [observations[a]]) for a in members])
                )
                legal, _ = self.inputs.masks(head, members, masks, 1)
                if not self.config.stochastic_eval:
                    actions = actor.mode(x, legal)
                elif view.discrete:
                    probs = actor.distribution(x, legal).probs
                    actions = torch.multinomial(probs, 1, generator=self._generator).squeeze(-1)
                else:
                    dist = actor.distribution(x).base_dist
                    noise = torch.randn(dist.loc.shape, generator=self._generator)
                    actions = dist.loc + dist.scale * noise
                for k, a in enumerate(members):
                    out[a] = self.inputs.to_env(a, actions.numpy()[k : k + 1])[0]
        return out

    def _evaluate(
        self, observations: Mapping[str, Any], masks: Mapping[str, np.ndarray | None],
        actions: Mapping[str, Any] | None = None,
    ) -> dict[str, tuple]:  # fmt: skip
        """Per agent, for N copies: (actor inputs, critic inputs, network actions, log-probs,
        values, raw values, masks); samples the actions when `actions` is None."""
        agents = [a for a in self.agents if a in observations]
        n = len(observations[agents[0]])
        critic_in = self.inputs.critic({a: observations[a] for a in agents})
        out: dict[str, tuple] = {}
        for head, members in self.inputs.by_head(agents):
            view = self.views[head]
            xs = np.concatenate([self.inputs.actor(a, observations[a]) for a in members])
            x = torch.from_numpy(xs)
            legal, rows = self.inputs.masks(head, members, masks, n)
            if actions is not None:
                net_actions = torch.as_tensor(
                    np.concatenate([self.inputs.from_env(a, actions[a]) for a in members])
                )
            if view.discrete:  # the Categorical by hand: a distribution object costs ~0.2 ms
                logits = self.actors[head].net(x)
                if legal is not None:
                    logits = logits.masked_fill(~legal, float("-inf"))
                log_pi = torch.log_softmax(logits, -1)
                if actions is None:
                    net_actions = torch.multinomial(log_pi.exp(), 1).squeeze(-1)
                log_probs = log_pi.gather(-1, net_actions.long().unsqueeze(-1)).squeeze(-1)
            else:
                if actions is None:
                    net_actions = self.actors[head].distribution(x).sample()
                dims = self.inputs.dim_mask(head, members)
                log_probs, _ = self._log_prob_entropy(
                    head, x, net_actions, None,
                    None if dims is None else dims.repeat_interleave(n, dim=0),
                )  # fmt: skip
            s = np.concatenate([critic_in[a] for a in members])
            raw = self.critics[head](torch.from_numpy(s)).squeeze(-1)
            values = self.value_norms[head].denormalize(raw)
            for k, a in enumerate(members):
                rows_k = slice(k * n, (k + 1) * n)
                out[a] = (xs[rows_k], s[rows_k], net_actions[rows_k], log_probs[rows_k],
                          values[rows_k].numpy(), raw[rows_k].numpy(), rows[a])  # fmt: skip
        return out

    def explore(
        self, observations: Mapping[str, Any], action_masks: Mapping[str, np.ndarray | None]
    ) -> dict[str, Any]:
        batch = {a: [o] for a, o in observations.items()}
        masks = {a: None if action_masks.get(a) is None else np.asarray(action_masks[a])[None]
                 for a in observations}  # fmt: skip
        return {a: actions[0] for a, actions in self.explore_batch(batch, masks).items()}

    def explore_batch(
        self, observations: Mapping[str, Any], action_masks: Mapping[str, Any]
    ) -> dict[str, np.ndarray]:
        """Sampled actions of every agent for N env copies ({agent: (N, ...)})."""
        with torch.no_grad():
            evaluated = self._evaluate(observations, action_masks)
        actions = {a: self.inputs.to_env(a, e[2].numpy()) for a, e in evaluated.items()}
        self._pending = {a: (observations[a], actions[a], e) for a, e in evaluated.items()}
        return actions

    # -- learning ---------------------------------------------------------------------------

    def breaks_episode(self, transitions: Mapping[str, Mapping[str, Any]]) -> bool:
        """True when these transitions do not continue the episode seen so far (it was
        abandoned, e.g. by a training budget, and a new one started)."""
        for agent, t in transitions.items():
            expected = self._expected.get(agent)
            if expected is not None and not np.array_equal(
                to_vector(self.observation_spaces[agent], t["obs"]), expected
            ):
                return True
        return False

    def observe(self, transitions: Mapping[str, Mapping[str, Any]]) -> None:
        """One step of one env ({agent: transition} of the group's live agents)."""
        if not transitions:
            return
        if self.breaks_episode(transitions):
            for buffer in self.buffers.values():
                buffer.cut()
        self._expected = {
            a: to_vector(self.observation_spaces[a], t["next_obs"])
            for a, t in transitions.items()
            if not (t["terminated"] or t["truncated"])
        }
        self.observe_batch({a: one_row(t) for a, t in transitions.items()})

    def observe_batch(self, batches: Mapping[str, Any]) -> None:
        """One step of every env copy ({agent: TransitionBatch} of the group's agents)."""
        agents = [a for a in self.agents if a in batches]
        if not agents:
            return
        pending, self._pending = self._pending, {}
        cached = all(
            a in pending and same_batch(pending[a][0], batches[a].obs)
            and np.array_equal(pending[a][1], batches[a].action)
            for a in agents
        )  # fmt: skip
        if cached:
            evaluated = {a: pending[a][2] for a in agents}
        else:  # e.g. the executed actions were not the ones `explore` returned
            with torch.no_grad():
                evaluated = self._evaluate(
                    {a: batches[a].obs for a in agents},
                    {a: batches[a].action_mask for a in agents},
                    {a: batches[a].action for a in agents},
                )
        # s' of this step: each copy's next observations of the agents that did not terminate
        next_inputs = self.inputs.critic(
            {a: batches[a].next_obs for a in agents},
            absent={a: batches[a].terminated for a in agents},
        )
        n = len(batches[agents[0]])
        self.steps += n
        if not all(self.buffers[a].takes(n) for a in agents):
            return  # the budget's last, partial vector step (see RolloutBuffer.add)
        for a in agents:
            b = batches[a]
            x, s, action, log_prob, value, raw, legal = evaluated[a]
            self.buffers[a].add(
                obs=x, state=s, next_state=next_inputs[a], action=action, log_prob=log_prob,
                value=value, value_raw=raw, reward=np.asarray(b.reward, np.float32),
                cost=np.asarray(b.cost, np.float32), agent=np.full(n, self.index[a]),
                terminated=np.asarray(b.terminated, bool),
                truncated=np.asarray(b.truncated, bool), action_mask=legal,
            )  # fmt: skip
        self.collected += n

    def abandon_episodes(self) -> None:
        """Episodes in flight end here (their env is gone): GAE bootstraps with V(s')."""
        for buffer in self.buffers.values():
            buffer.cut()
        self._pending, self._expected = {}, {}

    def take_rollout(self) -> list[dict[str, torch.Tensor]] | None:
        """One batch per head (its agents' trajectories one after another, each ending with
        `end` = 1, so GAE over the batch never crosses agents), emptying the buffers; None
        until `rollout_steps` env steps were collected."""
        if self.collected < self.config.rollout_steps:
            return None
        batches = []
        for view in self.views:
            parts = [self.buffers[a].batch() for a in view.agents if len(self.buffers[a])]
            batches.append(concat_batches(parts) if parts else {})
        for buffer in self.buffers.values():
            buffer.clear()
        self.collected = 0
        return batches

    def advantages(
        self, head: int, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """GAE advantages and value targets of the reward for one head's batch."""
        with torch.no_grad():
            raw = self.critics[head](batch["next_state"]).squeeze(-1)
            next_values = self.value_norms[head].denormalize(raw)
        c = self.config
        return gae(
            batch["reward"], batch["value"], next_values, batch["terminated"], batch["end"],
            c.gamma, c.gae_lambda,
        )  # fmt: skip

    def update(self) -> dict[str, float]:
        batches = self.take_rollout()
        if batches is None:
            return {}
        metrics: dict[str, list[float]] = {}
        for head, batch in enumerate(batches):
            if not batch:
                continue
            advantages, returns = self.advantages(head, batch)
            for key, value in self.optimize(head, batch, standardize(advantages), returns).items():
                metrics.setdefault(key, []).append(value)
        self.updates += 1
        out = {key: float(np.mean(values)) for key, values in metrics.items()}
        out["updates"] = float(self.updates)
        return out

    def optimize(
        self,
        head: int,
        batch: dict[str, torch.Tensor],
        advantages: torch.Tensor,
        returns: torch.Tensor,
    ) -> dict[str, float]:
        """PPO epochs for one head: the clipped surrogate on `advantages` (used as given) and
        the critic on `returns`."""
        c = self.config
        n = len(returns)
        norm = self.value_norms[head]
        norm.update(returns)
        masks = batch.get("action_mask")
        dim_mask = self.inputs.dim_mask(head, self.agents)
        if dim_mask is not None:
            dim_mask = dim_mask[batch["agent_index"]]
        critic = self.critics[head]
        clip_v = c.clip_range if c.clip_value_loss else None
        size = max(1, math.ceil(n / c.minibatches))
        stats: dict[str, list[float]] = {}
        for _ in range(c.epochs):
            for idx in torch.randperm(n).split(size):
                log_prob, entropy = self._log_prob_entropy(
                    head, batch["obs"][idx], batch["action"][idx],
                    None if masks is None else masks[idx],
                    None if dim_mask is None else dim_mask[idx],
                )  # fmt: skip
                pg_loss, kl, clip_fraction = policy_loss(
                    log_prob, batch["log_prob"][idx], advantages[idx], c.clip_range
                )
                entropy = entropy.mean()
                loss = pg_loss - c.entropy_coef * entropy
                descend(self.actor_optimizers[head], loss, c.max_grad_norm)
                v_loss = fit_critic(
                    critic, self.critic_optimizers[head], norm, batch["state"],
                    batch["value_raw"], returns, idx, clip_v, c.max_grad_norm,
                )  # fmt: skip
                for key, value in (
                    ("policy_loss", float(pg_loss.detach())), ("value_loss", v_loss),
                    ("entropy", float(entropy.detach())), ("approx_kl", float(kl)),
                    ("clip_fraction", float(clip_fraction)),
                ):  # fmt: skip
                    stats.setdefault(key, []).append(value)
        explained = 1.0 - float(torch.var(returns - batch["value"]) / (torch.var(returns) + 1e-8))
        metrics = {key: float(np.mean(values)) for key, values in stats.items()}
        metrics["explained_variance"] = explained
        return metrics

    def state_dict(self) -> dict[str, Any]:
        return {
            "actors": [a.state_dict() for a in self.actors],
            "critics": [v.state_dict() for v in self.critics],
            "actor_optimizers": [o.state_dict() for o in self.actor_optimizers],
            "critic_optimizers": [o.state_dict() for o in self.critic_optimizers],
            "value_norms": [v.state_dict() for v in self.value_norms],
            "steps": self.steps,
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for objects, key in (
            (self.actors, "actors"), (self.critics, "critics"),
            (self.actor_optimizers, "actor_optimizers"),
            (self.critic_optimizers, "critic_optimizers"), (self.value_norms, "value_norms"),
        ):  # fmt: skip
            if len(state[key]) != len(objects):
                raise ValueError(f"{key}: {len(state[key])} saved, {len(objects)} expected")
            for obj, saved in zip(objects, state[key], strict=True):
                obj.load_state_dict(saved)
        self.steps = int(state["steps"])
        self.updates = int(state["updates"])
        for buffer in self.buffers.values():
            buffer.clear()
        self.collected, self._pending, self._expected = 0, {}, {}
