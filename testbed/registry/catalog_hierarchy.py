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
    "goal_hierarchy": AgentSpec(
        "testbed.agents.hierarchical.goal_hierarchy:GoalHierarchy",
        "hierarchical",
        "HIRO-style goal hierarchy (Nachum et al. 2018): high-level TD3 sets subgoals every k "
        "steps for a goal-conditioned low-level TD3, off-policy subgoal correction; goal dicts.",
        try_env="robotics/PointMaze",
        try_params={
            "hidden": [32, 32],
            "buffer_size": 1000,
            "batch_size": 32,
            "learning_starts": 100,
            "high_train_freq": 5,
        },  # fmt: skip
    ),
}
