"""Built-in agents: a flat, explicit `id -> AgentSpec` dict; importing it imports no agent."""

from __future__ import annotations

from testbed.catalog_envs import AgentSpec

AGENTS: dict[str, AgentSpec] = {
    "random": AgentSpec(
        "testbed.agents.baselines.random:RandomPolicy",
        "baseline",
        "Uniform random over any action space; only legal actions when a mask is given.",
    ),
    "noop": AgentSpec(
        "testbed.agents.baselines.noop:NoopPolicy",
        "baseline",
        "A fixed action (0 / the Box centre by default; the first legal one if masked out), "
        "a lower bound for most tasks.",
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
    # <<< custom agents: competitive + mixed
    # >>> value-based
    # <<< value-based
    # >>> policy-gradient
    # <<< policy-gradient
    # >>> continuous-control
    # <<< continuous-control
}
