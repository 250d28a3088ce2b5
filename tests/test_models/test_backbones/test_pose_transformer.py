import pytest
import torch

from hp3d.models.backbones import PoseTransformer


def _inputs(seed=0, batch=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 21, 2, generator=g)
    weight = torch.ones(batch, 21)
    weight[0, 10:] = 0
    weight[1, ::3] = 0
    return x, weight


def test_output_shape_and_param_count():
    model = PoseTransformer()
    x, weight = _inputs()
    assert model(x, weight).shape == (3, 21, 32)
    # embed 2*32+32, pos 21*32, 4 blocks of (2 LN, qkv, proj, MLP 32->64->32), LN
    block = 2 * 64 + (32 * 96 + 96) + (32 * 32 + 32) + (32 * 64 + 64) + (64 * 32 + 32)
    expected = 96 + 21 * 32 + 4 * block + 64
    assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize('impl', ['fused', 'batch_last', 'cpu_kernel'])
@pytest.mark.parametrize('mode', ['mask', 'scale'])
def test_invalid_joints_do_not_leak(mode, impl):
    torch.manual_seed(0)
    model = PoseTransformer(invalid_joints=mode, impl=impl).eval()
    x, weight = _inputs()
    noisy = x.clone()
    noisy[weight == 0] = 100.0
    valid = weight > 0
    out, out_noisy = model(x, weight), model(noisy, weight)
    torch.testing.assert_close(out[valid], out_noisy[valid])


def test_without_masking_invalid_joints_change_the_output():
    torch.manual_seed(0)
    model = PoseTransformer(invalid_joints='none').eval()
    x, weight = _inputs()
    noisy = x.clone()
    noisy[weight == 0] = 100.0
    valid = weight > 0
    assert not torch.allclose(model(x, weight)[valid], model(noisy, weight)[valid])


# float64 shows the math is the same; float32 that rounding stays small
TOLERANCES = {torch.float64: dict(rtol=1e-9, atol=1e-10),
              torch.float32: dict(rtol=1e-4, atol=1e-5)}


@pytest.mark.parametrize('impl,dtype', [
    ('fused', torch.float64), ('fused', torch.float32),
    ('batch_last', torch.float64), ('batch_last', torch.float32),
    # float64: the C++ kernel is float32 only, batch_last's formula runs
    ('cpu_kernel', torch.float64), ('cpu_kernel', torch.float32)])
@pytest.mark.parametrize('mode', ['mask', 'scale', 'none'])
def test_impls_equal_reference(impl, mode, dtype):
    """Same outputs and gradients (input and every parameter) as reference."""
    torch.manual_seed(0)
    fast = PoseTransformer(invalid_joints=mode, impl=impl).to(dtype)
    reference = PoseTransformer(invalid_joints=mode, impl='reference').to(dtype)
    reference.load_state_dict(fast.state_dict())
    x, weight = _inputs()
    # a random projection: the gradient of a sum of squares of layer-normed
    # tokens nearly cancels, which would compare rounding noise
    probe = torch.randn(3, 21, 32, generator=torch.Generator().manual_seed(1),
                        dtype=dtype)
    grads = []
    for model in (fast, reference):
        x_in = x.to(dtype).requires_grad_(True)
        out = model(x_in, weight)
        params = [p for _, p in sorted(model.named_parameters())]
        grads.append((out,) + torch.autograd.grad((out * probe).sum(),
                                                   [x_in] + params))
    for got, want in zip(*grads):
        torch.testing.assert_close(got, want, **TOLERANCES[dtype])


def test_cpu_kernel_runs_for_float32_only(monkeypatch):
    calls = []
    attention = PoseTransformer.__init__.__globals__['joint_attention']
    monkeypatch.setitem(PoseTransformer.__init__.__globals__,
                        'joint_attention',
                        lambda *args: calls.append(args) or attention(*args))
    model = PoseTransformer(impl='cpu_kernel')
    x, weight = _inputs()
    model(x, weight)
    assert len(calls) == 4  # one per block
    model.double()(x.double(), weight)
    assert len(calls) == 4


@pytest.mark.parametrize('impl', ['fused', 'batch_last', 'cpu_kernel'])
def test_hand_without_valid_joints_gives_finite_output(impl):
    model = PoseTransformer(impl=impl)
    x = torch.randn(2, 21, 2)
    assert torch.isfinite(model(x, torch.zeros(2, 21))).all()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match='invalid_joints'):
        PoseTransformer(invalid_joints='drop')
    with pytest.raises(ValueError, match='divisible'):
        PoseTransformer(embed_dim=30, num_heads=8)
    with pytest.raises(ValueError, match="impl must be one of.*'broadcast'"):
        PoseTransformer(impl='broadcast')
