"""Agent conformance: what testbed relies on in an agent, checked against one env.

`check_agent(target, env)` builds the agent (a registered id, `module:attr` or
`path/file.py:Name`) for every agent of the env (`env` as `check_env` takes it) and plays it:

- build: the class builds on each seat's spaces with its default parameters;
- actions: every action lies in the action space and respects the legal-action mask;
- reset determinism: two copies built under the same torch seed and reset with the same seed
  act the same on the same episodes;
- checkpoint: an agent with `state_dict` survives save + load (same actions after);
- speed: milliseconds per `act` (information, never a failure).
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

import numpy as np
from gymnasium.spaces import Discrete
from pettingzoo import ParallelEnv

from testbed.conformance.env import Finding, build, mask_of


def _agents(target: str, env: Any, seed: int) -> dict[str, Any]:
    """One agent per seat, built after seeding torch (initial weights), as train stages do."""
    import torch

    from testbed.registry import make_agent

    torch.manual_seed(seed)
    return {
        a: make_agent(target, env.observation_space(a), env.action_space(a))
        for a in env.possible_agents
    }


def play(env: Any, agents: dict[str, Any], seed: int, steps: int, check: Any = None) -> list:
    """The actions `agents` take over `steps` agent steps of `env` from `seed` (one episode
    after another); `check(agent, action, space, mask)` sees every action."""
    import torch

    torch.manual_seed(seed)  # agents that sample from torch's global stream
    for agent in agents.values():
        agent.reset(seed)
    actions: list = []
    episode = 0
    while len(actions) < steps:
        if isinstance(env, ParallelEnv):
            observations, infos = env.reset(seed=seed + episode)
            while env.agents and len(actions) < steps:
                step = {}
                for a in env.agents:
                    mask = mask_of(observations[a], infos[a])
                    step[a] = agents[a].act(observations[a], mask)
                    if check is not None:
                        check(a, step[a], env.action_space(a), mask)
                actions.append(step)
                observations, _, _, _, infos = env.step(step)
        else:
            env.reset(seed=seed + episode)
            for a in env.agent_iter():
                if len(actions) >= steps:
                    break
                observation, _, termination, truncation, info = env.last()
                if termination or truncation:
                    env.step(None)
                    continue
                mask = mask_of(observation, info)
                action = agents[a].act(observation, mask)
                if check is not None:
                    check(a, action, env.action_space(a), mask)
                actions.append((a, action))
                env.step(action)
        episode += 1
        if episode > steps:  # episodes of no steps: stop rather than loop
            break
    return actions


def check_agent(target: str, env_target: str, *, seed: int = 3, steps: int = 200):
    """The findings of every check above for agent `target` on env `env_target`."""
    env = build(env_target)
    try:
        return _agent_findings(target, env_target, env, seed, steps)
    finally:
        env.close()


def _agent_findings(target: str, env_target: str, env: Any, seed: int, steps: int):
    from testbed.errors import BadInput

    try:
        agents = _agents(target, env, seed)
    except BadInput:
        raise
    except Exception as exc:  # the agent's own code
        return [Finding("build", False, f"{type(exc).__name__}: {exc}")]
    names = {type(a).__name__ for a in agents.values()}
    findings = [Finding("build", True, f"{', '.join(sorted(names))} for {len(agents)} seats")]
    bad: list[str] = []

    def in_space(agent: str, action: Any, space: Any, mask: np.ndarray | None) -> None:
        if bad:
            return
        if not space.contains(np.asarray(action).astype(space.dtype)):
            bad.append(f"agent {agent!r} acted {action!r}, outside {space}")
        elif mask is not None and isinstance(space, Discrete) and not mask[int(action)]:
            bad.append(f"agent {agent!r} acted {action!r}, which its action mask forbids")

    started = time.perf_counter()
    try:
        first = play(env, agents, seed, steps, in_space)
    except Exception as exc:
        return [*findings, Finding("actions", False, f"{type(exc).__name__}: {exc}")]
    per_act = (time.perf_counter() - started) / max(len(first), 1)
    findings.append(Finding("actions", not bad, bad[0] if bad else
                            f"{len(first)} actions in their spaces, masks respected"))  # fmt: skip
    try:
        same = _same(first, _play_fresh(env_target, _agents(target, env, seed), seed, steps))
        message = "act the same" if same else "act differently on the same episodes"
        findings.append(Finding("reset determinism", same, f"two seeded copies {message}"))
    except Exception as exc:
        findings.append(Finding("reset determinism", False, f"{type(exc).__name__}: {exc}"))
    findings.append(_checkpoint(target, env_target, env, agents, seed, steps))
    findings.append(Finding("speed", None, f"{per_act * 1e3:.3f} ms per act (with env steps)"))
    return findings


def _same(one: list, two: list) -> bool:
    from gymnasium.utils.env_checker import data_equivalence

    return len(one) == len(two) and all(
        data_equivalence(a, b) for a, b in zip(one, two, strict=False)
    )


def _play_fresh(env_target: str, agents: dict[str, Any], seed: int, steps: int) -> list:
    """`play` on a newly built env (some envs do not reset fully after an illegal move)."""
    env = build(env_target)
    try:
        return play(env, agents, seed, steps)
    finally:
        env.close()


def _checkpoint(
    target: str, env_target: str, env: Any, agents: dict, seed: int, steps: int
) -> Finding:
    """Each seat's agent saved and loaded acts as before (when it has weights)."""
    from testbed.registry.checkpoint import load_checkpoint, save_checkpoint

    if not all(hasattr(a, "state_dict") for a in agents.values()):
        return Finding("checkpoint", None, "no state_dict: nothing to save (a fixed policy)")
    loaded = {}
    try:
        with tempfile.TemporaryDirectory() as folder:
            for seat, agent in agents.items():
                spaces = (env.observation_space(seat), env.action_space(seat))
                path = f"{folder}/{seat}"
                save_checkpoint(path, agent, agent_id=target, params={},
                                observation_space=spaces[0], action_space=spaces[1])  # fmt: skip
                loaded[seat] = load_checkpoint(path, *spaces, agent=target)
    except Exception as exc:
        return Finding("checkpoint", False, f"save + load failed: {type(exc).__name__}: {exc}")
    try:
        before = _play_fresh(env_target, agents, seed, steps)
        same = _same(before, _play_fresh(env_target, loaded, seed, steps))
    except Exception as exc:
        return Finding("checkpoint", False, f"acting after loading: {type(exc).__name__}: {exc}")
    return Finding("checkpoint", same, "saved and loaded, " +
                   ("acts the same" if same else "acts differently after loading"))  # fmt: skip
