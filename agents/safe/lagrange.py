"""A Lagrange multiplier for a constrained MDP: max_pi J_R(pi) s.t. J_C(pi) <= d.

The Lagrangian relaxation (Altman 1999, "Constrained Markov Decision Processes"; used for
deep RL by Ray, Achiam, Amodei 2019, "Benchmarking Safe Exploration in Deep Reinforcement
Learning", PPO-Lagrangian in safety-starter-agents) solves
min_{lambda >= 0} max_pi J_R(pi) - lambda (J_C(pi) - d). The multiplier follows projected
gradient ascent on the constraint violation, once per policy iteration:

    lambda <- max(0, lambda + lr * (J_C - d))                        (mode "gradient")

where J_C is the mean episode cost measured in the last rollout and d = `cost_limit`.

Gradient ascent is an integral controller and overshoots (cost oscillates around d).
Stooke, Achiam, Abbeel (2020), "Responsive Safety in Reinforcement Learning by PID Lagrangian
Methods" (ICML), Algorithm 2, add proportional and derivative terms:

    delta  = J_C - d
    I      <- max(0, I + delta)
    D      = max(0, J_C - J_C_prev)
    lambda = max(0, kp * delta + ki * I + kd * D)                   (mode "pid")

With kp = kd = 0 and ki = lr, "pid" is the gradient rule (started from I = init / ki).

Mode "adam" is OmniSafe's multiplier (Ji et al. 2023, `omnisafe/common/lagrange.py`: lambda
is a parameter that Adam, lr `lambda_lr` = 0.035 in its PPOLag configs, moves to minimise
-lambda (J_C - d), then clamped at 0). Adam scales each step to about `lr` whatever the cost's
units, so the gradient rule's tuning per task (its step is lr * (J_C - d)) is not needed:

    m <- b1 m + (1 - b1) delta;  v <- b2 v + (1 - b2) delta^2        (mode "adam")
    lambda <- max(0, lambda + lr * m_hat / (sqrt(v_hat) + eps))
`state_dict` holds plain numbers, so it loads under `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MODES = ("gradient", "pid", "adam")
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


@dataclass(frozen=True)
class LagrangeConfig:
    """The constraint, its multiplier and the cost critic's discounting: the fields every
    Lagrangian learner's Config shares (it subclasses this next to its algorithm's Config)."""

    cost_limit: float = 1.0
    """Cost budget d per episode (what it bounds, a mean or a CVaR, of an agent or the team,
    is said by the learner's Config)."""
    lagrange_mode: str = "gradient"
    """"gradient" (projected ascent), "pid" (Stooke et al. 2020) or "adam" (OmniSafe)."""
    lagrange_lr: float = 0.05
    """Step size of lambda (modes "gradient" and "adam")."""
    lagrange_init: float = 0.0
    """Starting lambda."""
    pid_kp: float = 0.0
    """PID proportional gain (mode "pid")."""
    pid_ki: float = 0.0
    """PID integral gain (mode "pid")."""
    pid_kd: float = 0.0
    """PID derivative gain (mode "pid")."""
    lagrange_max: float = 100.0
    """Upper bound on lambda."""
    cost_gamma: float = 0.99
    """Discount of the cost critic."""
    cost_gae_lambda: float = 0.95
    """GAE lambda of the cost advantages."""


class Lagrange:
    """lambda >= 0 for one cost constraint, updated from measured episode costs."""

    def __init__(
        self,
        cost_limit: float,
        lr: float = 0.05,
        init: float = 0.0,
        mode: str = "gradient",
        kp: float = 0.0,
        ki: float = 0.0,
        kd: float = 0.0,
        max_value: float = math.inf,
    ):
        if mode not in MODES:
            raise ValueError(f"Lagrange mode must be one of {MODES}, got {mode!r}")
        if lr < 0 or init < 0 or min(kp, ki, kd) < 0 or max_value <= 0:
            raise ValueError("Lagrange needs lr, init, kp, ki, kd >= 0 and max_value > 0")
        self.cost_limit, self.lr, self.mode = float(cost_limit), float(lr), mode
        self.kp, self.ki, self.kd, self.max_value = float(kp), float(ki), float(kd), max_value
        self.value = min(float(init), max_value)
        self.integral = self.value / self.ki if mode == "pid" and self.ki > 0 else 0.0
        self.previous_cost: float | None = None
        self.updates = 0
        self.moments = [0.0, 0.0]  # Adam's first and second moments (mode "adam")

    @classmethod
    def from_config(cls, config: LagrangeConfig) -> Lagrange:
        """The multiplier a safe learner's Config describes."""
        c = config
        return cls(
            c.cost_limit, c.lagrange_lr, c.lagrange_init, c.lagrange_mode,
            c.pid_kp, c.pid_ki, c.pid_kd, c.lagrange_max,
        )  # fmt: skip

    def update(self, mean_cost: float) -> float:
        """One step from the mean episode cost J_C of the last rollout; returns the new lambda."""
        delta = float(mean_cost) - self.cost_limit
        if self.mode == "gradient":
            value = self.value + self.lr * delta
        elif self.mode == "adam":
            (b1, b2), t = ADAM_BETAS, self.updates + 1
            self.moments[0] = b1 * self.moments[0] + (1 - b1) * delta
            self.moments[1] = b2 * self.moments[1] + (1 - b2) * delta * delta
            m_hat, v_hat = self.moments[0] / (1 - b1**t), self.moments[1] / (1 - b2**t)
            value = self.value + self.lr * m_hat / (math.sqrt(v_hat) + ADAM_EPS)
        else:
            self.integral = max(0.0, self.integral + delta)
            rise = 0.0 if self.previous_cost is None else max(0.0, mean_cost - self.previous_cost)
            value = self.kp * delta + self.ki * self.integral + self.kd * rise
        self.value = min(max(0.0, value), self.max_value)  # the projection onto [0, max]
        self.previous_cost = float(mean_cost)
        self.updates += 1
        return self.value

    def state_dict(self) -> dict[str, float | int]:
        return {
            "value": self.value,
            "integral": self.integral,
            "previous_cost": math.nan if self.previous_cost is None else self.previous_cost,
            "updates": self.updates,
            "moment_1": self.moments[0],
            "moment_2": self.moments[1],
        }

    def load_state_dict(self, state: dict[str, float | int]) -> None:
        self.value = float(state["value"])
        self.integral = float(state["integral"])
        previous = float(state["previous_cost"])
        self.previous_cost = None if math.isnan(previous) else previous
        self.updates = int(state["updates"])
        self.moments = [float(state.get("moment_1", 0.0)), float(state.get("moment_2", 0.0))]
