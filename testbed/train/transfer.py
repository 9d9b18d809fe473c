"""Transfer (`init_from:` on a train stage): start learners from a trained checkpoint.

Every float tensor of the checkpoint's weights (networks and normalisers; not optimizer moments,
not counters) whose path and shape match one of the new learner's is copied in; the others
keep the new learner's fresh initialisation, so envs whose spaces differ transfer the layers
that still fit (a different observation size keeps a fresh first layer, a different action
count a fresh head). `reset_head` keeps the fresh last layer of every network (or of those it
names) even where it fits; `freeze` stops gradients to the layers it names (paths such as
`actor.body.0`; a prefix names every layer under it). Layer paths are the learner's
`state_dict` paths without `.weight` / `.bias`.

`transfer_metrics` computes Taylor & Stone's (2009, "Transfer learning for reinforcement learning
domains: a survey", JMLR 10) measures of a transfer curve against one from scratch.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from testbed.scenario.models import AgentRef


class InitFrom(AgentRef):
    """`init_from:` a checkpoint folder (or `"@<stage>/<agent>"`), with what to keep fresh."""

    freeze: list[str] = Field(default_factory=list)
    """Layers (state_dict paths or prefixes, globs allowed) that do not learn."""
    reset_head: bool | list[str] = False
    """Keep the fresh last layer of every network (true) or of the networks named."""

    @model_validator(mode="before")
    @classmethod
    def _from_id(cls, value: Any) -> Any:
        return {"checkpoint": value} if isinstance(value, str) else value


@dataclass
class TransferReport:
    """What `init_from` did to one learner."""

    copied: list[str] = field(default_factory=list)
    reset: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    frozen: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "copied": len(self.copied),
            "reset": self.reset,
            "mismatched": self.mismatched,
            "frozen": self.frozen,
        }


def _is_optimizer(node: Any) -> bool:
    return isinstance(node, dict) and "param_groups" in node and "state" in node


def flat_tensors(state: Any, prefix: str = "") -> dict[str, Any]:
    """{dotted path: tensor} of the float tensors of a (nested) state dict, optimizers left out;
    list items are named by their index (`actors.0.body.0.weight`)."""
    import torch

    found: dict[str, Any] = {}
    if _is_optimizer(state):
        return found
    if isinstance(state, dict):
        for key, value in state.items():
            found.update(flat_tensors(value, f"{prefix}{key}."))
    elif isinstance(state, list | tuple):  # e.g. MAPPO's actors, one per parameter group
        for index, value in enumerate(state):
            found.update(flat_tensors(value, f"{prefix}{index}."))
    elif isinstance(state, torch.Tensor) and state.is_floating_point():
        found[prefix[:-1]] = state
    return found


def _replace(state: Any, new: dict[str, Any], prefix: str = "") -> Any:
    if _is_optimizer(state):
        return state
    if isinstance(state, dict):
        return {k: _replace(v, new, f"{prefix}{k}.") for k, v in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(_replace(v, new, f"{prefix}{i}.") for i, v in enumerate(state))
    return new.get(prefix[:-1], state)


def layer_of(path: str) -> str:
    """`actor.body.0.weight` -> `actor.body.0`."""
    return path.rpartition(".")[0] if path.endswith((".weight", ".bias")) else path


def _modules(obj: Any, depth: int = 0, seen: set[int] | None = None) -> list[Any]:
    """nn.Modules reachable from an agent's attributes (through lists, dicts and the agent's own
    objects)."""
    import torch

    seen = seen if seen is not None else set()
    if id(obj) in seen or depth > 4:
        return []
    seen.add(id(obj))
    if isinstance(obj, torch.nn.Module):
        return [obj]
    if isinstance(obj, dict):
        items = list(obj.values())
    elif isinstance(obj, list | tuple):
        items = list(obj)
    elif type(obj).__module__.startswith("testbed."):
        items = list(vars(obj).values()) if hasattr(obj, "__dict__") else []
    else:
        return []
    return [m for item in items for m in _modules(item, depth + 1, seen)]


def parameters_by_path(learner: Any) -> dict[str, Any]:
    """{state_dict path: the nn.Parameter it saves} (matched by storage)."""
    params = {p.data_ptr(): p for m in _modules(learner) for p in m.parameters()}
    return {
        path: params[t.data_ptr()]
        for path, t in flat_tensors(learner.state_dict()).items()
        if t.data_ptr() in params
    }


def heads(paths: list[str]) -> dict[str, str]:
    """{network (first path part): its last layer} over parameter paths."""
    last: dict[str, str] = {}
    for path in paths:
        last[path.split(".")[0]] = layer_of(path)
    return last


def _matches(path: str, pattern: str) -> bool:
    layer = layer_of(path)
    return (
        layer == pattern
        or path.startswith(pattern + ".")
        or fnmatch.fnmatchcase(layer, pattern)
        or fnmatch.fnmatchcase(path, pattern)
    )


def apply_transfer(learner: Any, source: dict[str, Any], spec: InitFrom) -> TransferReport:
    """Copy the fitting tensors of `source` (a checkpoint's weights) into `learner`, keep the
    heads `reset_head` names fresh, freeze `freeze`. Raises ValueError (saying what the learner
    has) when nothing fits or a name matches nothing."""
    report = TransferReport()
    state = learner.state_dict()
    own, theirs = flat_tensors(state), flat_tensors(source)
    params = parameters_by_path(learner)
    head_of = heads(list(params))
    layers = sorted({layer_of(p) for p in params})
    if spec.reset_head is True:
        reset = set(head_of.values())
    elif spec.reset_head:
        unknown = [n for n in spec.reset_head if n not in head_of]
        if unknown:
            raise ValueError(
                f"reset_head: {unknown[0]!r} is not a network of {type(learner).__name__} "
                f"(its networks: {', '.join(head_of)})"
            )
        reset = {head_of[n] for n in spec.reset_head}
    else:
        reset = set()
    new = {}
    for path, tensor in own.items():
        if layer_of(path) in reset and path in params:
            report.reset.append(path)
            continue
        other = theirs.get(path)
        if other is None:
            continue
        if tuple(other.shape) != tuple(tensor.shape):
            report.mismatched.append(path)
            continue
        new[path] = other.to(tensor.dtype).clone()
        report.copied.append(path)
    fitted = [p for p in report.copied if p in params] if params else report.copied
    if not fitted:  # (a tabular learner has no nn.Parameter: its table is what fits)
        raise ValueError(
            f"no layer of the checkpoint fits {type(learner).__name__} (its layers: "
            f"{', '.join(layers)}; mismatched shapes: {', '.join(report.mismatched) or 'none'})"
        )
    learner.load_state_dict(_replace(state, new))
    for pattern in spec.freeze:
        hit = [p for p in params if _matches(p, pattern)]
        if not hit:
            raise ValueError(
                f"freeze: {pattern!r} names no layer of {type(learner).__name__} "
                f"(its layers: {', '.join(layers)})"
            )
        for path in hit:
            params[path].requires_grad_(False)
            report.frozen.append(path)
    return report


def transfer_metrics(
    scratch: list[tuple[int, float]],
    transfer: list[tuple[int, float]],
    threshold: float,
    last: int = 3,
) -> dict[str, float | None]:
    """Taylor & Stone (2009) measures from two curves of (env step, evaluation return), both
    starting with an evaluation at step 0 (before learning):

    - jumpstart: transfer's initial return minus scratch's;
    - time to threshold: first step each reaches `threshold` (None: never), and the steps saved;
    - asymptotic performance: mean of the last `last` evaluations, and its difference;
    - area ratio: (area under transfer - area under scratch) / |area under scratch|
      (trapezoids over steps; the absolute value keeps a positive ratio meaning "transfer
      did better" when returns are negative, as in MPE; Taylor & Stone's own is for
      non-negative returns, where the two agree).
    """

    def reach(curve: list[tuple[int, float]]) -> int | None:
        return next((s for s, r in curve if r >= threshold), None)

    def area(curve: list[tuple[int, float]]) -> float:
        steps, returns = np.array(curve, float).T
        return float(np.sum((returns[1:] + returns[:-1]) / 2 * np.diff(steps)))

    t_scratch, t_transfer = reach(scratch), reach(transfer)
    a_scratch, a_transfer = area(scratch), area(transfer)
    final_s = float(np.mean([r for _, r in scratch[-last:]]))
    final_t = float(np.mean([r for _, r in transfer[-last:]]))
    return {
        "jumpstart": transfer[0][1] - scratch[0][1],
        "time_to_threshold_scratch": t_scratch,
        "time_to_threshold_transfer": t_transfer,
        "steps_saved": (
            None if t_scratch is None or t_transfer is None else float(t_scratch - t_transfer)
        ),
        "asymptotic_scratch": final_s,
        "asymptotic_transfer": final_t,
        "asymptotic_gain": final_t - final_s,
        "area_ratio": (a_transfer - a_scratch) / abs(a_scratch) if a_scratch else None,
    }
