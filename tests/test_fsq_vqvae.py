"""FSQ grid maths against the spec's formulas, and the VQ-VAE's released layout and shapes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from motionprompt.models.configs import RELEASED_LEVELS, VQVAE_PRESETS, VQVAEConfig
from motionprompt.models.fsq import FSQ
from motionprompt.models.vqvae import HumanVQVAE

torch.set_num_threads(1)


def test_fsq_indices_roundtrip_every_released_code():
    q = FSQ(RELEASED_LEVELS)
    assert q.codebook_size == 64000
    assert q._basis.tolist() == [1, 8, 64, 512, 2560, 12800]
    ids = torch.arange(64000)
    codes = q.indices_to_codes(ids)
    assert torch.equal(q.codes_to_indices(codes), ids)
    # independent: enumerate the grid in mixed-radix order with numpy
    levels = np.array(RELEASED_LEVELS)
    half = levels // 2
    grid = np.array(list(itertools.product(*[range(n) for n in reversed(levels)])))[:, ::-1]  # first digit fastest
    expect = (grid - half) / half
    np.testing.assert_allclose(codes.numpy(), expect, atol=1e-7)
    assert codes.min() == -1 and codes.max() == 1


def test_fsq_bound_rounds_onto_the_level_range():
    q = FSQ((8, 5, 4, 3))
    z = torch.linspace(-20, 20, 4001)[:, None].expand(-1, 4)
    r = torch.round(q.bound(z))
    for i, L in enumerate((8, 5, 4, 3)):
        assert r[:, i].min() == -(L // 2) and r[:, i].max() == (L - 1) - L // 2
        assert len(torch.unique(r[:, i])) == L
    # spec formula, written out for L = 8 at one point
    h, o = 7 * (1 + 1e-3) / 2, 0.5
    zz = torch.tensor(0.3)
    expected = torch.tanh(zz + torch.atanh(torch.tensor(o / h))) * h - o
    torch.testing.assert_close(q.bound(torch.tensor([0.3, 0.0, 0.0, 0.0]))[0], expected)


def test_fsq_straight_through_gradient_is_the_bound_derivative():
    q = FSQ((8, 5))
    z = torch.randn(10, 2, requires_grad=True)
    q.quantize(z).sum().backward()
    z2 = z.detach().clone().requires_grad_(True)
    (q.bound(z2) / torch.tensor([4.0, 2.0])).sum().backward()
    torch.testing.assert_close(z.grad, z2.grad)


def test_fsq_rejects_out_of_range_ids():
    with pytest.raises(ValueError, match=r"\[0, 400\)"):
        FSQ((5, 5, 4, 4)).indices_to_codes(torch.tensor([400]))


def test_released_vqvae_layout():
    m = HumanVQVAE()
    sd = m.state_dict()
    assert 10.5e6 < sum(p.numel() for p in m.parameters()) < 12e6
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    assert shapes["vqvae.encoder.model.0.wavelets"] == (2,) and shapes["vqvae.encoder.model.0._arange"] == (2,)
    assert shapes["vqvae.encoder.model.1.weight"] == (512, 272, 3)
    assert shapes["vqvae.encoder.model.3.0.weight"] == (512, 512, 4)
    assert shapes["vqvae.encoder.model.3.1.model.0.conv1.weight"] == (512, 512, 3)
    assert shapes["vqvae.encoder.model.3.1.model.2.conv2.weight"] == (512, 512, 1)
    assert shapes["vqvae.encoder.model.4.weight"] == (512, 512, 3)
    assert shapes["vqvae.decoder.model.0.weight"] == (512, 512, 3)
    assert shapes["vqvae.decoder.model.2.2.weight"] == (512, 512, 3)
    assert shapes["vqvae.decoder.model.5.weight"] == (272, 512, 3)
    assert "vqvae.decoder.model.6.wavelets" in shapes
    assert shapes["vqvae.quantizer.project_in.weight"] == (6, 512)
    assert shapes["vqvae.quantizer.project_out.weight"] == (512, 6)
    assert not any("_levels" in k or "_basis" in k for k in sd)
    # dilations 9, 3, 1 in both resnets
    enc = m.vqvae.encoder.model[3][1].model
    dec = m.vqvae.decoder.model[2][0].model
    assert [b.conv1.dilation[0] for b in enc] == [9, 3, 1] == [b.conv1.dilation[0] for b in dec]


@pytest.mark.parametrize("T", [20, 21])
def test_encode_decode_shapes_and_consistency(T):
    torch.manual_seed(0)
    m = HumanVQVAE(VQVAEConfig(**VQVAE_PRESETS["tiny"])).eval()
    x = torch.randn(3, T, 272)
    ids = m.encode(x)
    assert ids.shape == (3, T // 2) and ids.dtype == torch.int64
    assert 0 <= int(ids.min()) and int(ids.max()) < m.config.nb_code
    out = m.decode(ids)
    assert out.shape == (3, 2 * (T // 2), 272)
    rec, ids2 = m(x)
    assert torch.equal(ids, ids2)
    torch.testing.assert_close(rec, out, rtol=1e-5, atol=1e-5)
    # decoding is per row: a batch equals its rows decoded alone
    torch.testing.assert_close(m.decode(ids[1:2]), out[1:2], rtol=1e-5, atol=1e-5)
