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


class _PermutedConv(nn.Module):
    """Channels-last images through a conv: its weight's gradient comes out of autograd in
    another memory layout than the weight (the multimodal encoder's case)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.head = nn.Linear(4 * 6 * 6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.conv(x.permute(0, 3, 1, 2))).flatten(1))


@pytest.mark.parametrize("clip", [0.0, 0.5])
def test_descend_lays_gradients_out_like_their_parameters(clip: float) -> None:
    torch.manual_seed(2)
    net = _PermutedConv()
    twin = copy.deepcopy(net)
    opt, twin_opt = adam(net.parameters(), 1e-2), adam(twin.parameters(), 1e-2)
    for step in range(4):
        x = torch.randn(5, 8, 8, 3, generator=torch.Generator().manual_seed(step))
        _reference_step(opt, net, _loss(net, x), clip)
        descend(twin_opt, _loss(twin, x), clip)
    for a, b in zip(net.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a, b)


def test_descend_clips_a_gradient_shared_by_two_parameters_once() -> None:
    """autograd may hand back one tensor for two parameters; clipping scales it in place."""
    first, second = nn.Parameter(torch.ones(3)), nn.Parameter(torch.ones(3))
    twins = [nn.Parameter(torch.ones(3)), nn.Parameter(torch.ones(3))]
    reference = torch.optim.SGD([first, second], 0.1)
    reference.zero_grad()
    ((first + second) * 4.0).sum().backward()
    nn.utils.clip_grad_norm_([first, second], 1.0)
    reference.step()
    descend(torch.optim.SGD(twins, 0.1), ((twins[0] + twins[1]) * 4.0).sum(), 1.0)
    assert torch.equal(first, twins[0]) and torch.equal(second, twins[1])


def test_descend_does_not_apply_a_stale_gradient() -> None:
    net = mlp(2, 1, (4,))
    spare = nn.Parameter(torch.zeros(2))
    spare.grad = torch.ones(2)  # left over from elsewhere; zero_grad would have cleared it
    descend(torch.optim.SGD([*net.parameters(), spare], 0.1), net(torch.ones(3, 2)).sum())
    assert torch.equal(spare.detach(), torch.zeros(2)) and spare.grad is None
