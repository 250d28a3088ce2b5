import numpy as np
import pytest
import torch
from inference_toys import CAM_K, LIFTING_CONFIG, hand_2d_px, hand_3d_m

from hp3d.apis import Hand3DInferencer, LiftingInferencer, init_model


@pytest.fixture(scope='module')
def inferencer(lifting_ckpt):
    return Hand3DInferencer(str(LIFTING_CONFIG), weights=str(lifting_ckpt))


def _direct_mm(model, keypoints_2d, valid):
    """The model called by hand: codec encode, tensor forward, decode."""
    codec = model.head.codec
    encoded = codec.encode(keypoints_2d, None, valid)
    with torch.no_grad():
        pred = model(torch.from_numpy(encoded['inputs']),
                     dict(input_weight=torch.from_numpy(
                         encoded['input_weight'])), mode='tensor')
    return codec.decode(pred).numpy()


def test_dispatches_lifting_configs_to_the_lifting_inferencer(inferencer):
    assert isinstance(inferencer.inferencer, LiftingInferencer)


def test_batch_equals_the_model_called_directly(inferencer, lifting_cfg,
                                                lifting_ckpt):
    keypoints = np.stack([hand_2d_px(seed=s) for s in range(3)])
    valid = np.ones((3, 21), bool)
    valid[1, [4, 8, 12]] = False
    out = inferencer(keypoints, valid, hands=['right', 'left', 'right'],
                     batch_size=2)
    preds = out['predictions']
    assert [p['hand'] for p in preds] == ['right', 'left', 'right']
    assert out['visualization'] == []

    model = init_model(lifting_cfg, str(lifting_ckpt))
    expected = _direct_mm(model, keypoints, valid)
    got = np.stack([p['keypoints_3d_rel_mm'] for p in preds])
    assert got.shape == (3, 21, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
    # the weights were loaded: a fresh random model predicts differently
    torch.manual_seed(123)
    other = _direct_mm(init_model(lifting_cfg), keypoints, valid)
    assert np.abs(other - got).max() > 1.0


def test_single_hand_equals_its_row_in_a_batch(inferencer):
    keypoints = np.stack([hand_2d_px(seed=s) for s in range(2)])
    batch = inferencer(keypoints)['predictions']
    single = inferencer(keypoints[1])['predictions']
    assert len(single) == 1
    np.testing.assert_allclose(single[0]['keypoints_3d_rel_mm'],
                               batch[1]['keypoints_3d_rel_mm'], atol=1e-5)
    np.testing.assert_array_equal(single[0]['keypoints_3d_rel_mm'][0], 0.0)


def test_invalid_joints_do_not_change_the_prediction(inferencer):
    keypoints = hand_2d_px()
    valid = np.ones(21, bool)
    valid[[3, 7]] = False
    moved = keypoints.copy()
    moved[[3, 7]] += 80.0
    a = inferencer(keypoints, valid)['predictions'][0]['keypoints_3d_rel_mm']
    b = inferencer(moved, valid)['predictions'][0]['keypoints_3d_rel_mm']
    np.testing.assert_allclose(a, b, atol=1e-5)
    # NaN coordinates count as invalid without a validity array
    nan = keypoints.copy()
    nan[[3, 7]] = np.nan
    c = inferencer(nan)['predictions'][0]['keypoints_3d_rel_mm']
    np.testing.assert_allclose(a, c, atol=1e-5)
    # and a moved valid joint does change it
    d = inferencer(moved)['predictions'][0]['keypoints_3d_rel_mm']
    assert np.abs(d - a).max() > 1e-3


def test_camera_space_from_intrinsics_and_wrist_depth(inferencer):
    seeds = (0, 1)
    keypoints = np.stack([hand_2d_px(CAM_K, seed=s) for s in seeds])
    wrists_m = np.stack([hand_3d_m(seed=s)[0] for s in seeds])
    out = inferencer(keypoints, cam_K=CAM_K, wrist_depth_m=wrists_m[:, 2])
    for pred, wrist_m in zip(out['predictions'], wrists_m):
        cam_m = pred['keypoints_3d_cam_m']
        # the wrist lands on the true wrist: its ray at the given depth
        np.testing.assert_allclose(cam_m[0], wrist_m, atol=1e-6)
        np.testing.assert_allclose(
            cam_m - cam_m[0], pred['keypoints_3d_rel_mm'] / 1000.0, atol=1e-6)

    # one depth per hand, NaN for a hand without depth
    out = inferencer(keypoints, cam_K=CAM_K,
                     wrist_depth_m=[wrists_m[0, 2], np.nan])
    assert 'keypoints_3d_cam_m' in out['predictions'][0]
    assert 'keypoints_3d_cam_m' not in out['predictions'][1]


def test_depth_for_a_hand_without_wrist_is_an_error(inferencer):
    keypoints = hand_2d_px()
    keypoints[0] = np.nan
    with pytest.raises(ValueError, match=r'hands \[0\].*wrist 2D'):
        inferencer(keypoints, wrist_depth_m=0.4)


@pytest.mark.parametrize('kwargs, match', [
    (dict(keypoints_2d=np.zeros((21, 3))), r'\(21, 2\)'),
    (dict(keypoints_2d=np.zeros((2, 21, 2)), keypoints_valid=np.ones(20)),
     'keypoints_valid'),
    (dict(keypoints_2d=np.zeros((2, 21, 2)), hands=['left']),
     '2 hands but 1'),
    (dict(keypoints_2d=np.zeros((21, 2)), hands='up'), 'handedness'),
    (dict(keypoints_2d=np.zeros((21, 2)), cam_K=np.eye(2)), 'cam_K'),
])
def test_bad_inputs_are_named(inferencer, kwargs, match):
    with pytest.raises(ValueError, match=match):
        inferencer(**kwargs)


def test_figures_are_returned_and_written(inferencer, tmp_path):
    out = inferencer(hand_2d_px(), hands='left', out_dir=tmp_path,
                     return_vis=True)
    figure, = out['visualization']
    # The input 2D panel (no GT to draw) and the 3D views.
    num_panels = 1 + len(inferencer.inferencer.visualizer.views)
    assert figure.shape == (
        *inferencer.inferencer.visualizer.figure_size_px(num_panels), 3)
    assert figure.dtype == np.uint8 and figure.std() > 0
    assert [p.name for p in tmp_path.iterdir()] == ['hand_0_000000_left.png']


def test_cpu_training_layouts_run_fused_off_the_cpu(monkeypatch, tmp_path,
                                                    request):
    """A checkpoint of the -compile config on another device: the same
    weights in the standard layout, no C++ compiler needed; on the CPU the
    config's kernel is built as configured."""
    from mmengine.config import Config

    from hp3d.apis.model_index import REPO_ROOT
    from hp3d.models.ops import KernelBuildError, cpp_build
    from hp3d.models.ops.joint_attention import kernel
    kernel.cache_clear()
    request.addfinalizer(kernel.cache_clear)  # the real build again after
    monkeypatch.setenv('CXX', 'no-such-c++')
    monkeypatch.setenv(cpp_build.CACHE_ENV, str(tmp_path))
    cfg = Config.fromfile(
        REPO_ROOT / 'configs' / 'lifting' /
        'lifting_pose-transformer-d32l4_1xb64-30e_synthetic-gt2d-compile.py')

    model = init_model(cfg, device='meta')
    assert model.backbone.impl == 'fused'
    assert model.cfg.model.backbone.impl == 'fused'
    assert cfg.model.backbone.impl == 'cpu_kernel'  # the caller's, untouched
    assert next(model.parameters()).device.type == 'meta'
    with pytest.raises(KernelBuildError, match='no-such-c'):
        init_model(cfg, device='cpu')
