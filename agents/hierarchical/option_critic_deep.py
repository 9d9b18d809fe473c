"""Neural option-critic (Bacon, Harb & Precup 2017, "The Option-Critic Architecture", AAAI),
trained like A2OC (Harb, Bacon, Klissarov & Precup 2018, "When Waiting is Not an Option:
Learning Options with a Deliberation Cost", AAAI): n-step on-policy rollouts over N env copies.

One network: a shared MLP torso phi(s), then three heads
    Q_Omega(s, .)   linear, one value per option
    beta_w(s)       sigmoid of a linear layer, one termination probability per option
    pi_w(.|s)       softmax of a linear layer, (options, actions) logits / temperature

Acting (per env copy): the running option w ends at s with probability beta_w(s) (drawn when
the copy reaches s); a new one is chosen epsilon-greedily on Q_Omega(s, .) (epsilon decays
linearly); the action is drawn from pi_w(.|s). Each update, from `rollout_steps` steps of
every copy (s_t, w_t, a_t, r_t, s_t+1):

    U(s', w)  = (1 - beta_w(s')) Q_Omega(s', w) + beta_w(s') max_w' Q_Omega(s', w')
    G_t       = r_t + gamma (1 - terminated_t) G_t+1, with G = U(s_t+1, w_t) (no gradient)
                at the rollout's or the episode's last step (truncation bootstraps)
    critic    = 1/2 (Q_Omega(s_t, w_t) - G_t)^2
    actor     = -log pi_w_t(a_t|s_t) (G_t - Q_Omega(s_t, w_t)) - entropy_coef H[pi_w_t(.|s_t)]
    term      = beta_w_t(s_t+1) (Q_Omega(s_t+1, w_t) - max_w Q_Omega(s_t+1, w) + xi)
                (not after a termination; the advantage carries no gradient)
    loss      = actor + value_coef critic + term, one optimizer step (RMSprop), clipped grads

xi (`termination_reg`, the paper's regularizer / Harb et al.'s deliberation cost margin) > 0
makes options last longer. With `target_update_interval` > 0 the bootstrap values come from a
target copy of the network refreshed every that many updates.

Visible: `options` (the option each copy runs, -1 before its first step), `option_history`
(the option of each explored step, cleared by `take_option_history()`), `act` keeps an
evaluation option (`eval_option`: greedy on Q_Omega, terminations drawn with a generator
seeded by `reset(seed)`, most likely action), `termination_probabilities(obs)` and
`option_values(obs)`; updates report the mean termination probability and option switches.
Discrete actions, Box (or Discrete, one-hot) observations.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from testbed.agents.common.nets import mlp
from testbed.agents.common.rollout import EpisodeContinuity, RolloutBuffer, one_row, same_batch
from testbed.agents.common.spaces import obs_dim, require_discrete, to_vectors
from testbed.agents.common.value import linear_epsilon


@dataclass(frozen=True)
class OptionCriticDeepConfig:
    """Hyperparameters of the neural option-critic (defaults: A2C's (SB3) with A2OC's
    option parts: 2 options, xi 0.01, entropy 0.01; epsilon decays 1 -> 0.05)."""

    n_options: int = 2
    """Number of options."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the shared torso."""
    learning_rate: float = 7e-4
    """RMSprop step size (alpha 0.99, eps 1e-5)."""
    rollout_steps: int = 5
    """Env steps of each env copy per update (n of the n-step return)."""
    gamma: float = 0.99
    """Discount factor."""
    value_coef: float = 0.5
    """Weight of the critic loss."""
    entropy_coef: float = 0.01
    """Weight of the intra-option policies' entropy bonus."""
    termination_reg: float = 0.01
    """xi: added to the termination advantage; > 0 makes options last longer."""
    temperature: float = 1.0
    """Softmax temperature of the intra-option policies."""
    epsilon_start: float = 1.0
    """Initial exploration rate of the epsilon-greedy policy over options."""
    epsilon_end: float = 0.05
    """Final exploration rate of the policy over options."""
    epsilon_decay_steps: int = 20_000
    """Env steps (over all copies) over which epsilon falls linearly from start to end."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip (0 = none)."""
    target_update_interval: int = 0
    """Updates between copies of the network into a target network for the bootstrap values
    (0 = no target network: bootstrap from the online network)."""


class OptionCriticNet(nn.Module):
    """Shared torso; Q_Omega, termination and intra-option policy heads."""

    def __init__(self, dim: int, n_options: int, n_actions: int, hidden: tuple[int, ...]):
        super().__init__()
        self.n_options, self.n_actions = n_options, n_actions
        self.torso = mlp(dim, hidden[-1], hidden[:-1])
        self.q = nn.Linear(hidden[-1], n_options)
        self.termination = nn.Linear(hidden[-1], n_options)
        self.policy = nn.Linear(hidden[-1], n_options * n_actions)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(Q_Omega (B, options), beta (B, options), policy logits (B, options, actions))."""
        h = torch.tanh(self.torso(x))
        logits = self.policy(h).view(-1, self.n_options, self.n_actions)
        return self.q(h), torch.sigmoid(self.termination(h)), logits


def _check(c: OptionCriticDeepConfig) -> None:
    problems = [
        (c.n_options >= 1, "n_options must be >= 1"),
        (len(c.hidden) >= 1 and min(c.hidden) >= 1, "hidden must list widths >= 1"),
        (c.learning_rate > 0, "learning_rate must be > 0"),
        (c.rollout_steps >= 1, "rollout_steps must be >= 1"),
        (0.0 <= c.gamma <= 1.0, "gamma must be in [0, 1]"),
        (c.temperature > 0, "temperature must be > 0"),
        (0.0 <= c.epsilon_end <= 1.0 and 0.0 <= c.epsilon_start <= 1.0,
         "epsilon_start and epsilon_end must be in [0, 1]"),
        (c.epsilon_decay_steps >= 0, "epsilon_decay_steps must be >= 0"),
        (c.value_coef >= 0 and c.entropy_coef >= 0, "value_coef, entropy_coef must be >= 0"),
        (c.max_grad_norm >= 0, "max_grad_norm must be >= 0"),
        (c.target_update_interval >= 0, "target_update_interval must be >= 0"),
    ]  # fmt: skip
    for ok, message in problems:
        if not ok:
            raise ValueError(message)


class OptionCriticDeep:
    """Option-critic with a neural network, n-step on-policy updates over N env copies."""

    Config = OptionCriticDeepConfig
    default_num_envs = 2
    """Env copies a train stage steps by default (A2OC ran 16 actor threads; on CartPole 2
    copies x 5 steps learned stably where 4 and 8 copies, with fewer updates per env step,
    oscillated within 100k steps)."""

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: OptionCriticDeepConfig | None = None,
    ):
        self.config = c = config or OptionCriticDeepConfig()
        _check(c)
        self.n_actions = require_discrete(action_space, "option-critic")
        self.action_start = int(action_space.start)
        self.observation_space = observation_space
        self.net = OptionCriticNet(obs_dim(observation_space), c.n_options, self.n_actions,
                                   tuple(c.hidden))  # fmt: skip
        self.target = copy.deepcopy(self.net) if c.target_update_interval > 0 else None
        self.optimizer = torch.optim.RMSprop(self.net.parameters(), lr=c.learning_rate,
                                             alpha=0.99, eps=1e-5)  # fmt: skip
        self.buffer = RolloutBuffer(c.rollout_steps, per_copy=True)
        self.continuity = EpisodeContinuity()
        self.steps = 0
        self.updates = 0
        self.options = np.full(0, -1, np.int64)
        self.option_history: list[np.ndarray] = []
        self.switches = 0
        self.eval_option: int | None = None
        self._eval_rng = np.random.default_rng(0)
        self._pending: tuple | None = None

    @property
    def epsilon(self) -> float:
        c = self.config
        return linear_epsilon(c.epsilon_start, c.epsilon_end, c.epsilon_decay_steps, self.steps)

    # -- what the options do ----------------------------------------------------------------
    def _heads(self, observations: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(to_vectors(self.observation_space, observations))
        with torch.no_grad():
            return self.net(x)

    def termination_probabilities(self, observations: Any) -> np.ndarray:
        """beta_w(s) for a batch of observations: (N, options), each in [0, 1]."""
        return self._heads(observations)[1].numpy()

    def option_values(self, observations: Any) -> np.ndarray:
        """Q_Omega(s, w) for a batch of observations: (N, options)."""
        return self._heads(observations)[0].numpy()

    def take_option_history(self) -> np.ndarray:
        """The option of every explored step since the last call: (steps, copies)."""
        history, self.option_history = self.option_history, []
        return np.stack(history) if history else np.zeros((0, len(self.options)), np.int64)

    # -- acting -------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """A new evaluation episode: no option yet; terminations drawn from `seed`."""
        self.eval_option = None
        self._eval_rng = np.random.default_rng(seed)

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> np.int64:
        q, beta, logits = (t[0] for t in self._heads([observation]))
        w = self.eval_option
        if w is not None and self._eval_rng.random() < float(beta[w]):
            w = None
        if w is None:
            w = int(q.argmax())
        self.eval_option = w
        scores = logits[w].numpy()
        if action_mask is not None and np.any(action_mask):
            scores = np.where(np.asarray(action_mask, bool), scores, -np.inf)
        return np.int64(self.action_start + int(np.argmax(scores)))

    def explore(self, observation: Any, action_mask: np.ndarray | None = None) -> np.int64:
        masks = None if action_mask is None else np.asarray(action_mask, bool)[None]
        return np.int64(self.explore_batch([observation], masks)[0])

    def explore_batch(self, observations: Any, action_masks: np.ndarray | None = None) -> Any:
        """Per copy: end the running option with probability beta_w(s), pick a new one
        epsilon-greedily on Q_Omega(s, .), draw the action from pi_w(.|s)."""
        q, beta, logits = self._heads(observations)
        n = q.shape[0]
        if len(self.options) != n:
            self.options = np.full(n, -1, np.int64)
        running = self.options >= 0
        held = torch.from_numpy(np.where(running, self.options, 0))
        ends = torch.rand(n) < beta.gather(1, held[:, None]).squeeze(1)
        choose = ~torch.from_numpy(running) | ends
        self.switches += int((ends & torch.from_numpy(running)).sum())
        if bool(choose.any()):
            explore = torch.rand(n) < self.epsilon
            random = torch.randint(self.config.n_options, (n,))
            picked = torch.where(explore, random, q.argmax(1))
            options = torch.where(choose, picked, held)
        else:
            options = held
        self.options = options.numpy().astype(np.int64)
        chosen = logits[torch.arange(n), options] / self.config.temperature
        if action_masks is not None:
            masks = torch.as_tensor(np.asarray(action_masks, bool))
            chosen = chosen.masked_fill(~masks & masks.any(1, keepdim=True), -torch.inf)
        actions = torch.distributions.Categorical(logits=chosen).sample().numpy()
        env_actions = self.action_start + actions.astype(np.int64)
        self.option_history.append(self.options.copy())
        self._pending = (observations, env_actions, self.options.copy())
        return env_actions

    # -- learning -----------------------------------------------------------------------------
    def observe(self, transition: dict[str, Any]) -> None:
        """One transition of one env; an episode abandoned in between is cut."""
        if self.continuity.broken(self.observation_space, transition):
            self.buffer.cut()
            self.options = np.full(len(self.options), -1, np.int64)
        self.observe_batch(one_row(transition))

    def observe_batch(self, batch: Any) -> None:
        """One step of every env copy (a `TransitionBatch`); finished copies drop their option."""
        n = len(batch)
        pending, self._pending = self._pending, None
        actions = np.asarray(batch.action, np.int64).reshape(n)
        if pending is not None and same_batch(pending[0], batch.obs) and len(pending[2]) == n:
            options = pending[2]
        else:  # steps this learner did not explore: the greedy options
            options = self.option_values(batch.obs).argmax(1)
        ended = np.asarray(batch.terminated, bool) | np.asarray(batch.truncated, bool)
        self.buffer.add(
            obs=to_vectors(self.observation_space, batch.obs),
            option=torch.as_tensor(options, dtype=torch.int64),
            action=torch.as_tensor(actions - self.action_start, dtype=torch.int64),
            reward=np.asarray(batch.reward, np.float32),
            next_obs=to_vectors(self.observation_space, batch.next_obs),
            terminated=np.asarray(batch.terminated, bool),
            truncated=np.asarray(batch.truncated, bool),
        )
        if len(self.options) == n:
            self.options[ended] = -1
        self.steps += n

    def update(self) -> dict[str, float]:
        """One gradient step on a full rollout (else nothing); the losses and diagnostics."""
        if not self.buffer.full:
            return {}
        c = self.config
        b = self.buffer.batch()
        self.buffer.clear()
        rows = torch.arange(len(b["option"]))
        w, a = b["option"].long(), b["action"].long()
        terminated = b["terminated"].float()
        q, _, logits = self.net(b["obs"])
        q_next, beta_next, _ = self.net(b["next_obs"])
        with torch.no_grad():
            source = self.target(b["next_obs"]) if self.target is not None else None
            tq, tbeta = (source[0], source[1]) if source else (q_next, beta_next)
            stay = tbeta[rows, w]
            arrival = (1 - stay) * tq[rows, w] + stay * tq.max(1).values
            returns = torch.zeros_like(arrival)
            following = torch.zeros(())
            for t in reversed(range(len(returns))):
                bootstrap = arrival[t] if bool(b["end"][t]) or t == len(returns) - 1 else following
                following = b["reward"][t] + c.gamma * (1.0 - terminated[t]) * bootstrap
                returns[t] = following
        q_taken = q[rows, w]
        critic = 0.5 * ((q_taken - returns) ** 2).mean()
        dist = torch.distributions.Categorical(logits=logits[rows, w] / c.temperature)
        advantage = (returns - q_taken).detach()
        entropy = dist.entropy().mean()
        actor = -(dist.log_prob(a) * advantage).mean() - c.entropy_coef * entropy
        margin = (q_next[rows, w] - q_next.max(1).values + c.termination_reg).detach()
        term = (beta_next[rows, w] * margin * (1.0 - terminated)).mean()
        loss = actor + c.value_coef * critic + term
        self.optimizer.zero_grad()
        loss.backward()
        if c.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(self.net.parameters(), c.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        if self.target is not None and self.updates % c.target_update_interval == 0:
            self.target.load_state_dict(self.net.state_dict())
        switches, self.switches = self.switches, 0
        return {
            "loss": float(loss.detach()),
            "critic_loss": float(critic.detach()),
            "entropy": float(entropy.detach()),
            "termination": float(beta_next.detach().mean()),
            "option_switches": float(switches),
            "epsilon": self.epsilon,
        }

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "steps": self.steps, "updates": self.updates}  # fmt: skip
        if self.target is not None:
            state["target"] = self.target.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.target is not None:
            self.target.load_state_dict(state.get("target", state["net"]))
        self.steps = int(state["steps"])
        self.updates = int(state["updates"])
        self.buffer.clear()
        self.continuity.clear()
        self.options = np.full(len(self.options), -1, np.int64)
