import pytest
import torch

from hp3d.models.ops import joint_attention
from hp3d.models.ops.joint_attention import kernel


def _reference(qkv, key_bias, num_heads):
    """The batch-last formula of PoseTransformer, spelt out."""
    channels, K, B = qkv.shape
    D = channels // (3 * num_heads)
    q, k, v = qkv.view(3, num_heads, D, K, B).unbind(0)
    scores = (q.unsqueeze(3) * k.unsqueeze(2)).sum(1) * D**-0.5
    if key_bias is not None:
        scores = scores + key_bias
    out = (scores.softmax(2).unsqueeze(1) * v.unsqueeze(2)).sum(3)
    return out.reshape(num_heads * D, K, B)


def _case(heads, dims, joints, batch, masked, seed=0):
    g = torch.Generator().manual_seed(seed)
    qkv = torch.randn(3 * heads * dims, joints, batch, generator=g,
                      dtype=torch.float64) * 2
    key_bias = None
    if masked:
        valid = torch.rand(joints, batch, generator=g) > 0.3
        valid[:, 0] = False  # hand 0 may attend to joint 0 only
        valid[0] = True
        key_bias = torch.zeros(joints, batch, dtype=torch.float64) \
            .masked_fill(~valid, float('-inf'))
    return qkv, key_bias


def _assert_float32_close(got, want):
    """float32 round-off: within 1e-5 of the largest magnitude (gradients
    reach ~100 here, where 1e-5 absolute is below float32's resolution)."""
    assert got.dtype == torch.float32
    err = (got.double() - want).abs().max().item()
    assert err <= 1e-5 * want.abs().max().item(), err


# (H, D, K, B): the seed model's heads; a batch that is not a multiple of the
# kernel's 16-hand groups; the smallest sizes; wide heads.
SHAPES = [(8, 4, 21, 64), (8, 4, 21, 37), (1, 1, 2, 3), (2, 16, 5, 20)]


@pytest.mark.parametrize('masked', [False, True])
@pytest.mark.parametrize('shape', SHAPES)
def test_equals_float64_reference_with_gradients(shape, masked):
    H = shape[0]
    qkv, key_bias = _case(*shape, masked)
    ref_in = qkv.clone().requires_grad_(True)
    want = _reference(ref_in, key_bias, H)
    probe = torch.randn(want.shape, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(1))
    want_grad, = torch.autograd.grad((want * probe).sum(), ref_in)

    got_in = qkv.float().requires_grad_(True)
    got = joint_attention(got_in, None if key_bias is None
                          else key_bias.float(), H)
    got_grad, = torch.autograd.grad((got * probe.float()).sum(), got_in)
    _assert_float32_close(got, want)
    _assert_float32_close(got_grad, want_grad)


def test_masked_keys_get_exactly_zero_weight():
    qkv, key_bias = _case(8, 4, 21, 37, masked=True)
    qkv, key_bias = qkv.float(), key_bias.float()
    changed = qkv.clone()
    values = changed.view(3, 8, 4, 21, 37)[2]
    masked = torch.isinf(key_bias)
    values[:, :, masked] = 1e6
    torch.testing.assert_close(joint_attention(changed, key_bias, 8),
                               joint_attention(qkv, key_bias, 8),
                               rtol=0, atol=0)
    # hand 0 attends to joint 0 only: every query returns joint 0's value
    out = joint_attention(qkv, key_bias, 8).view(8, 4, 21, 37)[..., 0]
    torch.testing.assert_close(
        out, qkv.view(3, 8, 4, 21, 37)[2, :, :, :1, 0].expand(8, 4, 21),
        rtol=0, atol=0)


def test_same_bits_for_any_thread_count():
    qkv, key_bias = _case(8, 4, 21, 64, masked=True)
    qkv = qkv.float().requires_grad_(True)
    threads = torch.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            out = joint_attention(qkv, key_bias.float(), 8)
            grad, = torch.autograd.grad(out.square().sum(), qkv)
            results.append((out, grad))
    finally:
        torch.set_num_threads(threads)
    for out, grad in results[1:]:
        assert torch.equal(out, results[0][0])
        assert torch.equal(grad, results[0][1])


def test_registered_for_torch_compile():
    """Schema, fake (meta) implementation and autograd registration as
    torch.compile and AOTAutograd use them."""
    qkv, key_bias = _case(8, 4, 21, 37, masked=True)
    torch.library.opcheck(torch.ops.hp3d.joint_attention_fwd.default,
                          (qkv.float().requires_grad_(True),
                           key_bias.float(), 8))
    torch.library.opcheck(torch.ops.hp3d.joint_attention_fwd.default,
                          (qkv.float(), None, 8))


@pytest.mark.parametrize('args,match', [
    (dict(dtype=torch.float64), 'CPU float32 tensors, got torch.float64'),
    (dict(channels=95), r'qkv must be \(3 \* H \* D, K, B\) with H=8, got '
     r'\(95, 21, 4\)'),
    (dict(joints=33), 'up to 32 tokens and 16 dims per head, got 33 and 4'),
    (dict(channels=3 * 8 * 17), 'got 21 and 17'),
    (dict(bias_shape=(4, 21)), r'key_bias must be float32 \(21, 4\) \(K, B\)'
     r', got torch.float32 \(4, 21\)'),
])
def test_bad_input_is_named(args, match):
    qkv = torch.zeros(args.get('channels', 96), args.get('joints', 21), 4,
                      dtype=args.get('dtype', torch.float32))
    key_bias = torch.zeros(args['bias_shape']) if 'bias_shape' in args \
        else None
    with pytest.raises(ValueError, match=match):
        joint_attention(qkv, key_bias, 8)


@pytest.mark.parametrize('isa', ['AVX2', 'DEFAULT'])
def test_builds_for_other_instruction_sets_compute_the_same(
        isa, monkeypatch, tmp_path, request):
    """The kernel is built for the ISA PyTorch detects; narrower builds (AVX2,
    none) split the same vector code and must agree."""
    from hp3d.models.ops import cpp_build
    kernel.cache_clear()
    request.addfinalizer(kernel.cache_clear)  # the real build again after
    monkeypatch.setenv(cpp_build.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(cpp_build.torch.backends.cpu, 'get_cpu_capability',
                        lambda: isa)
    qkv, key_bias = _case(8, 4, 21, 37, masked=True)
    got_in = qkv.float().requires_grad_(True)
    got = joint_attention(got_in, key_bias.float(), 8)
    got_grad, = torch.autograd.grad(got.square().sum(), got_in)
    assert len(list(tmp_path.iterdir())) == 1  # built for this ISA
    ref_in = qkv.clone().requires_grad_(True)
    want = _reference(ref_in, key_bias, 8)
    want_grad, = torch.autograd.grad(want.square().sum(), ref_in)
    _assert_float32_close(got, want)
    _assert_float32_close(got_grad, want_grad)
