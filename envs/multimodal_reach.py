"""Multimodal reach: go to the object a text instruction names (`testbed/multimodal_reach_v0`).

A `size` x `size` grid (default 8) holds `n_objects` (default 3) objects of distinct colours
drawn from red, green and blue (pure RGB: each colour is one image channel), on distinct
random cells; the agent starts on another random cell. A short instruction names the colour
of the target object. Every episode draws new positions, colours, target and instruction
wording, so each part of the observation is needed to act well:

- the **image** is the only place that shows where the objects are (the instruction does not);
- the **text** is the only place that says which object is the target (the image shows all
  objects alike);
- the **vector** is the only place that says where the agent is (the agent is not drawn in the
  image, and the image does not change during an episode).

A policy without the text reaches the target in about 1 / `n_objects` of the episodes at best
(touching a wrong object ends the episode); one without the image must search; one without
the vector cannot tell which way to go (its observation is the same at every step).

Agents
    `agent_0` (one agent, ParallelEnv).

Actions
    Discrete(4): 0 up, 1 down, 2 left, 3 right (a move off the grid stays put). With
    `continuous=True`: Box(-1, 1, (2,)), (dx, dy); the agent moves one cell along the axis of
    the larger magnitude, in its sign (up is -dy); (0, 0) stays put.

Observations
    Dict (gymnasium sorts the keys; `spaces.flatten` concatenates them in that order):

    - `image`: Box(0, 255, (size * cell_px, size * cell_px, 3), uint8), height x width x RGB;
      each object a `cell_px` x `cell_px` block of its colour on black; the agent is not drawn.
    - `text`: MultiDiscrete([len(VOCAB)] * TEXT_LENGTH): token ids of the instruction (`VOCAB`,
      id 0 is padding), e.g. "go to the red square"; `decode(tokens)` gives the words back.
    - `vector`: Box(-1, 1, (4,), float32): the agent's column and row scaled to [-1, 1], and its
      velocity (the last step's column and row change, each -1, 0 or 1).

Rewards
    Reaching the target: 1 - 0.9 * t / max_steps (t steps taken, as in MiniGrid); touching
    another object: 0 and the episode ends. Plus a progress term: `progress` (default 0.1)
    times the decrease of the Manhattan distance to the target in the step (-progress when
    the agent steps away); `progress=0` leaves only the sparse reward. The progress term
    appears in no observation: the learner still has to read where the target is. (It is
    Phi(s') - Phi(s) without the discount, so it is not exactly policy-invariant shaping.)

Costs
    None: `infos["agent_0"]["cost"]` is always 0.0. `infos["agent_0"]["success"]` is True on
    the step that reaches the target.

Episode end
    Terminates on touching any object; truncation after `max_steps` (default 3 * size) steps.

Seeding
    `reset(seed=...)` draws the layout, target, wording and start from that seed only.
    `reset(options={"layout": {...}})` sets any of `agent` and `objects` ((column, row)
    cells), `colours`, `target` (an object index) and `template` (a `TEMPLATES` index)
    instead (tests and demos use it to change one factor at a time).

Rendering
    "rgb_array": the observation image enlarged 8 x, with the agent as a white block and the
    target outlined in white.

Version history
    v0: first version.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

AGENT = "agent_0"
COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}
TEMPLATES = (
    "go to the {} square",
    "reach the {} one",
    "find the {} block",
    "move to {}",
)
VOCAB = ("<pad>", "go", "to", "the", "square", "reach", "one", "find", "block", "move", *COLOURS)
TEXT_LENGTH = 5
MOVES = np.array([(0, -1), (0, 1), (-1, 0), (1, 0)])  # (column, row) change: up down left right
RENDER_SCALE = 8


def encode(sentence: str) -> np.ndarray:
    """Token ids of a sentence of `VOCAB` words, padded with 0 to `TEXT_LENGTH`."""
    words = sentence.split()
    if len(words) > TEXT_LENGTH:
        raise ValueError(f"instruction longer than {TEXT_LENGTH} words: {sentence!r}")
    ids = np.zeros(TEXT_LENGTH, np.int64)
    ids[: len(words)] = [VOCAB.index(w) for w in words]
    return ids


def decode(tokens: Any) -> str:
    """The words of a token-id sequence (padding dropped)."""
    return " ".join(VOCAB[int(t)] for t in np.asarray(tokens).reshape(-1) if int(t) != 0)


class MultimodalReachEnv(ParallelEnv):
    """Reach the object the instruction names; see the module docstring."""

    metadata = {
        "name": "multimodal_reach_v0",
        "render_modes": ["rgb_array"],
        "is_parallelizable": True,
        "render_fps": 5,
    }

    def __init__(
        self,
        size: int = 8,
        n_objects: int = 3,
        cell_px: int = 2,
        max_steps: int | None = None,
        continuous: bool = False,
        progress: float = 0.1,
        render_mode: str | None = None,
    ):
        if not 3 <= size <= 32:
            raise ValueError(f"size must be in 3..32, got {size}")
        if not 1 <= n_objects <= len(COLOURS):
            raise ValueError(f"n_objects must be in 1..{len(COLOURS)}, got {n_objects}")
        if n_objects + 1 > size * size:
            raise ValueError("the grid has fewer cells than objects plus the agent")
        if progress < 0:
            raise ValueError(f"progress must be >= 0, got {progress}")
        if not 1 <= cell_px <= 8:
            raise ValueError(f"cell_px must be in 1..8, got {cell_px}")
        max_steps = 3 * size if max_steps is None else max_steps
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        self.size, self.n_objects, self.cell_px = size, n_objects, cell_px
        self.max_steps, self.continuous, self.render_mode = max_steps, continuous, render_mode
        self.progress = float(progress)
        self.possible_agents = [AGENT]
        self.agents: list[str] = []
        px = size * cell_px
        self._obs_space = spaces.Dict(
            {
                "image": spaces.Box(0, 255, (px, px, 3), np.uint8),
                "text": spaces.MultiDiscrete([len(VOCAB)] * TEXT_LENGTH),
                "vector": spaces.Box(-1.0, 1.0, (4,), np.float32),
            }
        )
        self._act_space = (
            spaces.Box(-1.0, 1.0, (2,), np.float32) if continuous else spaces.Discrete(4)
        )
        self._rng = np.random.default_rng()
        self.objects = np.zeros((n_objects, 2), np.int64)  # (column, row) per object
        self.colours: list[str] = []
        self.target = 0
        self.instruction = ""
        self._pos = np.zeros(2, np.int64)
        self._velocity = np.zeros(2, np.int64)
        self._image = np.zeros((px, px, 3), np.uint8)
        self._text = np.zeros(TEXT_LENGTH, np.int64)
        self._t = 0

    def observation_space(self, agent: str) -> spaces.Dict:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_space

    # -- dynamics -------------------------------------------------------------------------------

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self._act_space.seed(seed)
        rng = self._rng
        cells = rng.choice(self.size * self.size, self.n_objects + 1, replace=False)
        xy = np.stack([cells % self.size, cells // self.size], axis=1)
        self.objects, self._pos = xy[:-1], xy[-1].copy()
        names = list(COLOURS)
        self.colours = [names[i] for i in rng.choice(len(names), self.n_objects, replace=False)]
        self.target = int(rng.integers(self.n_objects))
        template = int(rng.integers(len(TEMPLATES)))
        if options and "layout" in options:
            template = self._set_layout(dict(options["layout"]), template)
        self.instruction = TEMPLATES[template].format(self.colours[self.target])
        self._text = encode(self.instruction)
        self._image = self._draw()
        self._velocity = np.zeros(2, np.int64)
        self._t = 0
        self.agents = [AGENT]
        return {AGENT: self._observation()}, {AGENT: {"cost": 0.0}}

    def _set_layout(self, layout: dict[str, Any], template: int) -> int:
        """Place the agent, objects, colours, target and wording as `layout` says (keys
        agent, objects, colours, target, template; missing ones keep the seed's draw)."""
        unknown = set(layout) - {"agent", "objects", "colours", "target", "template"}
        if unknown:
            raise ValueError(f"unknown layout keys {sorted(unknown)}")
        pos = np.asarray(layout.get("agent", self._pos), np.int64).reshape(2)
        objects = np.asarray(layout.get("objects", self.objects), np.int64).reshape(-1, 2)
        colours = [str(c) for c in layout.get("colours", self.colours)]
        target = int(layout.get("target", self.target))
        template = int(layout.get("template", template))
        cells = {tuple(c) for c in [*objects.tolist(), pos.tolist()]}
        if len(objects) != self.n_objects or len(colours) != self.n_objects:
            raise ValueError(f"layout needs {self.n_objects} objects and colours")
        if len(cells) != self.n_objects + 1 or not ((0 <= objects) & (objects < self.size)).all():
            raise ValueError("layout cells must be distinct and on the grid")
        if not ((0 <= pos) & (pos < self.size)).all() or len(set(colours)) != len(colours):
            raise ValueError("layout agent must be on the grid and colours distinct")
        if not set(colours) <= set(COLOURS):
            raise ValueError(f"layout colours must be among {list(COLOURS)}")
        if not 0 <= target < self.n_objects or not 0 <= template < len(TEMPLATES):
            raise ValueError("layout target or template out of range")
        self._pos, self.objects, self.colours, self.target = pos, objects, colours, target
        return template

    def _move(self, action: Any) -> np.ndarray:
        if not self.continuous:
            index = int(np.asarray(action).reshape(()))
            if not 0 <= index < 4:
                raise ValueError(f"action must be in 0..3, got {action}")
            return MOVES[index]
        a = np.clip(np.asarray(action, np.float64).reshape(2), -1.0, 1.0)
        axis = int(np.argmax(np.abs(a)))
        step = np.zeros(2, np.int64)
        step[axis] = int(np.sign(a[axis]))
        return step

    def step(self, actions: dict[str, Any]):
        old = self._pos.copy()
        self._pos = np.clip(self._pos + self._move(actions[AGENT]), 0, self.size - 1)
        self._velocity = self._pos - old
        self._t += 1
        hit = np.flatnonzero((self.objects == self._pos).all(axis=1))
        success = hit.size > 0 and int(hit[0]) == self.target
        reward = 1.0 - 0.9 * self._t / self.max_steps if success else 0.0
        if self.progress:
            target = self.objects[self.target]
            closer = np.abs(old - target).sum() - np.abs(self._pos - target).sum()
            reward += self.progress * float(closer)
        terminated = hit.size > 0
        truncated = not terminated and self._t >= self.max_steps
        if terminated or truncated:
            self.agents = []
        return (
            {AGENT: self._observation()},
            {AGENT: float(reward)},
            {AGENT: terminated},
            {AGENT: truncated},
            {AGENT: {"cost": 0.0, "success": bool(success)}},
        )

    # -- observations ---------------------------------------------------------------------------

    def _draw(self) -> np.ndarray:
        px = self.cell_px
        image = np.zeros((self.size * px, self.size * px, 3), np.uint8)
        for (col, row), name in zip(self.objects, self.colours, strict=True):
            image[row * px : (row + 1) * px, col * px : (col + 1) * px] = COLOURS[name]
        return image

    def _observation(self) -> dict[str, np.ndarray]:
        scale = 2.0 / (self.size - 1)
        vector = np.concatenate([self._pos * scale - 1.0, self._velocity]).astype(np.float32)
        return {"image": self._image.copy(), "text": self._text.copy(), "vector": vector}

    def render(self) -> Any:
        if self.render_mode is None:
            return None
        frame = self._image.repeat(RENDER_SCALE, axis=0).repeat(RENDER_SCALE, axis=1)
        block = self.cell_px * RENDER_SCALE
        col, row = self.objects[self.target]
        outline = frame[row * block : (row + 1) * block, col * block : (col + 1) * block]
        outline[[0, -1], :] = 255
        outline[:, [0, -1]] = 255
        col, row = self._pos
        inset = max(1, block // 4)
        frame[row * block + inset : (row + 1) * block - inset,
              col * block + inset : (col + 1) * block - inset] = 255  # fmt: skip
        return frame

    def state(self) -> np.ndarray:
        """Agent (column, row), then each object's (column, row), then the target index."""
        return np.concatenate([self._pos, self.objects.reshape(-1), [self.target]])

    def close(self) -> None:
        pass


def multimodal_reach_v0(
    size: int = 8,
    n_objects: int = 3,
    cell_px: int = 2,
    max_steps: int | None = None,
    continuous: bool = False,
    progress: float = 0.1,
    render_mode: str | None = None,
) -> MultimodalReachEnv:
    """The multimodal reach env (grid `size`, `n_objects`, pixels per cell, step limit,
    continuous actions, progress reward)."""
    return MultimodalReachEnv(
        size, n_objects, cell_px, max_steps, continuous, progress, render_mode
    )
