"""Built-in agents: a flat, explicit `id -> AgentSpec` dict; importing it imports no agent."""

from __future__ import annotations

from testbed.registry.specs import AgentSpec

# Small settings for a short run (`try_params`): tiny networks and batches, so that a few hundred
# env steps reach several updates.
_TRY_DQN = {
    "hidden": [32],
    "buffer_size": 1000,
    "batch_size": 32,
    "learning_starts": 100,
    "train_freq": 4,
    "target_update_interval": 100,
    "epsilon_decay_steps": 300,
}
_TRY_PPO = {"hidden": [32], "rollout_steps": 64, "minibatch_size": 32, "epochs": 2}
_TRY_OFF_POLICY = {
    "hidden": [32, 32],
    "buffer_size": 1000,
    "batch_size": 32,
    "learning_starts": 100,
}
_TRY_MAPPO = {"hidden": [32], "rollout_steps": 64, "epochs": 2, "minibatches": 2}
_TRY_OFFLINE = {"hidden": [32, 32], "batch_size": 32}
# the scripted text policy stands in for a language model: no model, no network, no cache
_TRY_LLM = {
    "backend": "scripted",
    "model": "testbed.agents.llm.scripted:four_rooms_advisor",
    "env": "testbed/four_rooms_v0",
    "cache_dir": "",
}
_TRY_COST_MODEL = {"learned": True, "model_hidden": [16], "model_warmup": 100, "model_batch": 32}

AGENTS: dict[str, AgentSpec] = {
    "random": AgentSpec(
        "testbed.agents.baselines.random:RandomPolicy",
        "baseline",
        "Uniform random over any action space; only legal actions when a mask is given.",
        try_env="mpe/simple_spread_v3",
    ),
    "noop": AgentSpec(
        "testbed.agents.baselines.noop:NoopPolicy",
        "baseline",
        "A fixed action (0 / the Box centre by default; the first legal one if masked out), "
        "a lower bound for most tasks.",
        try_env="mpe/simple_spread_v3",
    ),
    "scripted/connect_four": AgentSpec(
        "testbed.agents.scripted.connect_four:ConnectFourHeuristic",
        "scripted",
        "Wins if it can, blocks the opponent's win, else prefers the centre columns among "
        "those that do not hand the opponent a win.",
        envs=("classic/connect_four_v3",),
    ),
    "scripted/tictactoe": AgentSpec(
        "testbed.agents.scripted.tictactoe:TicTacToeHeuristic",
        "scripted",
        "Wins if it can, blocks if it must, then centre, corners, edges.",
        envs=("classic/tictactoe_v3",),
    ),
    "scripted/leduc_rules": AgentSpec(
        "testbed.agents.scripted.leduc:LeducRules",
        "scripted",
        "Leduc hold'em by hand strength: raise pairs and kings, call queens, fold weak hands "
        "to a bet (`bluff`: chance to raise them instead).",
        envs=("classic/leduc_holdem_v4",),
    ),
    "scripted/pursuit_chaser": AgentSpec(
        "testbed.agents.scripted.pursuit:PursuitChaser",
        "scripted",
        "SISL pursuit: steps toward the nearest evader in view, around walls; wanders otherwise.",
        envs=("sisl/pursuit_v4",),
    ),
    "scripted/spread_nearest": AgentSpec(
        "testbed.agents.scripted.mpe:SpreadNearestLandmark",
        "scripted",
        "MPE spread: matches agents to landmarks greedily (closest pair first) and moves to "
        "its own; discrete or continuous actions.",
        envs=("mpe/simple_spread_v3",),
    ),
    "scripted/tag_chaser": AgentSpec(
        "testbed.agents.scripted.mpe:TagChaser",
        "scripted",
        "MPE tag predator: runs at the nearest prey, aiming slightly ahead of it.",
        envs=("mpe/simple_tag_v3",),
    ),
    "scripted/tag_fleer": AgentSpec(
        "testbed.agents.scripted.mpe:TagFleer",
        "scripted",
        "MPE tag prey: moves away from the nearest predators, pulled back toward the centre.",
        envs=("mpe/simple_tag_v3",),
    ),
    # >>> custom agents: cooperative + constrained
    "scripted/forager": AgentSpec(
        "testbed.agents.scripted.foraging:Forager",
        "scripted",
        "Foraging: heads for the item it and its partners reach soonest, then loads and waits.",
        envs=("testbed/foraging_v0",),
    ),
    "scripted/safe_navigator": AgentSpec(
        "testbed.agents.scripted.safe_navigation:SafeNavigator",
        "scripted",
        "Plans around hazards (safety_margin), yields to robots, stays under the speed limit.",
        envs=("testbed/safe_navigation_v0",),
    ),
    "scripted/unsafe_navigator": AgentSpec(
        "testbed.agents.scripted.safe_navigation:UnsafeNavigator",
        "scripted",
        "Known-unsafe: drives straight at its goal through hazards and other robots.",
        envs=("testbed/safe_navigation_v0",),
    ),
    # <<< custom agents: cooperative + constrained
    # >>> custom agents: competitive + mixed
    "scripted/breakthrough_search": AgentSpec(
        "testbed.agents.scripted.breakthrough_search:BreakthroughNegamax",
        "scripted",
        "Negamax with alpha-beta to `depth` plies (0 = random legal move); deeper is stronger.",
        envs=("testbed/breakthrough_v0",),
        try_params={"depth": 1},
    ),
    "scripted/commons_sustainable": AgentSpec(
        "testbed.agents.scripted.commons:SustainableHarvester",
        "scripted",
        "Always plays its share of the maximum-sustainable-yield effort.",
        envs=("testbed/commons_harvest_v0",),
    ),
    "scripted/commons_greedy": AgentSpec(
        "testbed.agents.scripted.commons:GreedyHarvester",
        "scripted",
        "Always harvests with the highest effort level.",
        envs=("testbed/commons_harvest_v0",),
    ),
    "scripted/commons_tit_for_tat": AgentSpec(
        "testbed.agents.scripted.commons:ConditionalCooperator",
        "scripted",
        "Sustainable while the others were on average, greedy for a step after they were not.",
        envs=("testbed/commons_harvest_v0",),
    ),
    "scripted/rps_reactive": AgentSpec(
        "testbed.agents.scripted.rps:ReactiveRPS",
        "scripted",
        "Repeated RPS: an opening move, then a fixed reply to the opponent's last move "
        "(always rock, mirror, beat-last, ...), random with chance epsilon.",
        envs=("classic/rps_v2",),
        try_params={"replies": [1, 2, 0], "epsilon": 0.1},
    ),
    # <<< custom agents: competitive + mixed
    # >>> causal
    "causal_q": AgentSpec(
        "testbed.agents.causal.causal_q:CausalQ",
        "causal",
        "Tabular Q-learning on the reward's causal parents, found by PC (causal-learn) on "
        "the agent's own interventions; discover: false conditions on every feature.",
        envs=("testbed/confounded_v0",),
        try_params={"discovery_steps": 150},
    ),
    # <<< causal
    # >>> value-based
    "q_learning": AgentSpec(
        "testbed.agents.value.q_learning:QLearning",
        "value-based",
        "Tabular Q-learning (Watkins 1989), epsilon-greedy with linear decay; Discrete "
        "observations and actions.",
        try_env="gym/FrozenLake-v1",
        try_params={"epsilon_decay_steps": 300, "initial_value": 1.0},
    ),
    "llm": AgentSpec(
        "testbed.agents.llm.agent:LanguageModelAgent",
        "language-model",
        "Acts on a language model's answers (OpenAI-compatible endpoint, local transformers "
        "model, or scripted text): prompt from the env's docs and the observation as text; "
        "cached, rate-limited, counted fallback.",
        try_env="testbed/four_rooms_v0",
        try_params=_TRY_LLM,
    ),
    "llm_advised": AgentSpec(
        "testbed.agents.llm.advised:LanguageModelAdvised",
        "language-model",
        "An off-policy learner (q_learning, dqn, ...) whose exploration follows a language "
        "model's advice with a decaying probability; evaluation is the learner's own.",
        try_env="testbed/four_rooms_v0",
        try_params={**_TRY_LLM, "learner_params": {"epsilon_decay_steps": 300}},
    ),
    "dqn": AgentSpec(
        "testbed.agents.value.dqn:DQN",
        "value-based",
        "DQN (Mnih et al. 2015) with replay and a target network; options: double, dueling, "
        "n-step returns, Polyak targets, Huber/MSE loss, action masks.",
        try_env="gym/CartPole-v1",
        try_params=_TRY_DQN,
    ),
    "c51": AgentSpec(
        "testbed.agents.value.c51:C51",
        "value-based",
        "C51 categorical distributional DQN (Bellemare et al. 2017): a return distribution "
        "on fixed atoms, trained by projected cross-entropy.",
        try_env="gym/CartPole-v1",
        try_params={**_TRY_DQN, "n_atoms": 21},
    ),
    # <<< value-based
    # >>> policy-gradient
    "reinforce": AgentSpec(
        "testbed.agents.policy_gradient.reinforce:Reinforce",
        "policy-gradient",
        "REINFORCE (Williams 1992): Monte-Carlo reward-to-go policy gradient with an optional "
        "learned baseline; Discrete (masks) or Box actions.",
        try_env="gym/CartPole-v1",
        try_params={"hidden": [32]},
    ),
    "a2c": AgentSpec(
        "testbed.agents.policy_gradient.a2c:A2C",
        "policy-gradient",
        "A2C (Mnih et al. 2016, synchronous): n-step actor-critic with GAE option, entropy "
        "bonus, RMSprop/Adam; Discrete (masks) or Box actions.",
        try_env="gym/CartPole-v1",
        try_params={"hidden": [32], "rollout_steps": 16},
    ),
    "ppo": AgentSpec(
        "testbed.agents.policy_gradient.ppo:PPO",
        "policy-gradient",
        "PPO (Schulman et al. 2017): clipped surrogate, GAE, minibatch epochs; Discrete "
        "(masks) or Box (Gaussian) actions; obs/reward normalisation options.",
        try_env="gym/CartPole-v1",
        try_params=_TRY_PPO,
    ),
    # <<< policy-gradient
    # >>> continuous-control
    "ddpg": AgentSpec(
        "testbed.agents.continuous.ddpg:DDPG",
        "continuous-control",
        "DDPG (Lillicrap et al. 2016): deterministic actor, Q critic, target nets, Gaussian/OU "
        "noise; 1-D Box actions.",
        try_env="gym/Pendulum-v1",
        try_params=_TRY_OFF_POLICY,
    ),
    "td3": AgentSpec(
        "testbed.agents.continuous.td3:TD3",
        "continuous-control",
        "TD3 (Fujimoto et al. 2018): twin critics, clipped double-Q, target smoothing, delayed "
        "actor; 1-D Box actions.",
        try_env="gym/Pendulum-v1",
        try_params=_TRY_OFF_POLICY,
    ),
    "sac": AgentSpec(
        "testbed.agents.continuous.sac:SAC",
        "continuous-control",
        "SAC (Haarnoja et al. 2018) with automatic entropy tuning; tanh-Gaussian actor, twin "
        "critics; act() is the mean action; 1-D Box actions.",
        try_env="gym/Pendulum-v1",
        try_params=_TRY_OFF_POLICY,
    ),
    # <<< continuous-control
    # >>> safe-rl
    "ppo_lagrangian": AgentSpec(
        "testbed.agents.safe.ppo_lagrangian:PPOLagrangian",
        "safe-rl",
        "PPO-Lagrangian (Ray et al. 2019): PPO on (A_R - lambda A_C) / (1 + lambda) with a cost "
        "critic; lambda by projected ascent or PID (Stooke et al. 2020) toward cost_limit.",
        try_env="testbed/safe_navigation_v0",
        try_params=_TRY_PPO,
    ),
    "shield": AgentSpec(
        "testbed.agents.safe.shield:Shield",
        "safe-rl",
        "Wraps any registered policy: replaces an action a safety predicate (or a learned "
        "one-step cost model) rejects by the closest safe one; counts interventions.",
        try_env="testbed/safe_navigation_v0",
        try_params={"policy": "ppo", "policy_params": _TRY_PPO, **_TRY_COST_MODEL},
    ),
    "joint_shield": AgentSpec(
        "testbed.agents.safe.joint_shield:JointShield",
        "safe-rl",
        "The shield around a joint learner (mappo, mappo_lagrangian): each agent's action of "
        "the group is checked by that agent's filter; interventions are counted per agent.",
        try_env="testbed/safe_navigation_v0",
        try_params={"policy": "mappo_lagrangian", "policy_params": _TRY_MAPPO, **_TRY_COST_MODEL},
    ),
    # <<< safe-rl
    # >>> marl: iql + mean field
    "iql": AgentSpec(
        "testbed.agents.marl.iql:IQL",
        "multi-agent",
        "Independent learners (Tan 1993): any single-agent learner per agent, or one shared "
        "on padded spaces with an agent indicator (share_parameters); joint group learner.",
        try_env="mpe/simple_spread_v3",
        try_params={"learner": "dqn", "learner_params": _TRY_DQN},
    ),
    "mfq": AgentSpec(
        "testbed.agents.marl.mean_field_q:MeanFieldQ",
        "multi-agent",
        "Mean-Field Q-learning (Yang et al. 2018): shared Q(o, a, mean action of the others), "
        "Boltzmann exploration, mean-field value target; Discrete actions; joint group learner.",
        try_env="mpe/simple_spread_v3",
        try_params={"hidden": [32], "buffer_size": 2000, "batch_size": 32, "learning_starts": 100},
    ),
    # <<< marl: iql + mean field
    # >>> marl: maddpg
    "maddpg": AgentSpec(
        "testbed.agents.marl.maddpg:MADDPG",
        "multi-agent",
        "MADDPG (Lowe et al. 2017), joint: decentralized actors, one centralized critic per "
        "agent, joint replay; Gumbel-softmax (Discrete, masks) or tanh + noise (Box) actions.",
        try_env="mpe/simple_spread_v3",
        try_params={
            "hidden": [32],
            "buffer_size": 2000,
            "batch_size": 32,
            "learning_starts": 100,
            "train_freq": 10,
        },
    ),
    # <<< marl: maddpg
    # >>> marl: mappo
    "mappo": AgentSpec(
        "testbed.agents.marl.mappo:MAPPO",
        "multi-agent",
        "MAPPO (Yu et al. 2022), joint: shared actor with agent indicator (or one per agent), "
        "centralized critic (or own obs = IPPO), per-agent GAE, value normalization; Discrete "
        "(masks, padded) or Box actions.",
        try_env="mpe/simple_spread_v3",
        try_params=_TRY_MAPPO,
    ),
    "mappo_lagrangian": AgentSpec(
        "testbed.agents.safe.mappo_lagrangian:MAPPOLagrangian",
        "safe-rl",
        "MAPPO-Lagrangian (Gu et al. 2023), joint: MAPPO plus a centralized cost critic and "
        "Lagrange multipliers on the team's episode cost or on each agent's (constraint).",
        try_env="testbed/safe_navigation_v0",
        try_params=_TRY_MAPPO,
    ),
    # <<< marl: mappo
    # >>> safe-rl: cpo + cvar
    "cpo": AgentSpec(
        "testbed.agents.safe.cpo:CPO",
        "safe-rl",
        "CPO (Achiam et al. 2017): trust-region step on the linearised reward and cost "
        "constraint (conjugate gradient, closed-form dual, feasibility recovery, line search); "
        "Discrete (masks) or Box actions.",
        try_env="testbed/safe_navigation_v0",
        try_params={
            "hidden": [32],
            "rollout_steps": 64,
            "critic_minibatch_size": 32,
            "critic_epochs": 2,
        },
    ),
    "cvar_ppo": AgentSpec(
        "testbed.agents.safe.cvar:CVaRPPO",
        "safe-rl",
        "CVaR-constrained PPO (Chow et al. 2017; Ying et al. 2022): a Lagrange multiplier "
        "keeps the CVaR of the episode cost (Rockafellar-Uryasev form) under cost_limit.",
        try_env="testbed/safe_navigation_v0",
        try_params={**_TRY_PPO, "risk_window": 10},
    ),
    # <<< safe-rl: cpo + cvar
    # >>> imitation + offline
    "bc": AgentSpec(
        "testbed.agents.imitation.bc:BC",
        "imitation",
        "Behaviour cloning (Pomerleau 1991) from a dataset: cross-entropy (Discrete) or MSE "
        "in the unit box (Box); each seat of a team clones its own agent's data.",
        try_env="mpe/simple_spread_v3",
        try_params={"hidden": [32], "batch_size": 32},
    ),
    "dagger": AgentSpec(
        "testbed.agents.imitation.dagger:DAgger",
        "imitation",
        "DAgger (Ross et al. 2011): an expert (agent id or checkpoint) labels the states the "
        "learner visits; rounds with beta-mixed control; a BC learner on the aggregate.",
        try_env="gym/CartPole-v1",
        try_params={
            "expert": "noop",
            "round_steps": 100,
            "gradient_steps": 20,
            "hidden": [32],
            "batch_size": 32,
        },
    ),
    "gail": AgentSpec(
        "testbed.agents.imitation.gail:GAIL",
        "imitation",
        "GAIL (Ho & Ermon 2016): a discriminator of expert (the stage's dataset:) vs policy "
        "state-actions gives PPO its reward; vectorized like PPO; Discrete or Box actions.",
        try_env="gym/CartPole-v1",
        try_params={**_TRY_PPO, "disc_hidden": [16], "disc_minibatch_size": 32},
    ),
    "cql": AgentSpec(
        "testbed.agents.offline.cql:CQL",
        "offline",
        "CQL(H) (Kumar et al. 2020) from a dataset: a conservative penalty (log-sum-exp of Q "
        "minus Q of the data's action); DQN form for Discrete, SAC form for Box actions.",
        try_env="gym/CartPole-v1",
        try_params=_TRY_OFFLINE,
    ),
    "implicit_q": AgentSpec(
        "testbed.agents.offline.implicit_q:ImplicitQ",
        "offline",
        "IQL (Kostrikov et al. 2021) from a dataset: expectile V, twin Q backed up through V, "
        "advantage-weighted policy; Discrete or Box actions (`iql` is independent Q-learning).",
        try_env="gym/Pendulum-v1",
        try_params=_TRY_OFFLINE,
    ),
    "td3_bc": AgentSpec(
        "testbed.agents.offline.td3_bc:TD3BC",
        "offline",
        "TD3+BC (Fujimoto & Gu 2021) from a dataset: TD3 whose actor also regresses to the "
        "data's actions (lambda = alpha / mean |Q|); normalised states; Box actions.",
        try_env="gym/Pendulum-v1",
        try_params=_TRY_OFFLINE,
    ),
    # <<< imitation + offline
    # >>> hierarchical + model-based
    "option_critic": AgentSpec(
        "testbed.agents.hierarchical.option_critic:OptionCritic",
        "hierarchical",
        "Tabular option-critic (Bacon et al. 2017): softmax intra-option policies, sigmoid "
        "terminations and the policy over options learned end to end; Discrete spaces.",
        try_env="testbed/four_rooms_v0",
    ),
    "goal_hierarchy": AgentSpec(
        "testbed.agents.hierarchical.goal_hierarchy:GoalHierarchy",
        "hierarchical",
        "HIRO-style goal hierarchy (Nachum et al. 2018): high-level TD3 sets subgoals every k "
        "steps for a goal-conditioned low-level TD3, off-policy subgoal correction; goal dicts.",
        try_env="robotics/PointMaze",
        try_params={**_TRY_OFF_POLICY, "high_train_freq": 5},
    ),
    "dyna_q": AgentSpec(
        "testbed.agents.model_based.dyna_q:DynaQ",
        "model-based",
        "Tabular Dyna-Q (Sutton 1990): Q-learning plus planning backups from a learned "
        "last-outcome table model (checkpointed); Discrete spaces.",
        try_env="testbed/four_rooms_v0",
        try_params={"planning_steps": 5},
    ),
    "pets": AgentSpec(
        "testbed.agents.model_based.pets:PETS",
        "model-based",
        "PETS (Chua et al. 2018): probabilistic ensemble dynamics (checkpointed; held-out one- "
        "and multi-step errors) and CEM model-predictive control with trajectory sampling.",
        try_env="testbed/cartpole_continuous_v0",
        try_params={
            "reward_fn": "cartpole",
            "hidden": [16],
            "epochs": 2,
            "random_steps": 100,
            "horizon": 5,
            "population": 20,
            "iterations": 2,
            "particles": 5,
        },
    ),
    "mbpo": AgentSpec(
        "testbed.agents.model_based.mbpo:MBPO",
        "model-based",
        "MBPO (Janner et al. 2019): short branched rollouts of a probabilistic ensemble "
        "(checkpointed; held-out one- and multi-step errors) feed SAC; Box spaces.",
        try_env="gym/Pendulum-v1",
        try_params={
            "hidden_model": [16],
            "members": 2,
            "model_epochs": 1,
            "random_steps": 50,
            "model_train_freq": 50,
            "rollout_batch": 64,
            "updates_per_step": 1,
            "batch_size": 16,
            "hidden": [16],
        },
    ),
    # <<< hierarchical + model-based
    # >>> meta-learning
    "maml": AgentSpec(
        "testbed.agents.meta.maml:MAML",
        "meta",
        "Policy-gradient MAML (Finn et al. 2017) via torch.func; first-order by default "
        "(`first_order: false`: second order). Trains in `kind: meta_train`, adapts in `adapt:`.",
        try_env="testbed/point_nav_v0",
        try_params={"hidden": [16], "episodes": 2, "meta_batch": 2},
    ),
    "reptile": AgentSpec(
        "testbed.agents.meta.reptile:Reptile",
        "meta",
        "Reptile (Nichol et al. 2018): moves the initial weights toward each task's "
        "policy-gradient-adapted ones. Trains in `kind: meta_train`, adapts in `adapt:`.",
        try_env="testbed/point_nav_v0",
        try_params={"hidden": [16], "episodes": 2, "meta_batch": 2},
    ),
    "multitask": AgentSpec(
        "testbed.agents.meta.reptile:Multitask",
        "meta",
        "One policy pretrained by policy gradients on all tasks jointly (Finn et al.'s "
        "pretrained baseline for MAML); adapts in `adapt:` like the meta-learners.",
        try_env="testbed/point_nav_v0",
        try_params={"hidden": [16], "episodes": 2, "meta_batch": 2},
    ),
    # <<< meta-learning
}
