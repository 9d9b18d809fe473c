"""Feature extractors in front of an agent's MLPs: the `network:` option of PPO, DQN and SAC.

Agents keep working on flat float vectors (`spaces.to_vector`: a Dict observation is
`gymnasium.spaces.flatten` of it, its entries concatenated in the space's key order). A
`multimodal` encoder reads that flat vector back into its parts, by the Dict space's layout:

- an **image** entry (a Box with 3 dims; channels last when the last dim is 1, 3 or 4 and
  the first is not, else first), scaled to [0, 1] by the Box bounds, goes through a small CNN
  (3x3 convolutions with ReLU, each after the first with stride 2);
- a **token** entry (a 1-D MultiDiscrete whose entries share one vocabulary size V, e.g. an
  instruction's word ids; flattened as one-hot rows) is embedded (a V x E table) and
  mean-pooled over positions, or read by a GRU (`text: gru`);
- any other entry (a 1-D Box, Discrete, MultiBinary, ...) is a **vector**: one ReLU layer;

and the parts' features are concatenated and fused by a ReLU layer of width `features`, the
input of the agent's own MLP head. `drop_modalities` leaves Dict entries out (by key):
ablations that show what each modality is worth. Each network of an agent (actor, critic,
Q-network) gets its own encoder; target networks copy theirs.

Without `network:` (or with `type: mlp`), agents build exactly the networks they always did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from pydantic import ConfigDict
from torch import nn

from testbed.agents.common.spaces import inner_space, is_goal_space, obs_dim

NETWORK_TYPES = ("mlp", "multimodal")
TEXT_READERS = ("mean", "gru")
FUSIONS = ("concat", "gated")


@dataclass(frozen=True)
class NetworkConfig:
    """The `network:` block of an agent, e.g. `network: {type: multimodal}`."""

    __pydantic_config__ = ConfigDict(extra="forbid")

    type: str = "mlp"
    """'mlp': the agent's MLP on the flat observation (the default); 'multimodal': a CNN per
    image, an embedding per token sequence, a layer per vector, fused (Dict observations)."""
    drop_modalities: tuple[str, ...] = ()
    """Dict keys the multimodal encoder ignores (ablations), e.g. [image]."""
    features: int = 64
    """Width of the fused feature vector the agent's MLP reads."""
    channels: tuple[int, ...] = (16, 32)
    """Output channels of the CNN's 3x3 convolutions (each after the first has stride 2)."""
    vector_hidden: int = 32
    """Width of the layer that reads each vector entry."""
    embedding_dim: int = 16
    """Size of each token's embedding."""
    text: str = "mean"
    """How token embeddings are pooled: 'mean' (bag of words) or 'gru' (last GRU state)."""
    fusion: str = "concat"
    """'concat': every part's features concatenated, then the fusion layer; 'gated': the
    same, but the text features first gate each channel of every CNN layer (sigmoid gates,
    the gated attention of Chaplot et al. 2018 applied per layer); without a text or an image
    part, as 'concat'."""


@dataclass(frozen=True)
class Part:
    """One Dict entry inside the flat vector: its key, kind, slice and shape."""

    key: str
    kind: str  # "image", "tokens" or "vector"
    start: int
    stop: int
    shape: tuple[int, ...]
    low: float = 0.0
    high: float = 1.0


def layout(space: spaces.Dict) -> list[Part]:
    """Where each entry of a Dict space lies in `spaces.flatten(space, x)`, and its kind."""
    parts, start = [], 0
    for key, sub in space.spaces.items():
        size = int(spaces.flatdim(sub))
        kind, shape, low, high = "vector", (size,), 0.0, 1.0
        if isinstance(sub, spaces.Box) and len(sub.shape) == 3:
            kind, shape = "image", tuple(int(d) for d in sub.shape)
            low, high = float(np.min(sub.low)), float(np.max(sub.high))
            if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
                low, high = 0.0, 1.0
        elif isinstance(sub, spaces.MultiDiscrete) and len(sub.nvec.shape) == 1:
            if len(set(int(n) for n in sub.nvec)) == 1:
                kind, shape = "tokens", (len(sub.nvec), int(sub.nvec[0]))
        parts.append(Part(str(key), kind, start, start + size, shape, low, high))
        start += size
    return parts


class ImageCNN(nn.Module):
    """Image (flat rows) -> ReLU conv stack -> flat features."""

    def __init__(self, shape: tuple[int, ...], channels: tuple[int, ...], low: float, high: float):
        super().__init__()
        # channels last (H, W, C: gymnasium's and our envs' layout) unless only the first
        # axis looks like channels; a small (3, 3, 3) or (4, 4, 3) image is channels-last
        self.channels_last = shape[-1] in (1, 3, 4) or shape[0] not in (1, 3, 4)
        self.shape = shape
        c = shape[-1] if self.channels_last else shape[0]
        self.low, self.span = low, high - low
        layers: list[nn.Module] = []
        for i, width in enumerate(channels):
            layers.append(nn.Conv2d(c, width, 3, stride=1 if i == 0 else 2, padding=1))
            c = width
        self.convs = nn.ModuleList(layers)
        self.widths = tuple(channels)
        with torch.no_grad():
            self.out_dim = int(self(torch.zeros(1, int(np.prod(shape)))).shape[1])

    def _image(self, flat: torch.Tensor) -> torch.Tensor:
        x = (flat.reshape(-1, *self.shape) - self.low) / self.span
        return x.permute(0, 3, 1, 2) if self.channels_last else x

    def forward(self, flat: torch.Tensor, gates: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Flat features; `gates` (one (batch, width) tensor per layer) scale each channel of
        each layer's map after its ReLU."""
        maps = self._image(flat)
        for i, conv in enumerate(self.convs):
            maps = torch.relu(conv(maps))
            if gates is not None:
                maps = maps * gates[i][:, :, None, None]
        return maps.flatten(1)


class TokenReader(nn.Module):
    """One-hot token rows (flat) -> embeddings -> mean over positions or a GRU's last state."""

    def __init__(self, length: int, vocab: int, dim: int, reader: str):
        super().__init__()
        self.length, self.vocab = length, vocab
        self.embed = nn.Linear(vocab, dim, bias=False)  # one-hot @ table = an embedding lookup
        nn.init.normal_(self.embed.weight)
        self.gru = nn.GRU(dim, dim, batch_first=True) if reader == "gru" else None
        self.out_dim = dim

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        embedded = self.embed(flat.reshape(-1, self.length, self.vocab))
        if self.gru is None:
            return embedded.mean(dim=1)
        _, last = self.gru(embedded)
        return last[0]


class MultimodalEncoder(nn.Module):
    """Flat Dict observation -> per-entry branches -> concatenation -> ReLU fusion layer."""

    def __init__(self, space: spaces.Dict, config: NetworkConfig):
        super().__init__()
        self.parts = [p for p in layout(space) if p.key not in config.drop_modalities]
        self.kinds = {p.key: p.kind for p in self.parts}
        branches: dict[str, nn.Module] = {}
        width = 0
        for p in self.parts:
            if p.kind == "image":
                branch: nn.Module = ImageCNN(p.shape, config.channels, p.low, p.high)
                out = branch.out_dim
            elif p.kind == "tokens":
                branch = TokenReader(p.shape[0], p.shape[1], config.embedding_dim, config.text)
                out = branch.out_dim
            else:
                branch = nn.Sequential(nn.Linear(p.stop - p.start, config.vector_hidden), nn.ReLU())
                out = config.vector_hidden
            branches[p.key] = branch
            width += out
        self.branches = nn.ModuleDict(branches)
        self.fuse = nn.Sequential(nn.Linear(width, config.features), nn.ReLU())
        self.out_dim = config.features
        images = [p.key for p in self.parts if p.kind == "image"]
        self.texts = [p.key for p in self.parts if p.kind == "tokens"]
        self.gated = images if config.fusion == "gated" and self.texts else []
        text_width = sum(self.branches[k].out_dim for k in self.texts)
        self.gates = nn.ModuleDict(
            {
                k: nn.ModuleList(nn.Linear(text_width, w) for w in self.branches[k].widths)
                for k in self.gated
            }
        )

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        lead = flat.shape[:-1]
        rows = flat.reshape(-1, flat.shape[-1])
        feats = {p.key: self.branches[p.key](rows[:, p.start : p.stop])
                 for p in self.parts if p.key not in self.gated}  # fmt: skip
        if self.gated:
            text = torch.cat([feats[k] for k in self.texts], dim=-1)
            for p in self.parts:
                if p.key in self.gated:
                    gates = [torch.sigmoid(g(text)) for g in self.gates[p.key]]
                    feats[p.key] = self.branches[p.key](rows[:, p.start : p.stop], gates)
        joined = torch.cat([feats[p.key] for p in self.parts], dim=-1)
        return self.fuse(joined).reshape(*lead, self.out_dim)


def check_network(config: NetworkConfig, observation_space: spaces.Space) -> spaces.Dict | None:
    """The Dict space a multimodal encoder reads (None for `type: mlp`); a clear ValueError
    for options that cannot work with this observation space."""
    if config.type not in NETWORK_TYPES:
        raise ValueError(f"network type must be one of {list(NETWORK_TYPES)}, got {config.type!r}")
    if config.fusion not in FUSIONS:
        raise ValueError(f"network fusion must be one of {list(FUSIONS)}, got {config.fusion!r}")
    if config.text not in TEXT_READERS:
        raise ValueError(f"network text must be one of {list(TEXT_READERS)}, got {config.text!r}")
    for name in ("features", "vector_hidden", "embedding_dim"):
        if getattr(config, name) < 1:
            raise ValueError(f"network {name} must be >= 1, got {getattr(config, name)}")
    if not config.channels or min(config.channels) < 1:
        raise ValueError(f"network channels must be positive widths, got {list(config.channels)}")
    if config.type == "mlp":
        if config.drop_modalities:
            raise ValueError("network drop_modalities needs type: multimodal")
        return None
    space = inner_space(observation_space)
    if is_goal_space(observation_space) or not isinstance(space, spaces.Dict):
        raise ValueError(
            "network type 'multimodal' needs a Dict observation space (e.g. image, text, "
            f"vector entries), got {observation_space}"
        )
    keys = [str(k) for k in space.spaces]
    unknown = [k for k in config.drop_modalities if k not in keys]
    if unknown:
        raise ValueError(f"network drop_modalities {unknown} are not observation keys {keys}")
    if set(keys) <= set(config.drop_modalities):
        raise ValueError(f"network drop_modalities drops every observation key {keys}")
    return space


def feature_extractor(
    config: NetworkConfig | None, observation_space: spaces.Space
) -> tuple[nn.Module | None, int]:
    """(a new encoder or None, the width of what the agent's MLP reads). None and
    `type: mlp` give (None, the flat observation's length): the agent's usual networks."""
    if config is None:
        return None, obs_dim(observation_space)
    space = check_network(config, observation_space)
    if space is None:
        return None, obs_dim(observation_space)
    encoder = MultimodalEncoder(space, config)
    return encoder, encoder.out_dim


def with_encoder(encoder: nn.Module | None, head: Any) -> Any:
    """`head` reading the encoder's features (the head itself without an encoder)."""
    return head if encoder is None else nn.Sequential(encoder, head)
