"""Hierarchical agents beyond the tabular ones: `id -> AgentSpec`, imports no agent
(merged into `AGENTS`, testbed/registry/catalog_agents.py)."""

from __future__ import annotations

from testbed.registry.specs import AgentSpec

HIERARCHY_AGENTS: dict[str, AgentSpec] = {
    "option_critic_deep": AgentSpec(
        "testbed.agents.hierarchical.option_critic_deep:OptionCriticDeep",
        "hierarchical",
        "Neural option-critic (Bacon et al. 2017), trained like A2OC (Harb et al. 2018): shared "
        "torso, Q_Omega, sigmoid termination and softmax intra-option heads, n-step rollouts "
        "over env copies, termination regularizer xi; Discrete actions.",
        try_env="gym/CartPole-v1",
        try_params={"hidden": [32], "rollout_steps": 8, "epsilon_decay_steps": 200},
    ),
}
