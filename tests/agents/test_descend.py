"""`descend` takes the same gradient step as zero_grad / backward / clip / step: bit-identical
parameters and optimizer state, frozen and unreached parameters untouched."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from testbed.agents.common.nets import adam, descend, mlp


def _loss(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return (net(x) ** 2).mean() + net(x).abs().sum()


def _reference_step(opt: torch.optim.Optimizer, net: nn.Module, loss: torch.Tensor, clip: float):
    opt.zero_grad()
    loss.backward()
    if clip > 0:
        nn.utils.clip_grad_norm_(net.parameters(), clip)
    opt.step()


@pytest.mark.parametrize("clip", [0.0, 0.5])
@pytest.mark.parametrize("make", [lambda p: adam(p, 1e-2), lambda p: torch.optim.SGD(p, 0.1)])
def test_descend_matches_the_optimizer_step_bit_for_bit(clip: float, make) -> None:
    torch.manual_seed(0)
    net = mlp(4, 3, (16, 16))
    twin = copy.deepcopy(net)
    opt, twin_opt = make(net.parameters()), make(twin.parameters())
    for step in range(6):
        x = torch.randn(32, 4, generator=torch.Generator().manual_seed(step))
        _reference_step(opt, net, _loss(net, x), clip)
        descend(twin_opt, _loss(twin, x), clip)
    for a, b in zip(net.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(opt.state.values(), twin_opt.state.values(), strict=True):
        for key in a:
            assert torch.equal(torch.as_tensor(a[key]), torch.as_tensor(b[key])), key
    assert all(p.grad is None for p in twin.parameters())


def test_descend_leaves_frozen_and_unreached_parameters_alone() -> None:
    torch.manual_seed(1)
    net = mlp(4, 2, (8,))
    spare = nn.Parameter(torch.ones(3))  # in the optimizer, not in the loss
    frozen = net[0].weight
    frozen.requires_grad_(False)
    before_frozen, before_spare = frozen.clone(), spare.detach().clone()
    before_last = net[-1].weight.detach().clone()
    opt = adam([*net.parameters(), spare], 1e-2)
    for _ in range(3):
        descend(opt, _loss(net, torch.randn(8, 4)), 1.0)
    assert torch.equal(frozen, before_frozen)
    assert torch.equal(spare.detach(), before_spare)
    assert not torch.equal(net[-1].weight, before_last)  # the rest moved
    assert spare not in opt.state and frozen not in opt.state
