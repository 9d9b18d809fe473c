"""CPO: Constrained Policy Optimization, a trust-region step that keeps a cost budget.

Achiam, Held, Tamar, Abbeel (2017), "Constrained Policy Optimization" (ICML), arXiv:1705.10528.
Per rollout of `rollout_steps` env steps, with the policy's parameters theta:

    A_R = GAE of rewards (reward critic), standardised;  A_C = GAE of costs (cost critic),
    centred only (its scale is the cost's: the constraint compares it with the budget)
    ratio(th) = pi_th(a|s) / pi_old(a|s)
    L_R(th) = E[ratio A_R],  L_C(th) = E[ratio A_C]          (surrogate reward and cost)
    g = grad L_R,  b = grad L_C,  H = Fisher matrix (Hessian of mean KL(pi_old || pi_th))
    c = (J_C - d) / T   J_C mean episode cost of the rollout's finished episodes, d the budget
                        `cost_limit`, T their mean length (L_C is per step, J_C per episode:
                        J_C(th) - J_C(old) ~ T * (L_C(th) - L_C(old)); safety-starter-agents
                        and OmniSafe rescale the same way)

and the step x = theta' - theta solves the linearised problem

    max_x g.x   s.t.   c + b.x <= 0   and   x.H.x / 2 <= delta  (delta = `target_kl`).

H^-1 g and H^-1 b come from conjugate gradient (`cg_iters`) on Fisher-vector products
Hv = grad (grad KL . v) + `cg_damping` v. With q = g.H^-1.g, r = g.H^-1.b, s = b.H^-1.b,
A = q - r^2 / s and B = 2 delta - c^2 / s, the dual min_{lam > 0, nu >= 0}
(q - 2 nu r + nu^2 s) / (2 lam) - nu c + lam delta has closed-form cases (`solve_cpo_dual`):

    case 4  b ~ 0 and c < 0       the constraint is inactive: the TRPO step sqrt(2 delta / q) H^-1 g
    case 3  c < 0 and B < 0       the whole trust region is feasible: the TRPO step again
    case 2  c < 0 and B >= 0      feasible now, the cost boundary cuts the trust region
    case 1  c >= 0 and B >= 0     infeasible now, but part of the trust region is feasible
            (cases 1, 2)          x = H^-1 (g - nu b) / lam, lam from the better of the two
                                  branches nu > 0 / nu = 0 of the dual (each projected onto
                                  its range of lam), nu = max(0, lam c + r) / s
    case 0  c >= 0 and B < 0      no feasible point in the trust region: feasibility recovery,
                                  x = -sqrt(2 delta / s) H^-1 b (the largest pure cost decrease)

The signs here follow from maximising g.x with g the gradient of the reward surrogate (as in
Achiam's own code, safety-starter-agents, whose g is the loss gradient, so r there is -r here);
`tests/agents/test_safe_cpo.py` checks the closed form against a brute-force search.
A backtracking line search then tries theta + 0.8^j x for j < `backtrack_iters` and accepts the
first point whose mean KL(pi_old || pi) <= delta, whose surrogate cost rises by at most
max(0, -c) (so in cases 0 and 1 it must fall), and, in the feasible cases 2-4, whose surrogate
reward does not fall; if none passes, the policy stays. Reward and cost critics (separate MLPs)
are then fitted by MSE to their GAE returns (Adam, minibatches, a small L2 penalty).

Defaults: OmniSafe's CPO config (omnisafe/configs/on-policy/CPO.yaml: target_kl 0.01, cg_iters
15, cg_damping 0.1, 2048 steps per update, gamma = cost_gamma 0.99, lam = lam_c 0.95, critic lr
1e-3 with 10 epochs of minibatch 128, critic_norm_coef 0.001, max_grad_norm 40, reward
normalisation on, cost_limit 25, 64x64 tanh networks, log-std starting at 0), and its
line search (15 trials shrinking by 0.8, the default of OmniSafe's `_cpo_search_step`;
safety-starter-agents uses 10). The KL test is safety-starter-agents' (KL <= delta; OmniSafe
allows 1.5 delta).
The Safety Gym benchmark runs (safety-starter-agents scripts/experiment.py) used 256x256
networks, 30000 steps per update and cost_lim 25.

Acting is PPO's (this class composes `testbed.agents.policy_gradient.ppo.PPO` for its rollout
buffer, actor, reward critic, observation normalisation and reward scaling; PPO's own Adam
optimiser is never stepped): `explore` samples (masks honoured), `act` is the argmax / the
Gaussian mean clipped to the bounds. Discrete (masked) and 1-D Box actions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from testbed.agents.common.nets import adam, mlp
from testbed.agents.common.rollout import EpisodeContinuity, EpisodeCosts, gae, standardize
from testbed.agents.common.spaces import obs_dim
from testbed.agents.policy_gradient.ppo import PPO, ActsWithPPO, PPOConfig

EPS = 1e-8


@dataclass(frozen=True)
class CPOConfig:
    """CPO hyperparameters (defaults: OmniSafe's CPO.yaml; see the module docstring)."""

    cost_limit: float = 25.0
    """Per-episode cost budget d (the constraint is mean episode cost <= d)."""
    rollout_steps: int = 2048
    """Env steps collected between updates."""
    target_kl: float = 0.01
    """Trust-region size delta: mean KL(pi_old || pi_new) allowed per update."""
    cg_iters: int = 15
    """Conjugate-gradient iterations for H^-1 g and H^-1 b."""
    cg_damping: float = 0.1
    """Damping added to the Fisher-vector product (H + damping I)."""
    backtrack_iters: int = 15
    """Line-search trials (step fractions 1, coeff, coeff^2, ...)."""
    backtrack_coeff: float = 0.8
    """Line-search shrink factor."""
    fvp_subsample: int = 1
    """Use every n-th rollout step for Fisher-vector products (1 = all)."""
    gamma: float = 0.99
    """Discount of the reward critic."""
    gae_lambda: float = 0.95
    """GAE lambda of the reward advantages."""
    cost_gamma: float = 0.99
    """Discount of the cost critic."""
    cost_gae_lambda: float = 0.95
    """GAE lambda of the cost advantages."""
    critic_lr: float = 1e-3
    """Adam step size of both critics."""
    critic_epochs: int = 10
    """Passes over each rollout when fitting the critics."""
    critic_minibatch_size: int = 128
    """Transitions per critic gradient step."""
    critic_l2: float = 0.001
    """L2 penalty on the critics' weights (OmniSafe's critic_norm_coef)."""
    max_grad_norm: float = 40.0
    """Global gradient-norm clip of the critics (0 = none)."""
    normalize_observations: bool = False
    """Normalise observations by a running mean/std (saved with the weights)."""
    scale_rewards: bool = True
    """Divide rewards by the running std of the discounted return."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the actor and of each critic."""
    log_std_init: float = 0.0
    """Initial log-std of the Gaussian policy (Box actions)."""


def conjugate_gradient(
    matvec: Any, b: torch.Tensor, iters: int, tol: float = 1e-10
) -> torch.Tensor:
    """Approximately solve M x = b for a symmetric positive-definite M given as `matvec`."""
    x = torch.zeros_like(b)
    residual = b.clone()
    direction = b.clone()
    rr = residual.dot(residual)
    for _ in range(iters):
        if rr <= tol:
            break
        md = matvec(direction)
        alpha = rr / (direction.dot(md) + EPS)
        x += alpha * direction
        residual -= alpha * md
        rr_new = residual.dot(residual)
        direction = residual + (rr_new / rr) * direction
        rr = rr_new
    return x


def flat_grad(output: torch.Tensor, params: list[torch.Tensor], **kwargs: Any) -> torch.Tensor:
    """The gradient of a scalar w.r.t. `params`, as one flat vector."""
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(output, params, **kwargs)])


def set_flat(params: list[torch.Tensor], flat: torch.Tensor) -> None:
    """Copy a flat vector into the parameters in place (their storage stays their own, so the
    arithmetic and a reloaded copy agree bit for bit)."""
    offset = 0
    with torch.no_grad():
        for p in params:
            p.copy_(flat[offset : offset + p.numel()].view_as(p))
            offset += p.numel()


def solve_cpo_dual(
    q: float, r: float, s: float, c: float, delta: float, b_tiny: bool = False
) -> tuple[int, float, float]:
    """(case, lam, nu) of max g.x s.t. c + b.x <= 0, x.H.x / 2 <= delta (module docstring).

    The step is H^-1 (g - nu b) / lam in cases 1-4, and -sqrt(2 delta / s) H^-1 b in case 0.
    """
    if b_tiny and c < 0:
        return 4, math.sqrt(q / (2 * delta)), 0.0
    a_term = q - r * r / (s + EPS)
    b_term = 2 * delta - c * c / (s + EPS)
    if c < 0 and b_term < 0:
        return 3, math.sqrt(q / (2 * delta)), 0.0
    if c >= 0 and b_term < 0:
        return 0, 0.0, math.sqrt(2 * delta / (s + EPS))
    case = 2 if c < 0 else 1
    c = c if abs(c) > EPS else EPS
    # nu(lam) = max(0, lam c + r) / s is positive (branch a) for lam on one side of -r / c
    switch = -r / c
    if c < 0:
        range_a, range_b = (0.0, switch), (switch, math.inf)
    else:
        range_a, range_b = (switch, math.inf), (0.0, switch)

    def project(value: float, bounds: tuple[float, float]) -> float:
        low, high = max(0.0, bounds[0]), max(0.0, bounds[1])
        return min(max(value, low), high)

    lam_a = project(math.sqrt(max(a_term, 0.0) / (b_term + EPS)), range_a)
    lam_b = project(math.sqrt(q / (2 * delta)), range_b)
    # the dual objective (to maximise) on each branch
    f_a = -0.5 * (a_term / (lam_a + EPS) + b_term * lam_a) + r * c / (s + EPS)
    f_b = -0.5 * (q / (lam_b + EPS) + 2 * delta * lam_b)
    lam = lam_a if f_a >= f_b else lam_b
    nu = max(0.0, lam * c + r) / (s + EPS)
    return case, lam, nu


def check_action_space(action_space: spaces.Space, algorithm: str) -> None:
    """A clear error for spaces the shared actor cannot handle (before PPO's own check)."""
    ok = isinstance(action_space, spaces.Discrete) or (
        isinstance(action_space, spaces.Box) and len(action_space.shape) == 1
    )
    if not ok:
        raise ValueError(
            f"{algorithm} needs a Discrete or 1-D Box action space, got {action_space}"
        )


class CPO(ActsWithPPO):
    """A trust-region policy step that improves reward inside the cost budget (or recovers)."""

    Config = CPOConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: CPOConfig | None = None,
    ):
        self.config = c = config or CPOConfig()
        check_action_space(action_space, "CPO")
        if c.target_kl <= 0 or not 0 < c.backtrack_coeff < 1 or c.fvp_subsample < 1:
            raise ValueError("CPO needs target_kl > 0, 0 < backtrack_coeff < 1, fvp_subsample >= 1")
        self.ppo = PPO(
            observation_space,
            action_space,
            PPOConfig(
                learning_rate=c.critic_lr, rollout_steps=c.rollout_steps, gamma=c.gamma,
                gae_lambda=c.gae_lambda, normalize_observations=c.normalize_observations,
                scale_rewards=c.scale_rewards, hidden=c.hidden, log_std_init=c.log_std_init,
            ),
        )  # fmt: skip
        self.actor = self.ppo.actor
        self.critic = self.ppo.critic
        self.cost_critic = mlp(obs_dim(observation_space), 1, c.hidden, out_gain=1.0)
        self.critic_optimizer = adam(self.critic.parameters(), c.critic_lr)
        self.cost_optimizer = adam(self.cost_critic.parameters(), c.critic_lr)
        self.observation_space = observation_space
        self.updates = 0
        self.measured_cost = math.nan  # last measured mean episode cost J_C
        self.measured_length = math.nan  # and mean episode length T
        self.episodes = EpisodeCosts()
        self._continuity = EpisodeContinuity()

    # -- learning -----------------------------------------------------------------------------

    def observe(self, transition: dict[str, Any]) -> None:
        """One transition of one env (turn-based games, self-play)."""
        if self._abandoned(transition):
            self.episodes.abandon()  # the last episode was abandoned
        ended = transition["terminated"] or transition["truncated"]
        self.episodes.add(np.array([transition.get("cost", 0.0)]), np.array([ended]))
        self.ppo.observe(transition)

    def observe_batch(self, batch: Any) -> None:
        """One step of every env copy."""
        self.episodes.add(batch.cost, np.asarray(batch.terminated) | np.asarray(batch.truncated))
        self.ppo.observe_batch(batch)

    def _measure_episodes(self) -> tuple[float, float]:
        """(J_C, T) from the episodes that finished in this rollout; else the last measured;
        before any episode finished, the running one (its cost so far bounds J_C below)."""
        finished = self.episodes.take()
        if finished:
            self.measured_cost = float(np.mean([cost for cost, _ in finished]))
            self.measured_length = float(np.mean([length for _, length in finished]))
        if math.isnan(self.measured_cost):
            running = self.episodes
            cost = float(running.cost.mean()) if running.cost.size else 0.0
            length = float(running.length.mean()) if running.length.size else 1.0
            return cost, max(length, 1.0)
        return self.measured_cost, self.measured_length

    def update(self) -> dict[str, float]:
        batch = self.ppo.take_rollout()
        if batch is None:
            return {}
        c = self.config
        episode_cost, episode_length = self._measure_episodes()
        reward_adv, reward_returns = self.ppo.advantages(batch)
        with torch.no_grad():
            cost_values = self.cost_critic(batch["obs"]).squeeze(-1)
            next_cost_values = self.cost_critic(batch["next_obs"]).squeeze(-1)
        cost_adv, cost_returns = gae(
            batch["cost"], cost_values, next_cost_values, batch["terminated"], batch["end"],
            c.cost_gamma, c.cost_gae_lambda,
        )  # fmt: skip
        reward_adv = standardize(reward_adv)
        cost_adv = cost_adv - cost_adv.mean()
        gap = (episode_cost - c.cost_limit) / (episode_length + EPS)
        metrics = self._policy_step(batch, reward_adv, cost_adv, gap)
        metrics.update(
            value_loss=self._fit(self.critic, self.critic_optimizer, batch, reward_returns),
            cost_value_loss=self._fit(self.cost_critic, self.cost_optimizer, batch, cost_returns),
            cost_value_mean=float(cost_values.mean()),
            episode_cost=episode_cost,
            constraint_gap=episode_cost - c.cost_limit,
            rollout_cost=float(batch["cost"].sum()),
        )
        self.updates += 1
        metrics["updates"] = float(self.updates)
        return metrics

    # -- the CPO step -------------------------------------------------------------------------

    def _log_probs_and_kl_terms(
        self, obs: torch.Tensor, masks: torch.Tensor | None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The policy's parameters in a form whose KL stays finite under masks: normalised
        log-probabilities (illegal actions at -1e9, not -inf) or the Gaussian (mean, log-std)."""
        out = self.actor.net(obs)
        if self.actor.discrete:
            if masks is not None:
                out = out.masked_fill(~masks, -1e9)
            return torch.log_softmax(out, dim=-1)
        return out, self.actor.log_std.expand_as(out)

    def _mean_kl(self, old: Any, obs: torch.Tensor, masks: torch.Tensor | None) -> torch.Tensor:
        """Mean KL(pi_old || pi_theta) over the batch (analytic, differentiable in theta)."""
        new = self._log_probs_and_kl_terms(obs, masks)
        if self.actor.discrete:
            return (old.exp() * (old - new)).sum(-1).mean()
        (mu_old, log_std_old), (mu, log_std) = old, new
        kl = (
            log_std - log_std_old
            + ((2 * log_std_old).exp() + (mu_old - mu) ** 2) / (2 * (2 * log_std).exp())
            - 0.5
        )  # fmt: skip
        return kl.sum(-1).mean()

    def _policy_step(
        self,
        batch: dict[str, torch.Tensor],
        reward_adv: torch.Tensor,
        cost_adv: torch.Tensor,
        gap: float,
    ) -> dict[str, float]:
        c = self.config
        obs, actions, masks = batch["obs"], batch["action"], batch.get("action_mask")
        params = list(self.actor.parameters())
        with torch.no_grad():
            old_log_prob = self.actor.distribution(obs, masks).log_prob(actions)
            old_terms = self._log_probs_and_kl_terms(obs, masks)

        def surrogates() -> tuple[torch.Tensor, torch.Tensor]:
            log_prob = self.actor.distribution(obs, masks).log_prob(actions)
            ratio = (log_prob - old_log_prob).exp()
            return (ratio * reward_adv).mean(), (ratio * cost_adv).mean()

        reward_surr, cost_surr = surrogates()
        g = flat_grad(reward_surr, params, retain_graph=True)
        b = flat_grad(cost_surr, params)

        sub = slice(None, None, c.fvp_subsample)
        fvp_old = old_terms[sub] if self.actor.discrete else tuple(t[sub] for t in old_terms)
        kl = self._mean_kl(fvp_old, obs[sub], None if masks is None else masks[sub])
        kl_grad = flat_grad(kl, params, create_graph=True)

        def fisher_vector(v: torch.Tensor) -> torch.Tensor:
            """(H + damping I) v, H the Hessian of the mean KL at theta_old."""
            return flat_grad(kl_grad @ v, params, retain_graph=True).detach() + c.cg_damping * v

        v = conjugate_gradient(fisher_vector, g, c.cg_iters)  # H^-1 g
        hv = fisher_vector(v)
        q = float(v @ hv)
        w = conjugate_gradient(fisher_vector, b, c.cg_iters)  # H^-1 b
        r, s = float(w @ hv), float(w @ fisher_vector(w))
        case, lam, nu = solve_cpo_dual(q, r, s, gap, c.target_kl, float(b @ b) <= 1e-8)
        if case == 0:
            step = -nu * w
        else:
            step = (v - nu * w) / (lam + EPS)

        old_theta = torch.cat([p.detach().reshape(-1) for p in params])
        reward_before, cost_before = float(reward_surr.detach()), float(cost_surr.detach())
        accepted, frac, kl_new, reward_gain, cost_change = -1, 0.0, 0.0, 0.0, 0.0
        for j in range(c.backtrack_iters):
            frac = c.backtrack_coeff**j
            set_flat(params, old_theta + frac * step)
            with torch.no_grad():
                kl_new = float(self._mean_kl(old_terms, obs, masks))
                reward_new, cost_new = (float(t) for t in surrogates())
            reward_gain, cost_change = reward_new - reward_before, cost_new - cost_before
            if (
                math.isfinite(kl_new) and math.isfinite(reward_new) and math.isfinite(cost_new)
                and kl_new <= c.target_kl
                and (case <= 1 or reward_gain >= 0)
                and cost_change <= max(-gap, 0.0)
            ):  # fmt: skip
                accepted = j
                break
        if accepted < 0:
            set_flat(params, old_theta)
            frac, kl_new, reward_gain, cost_change = 0.0, 0.0, 0.0, 0.0
        return {
            "optim_case": float(case),
            "lambda_star": lam,
            "nu_star": nu,
            "q": q,
            "r": r,
            "s": s,
            "cost_rate_gap": gap,
            "backtracks": float(accepted),
            "step_fraction": frac,
            "kl": kl_new,
            "surrogate_reward_gain": reward_gain,
            "surrogate_cost_change": cost_change,
        }

    def _fit(
        self,
        critic: nn.Module,
        optimizer: torch.optim.Optimizer,
        batch: dict[str, torch.Tensor],
        returns: torch.Tensor,
    ) -> float:
        """MSE regression of `critic` on `returns` (+ L2 on its weights); the mean loss."""
        c = self.config
        losses = []
        for _ in range(c.critic_epochs):
            for idx in torch.randperm(len(returns)).split(c.critic_minibatch_size):
                loss = ((critic(batch["obs"][idx]).squeeze(-1) - returns[idx]) ** 2).mean()
                if c.critic_l2 > 0:
                    loss = loss + c.critic_l2 * sum((p**2).sum() for p in critic.parameters())
                optimizer.zero_grad()
                loss.backward()
                if c.max_grad_norm > 0:
                    nn.utils.clip_grad_norm_(critic.parameters(), c.max_grad_norm)
                optimizer.step()
                losses.append(float(loss.detach()))
        return float(np.mean(losses))

    # -- checkpoints --------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "ppo": self.ppo.state_dict(),
            "cost_critic": self.cost_critic.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "cost_optimizer": self.cost_optimizer.state_dict(),
            "updates": self.updates,
            "measured_cost": self.measured_cost,
            "measured_length": self.measured_length,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ppo.load_state_dict(state["ppo"])
        self.cost_critic.load_state_dict(state["cost_critic"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.cost_optimizer.load_state_dict(state["cost_optimizer"])
        self.updates = int(state["updates"])
        self.measured_cost = float(state["measured_cost"])
        self.measured_length = float(state["measured_length"])
        self.episodes = EpisodeCosts()
        self._continuity.clear()
