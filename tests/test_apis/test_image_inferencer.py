from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from inference_toys import CAM_K, TINY_POTTER_CONFIG, save_random_checkpoint
from mmengine.config import Config
from mmengine.dataset import Compose, default_collate
from mmengine.registry import init_default_scope

from hp3d.apis import (
    Hand3DInferencer,
    ImageInferencer,
    backproject_px,
    init_model,
)
from hp3d.datasets.camera import default_intrinsics
from hp3d.registry import TRANSFORMS

BOXES = [[120.0, 140.0, 230.0, 260.0], [300.0, 90.0, 380.0, 200.0]]
HANDS = ['left', 'right']


def _image(seed: int) -> np.ndarray:
    """A 512x512 BGR frame with smooth structure (blobs) and noise."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    image = cv2.resize(small, (512, 512), interpolation=cv2.INTER_CUBIC)
    return cv2.add(image, rng.integers(0, 20, image.shape, dtype=np.uint8))


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp('image_inferencer')
    config_file = TINY_POTTER_CONFIG
    ckpt = save_random_checkpoint(Config.fromfile(str(config_file)),
                                  root / 'tiny_potter.pth', 3)
    frames = root / 'frames'
    frames.mkdir()
    for i in range(2):
        # PNG: lossless, so the file decodes to exactly these pixels
        cv2.imwrite(str(frames / f'{i:06d}.png'), _image(i))
    return config_file, ckpt, frames


@pytest.fixture(scope='module')
def inferencer(files):
    config_file, ckpt, _ = files
    return Hand3DInferencer(str(config_file), weights=str(ckpt))


@pytest.fixture(scope='module')
def direct(files):
    """The checkpoint's model and the config's test pipeline, built here
    rather than taken from the inferencer."""
    config_file, ckpt, _ = files
    cfg = Config.fromfile(str(config_file))
    init_default_scope('hp3d')
    pipeline = Compose([TRANSFORMS.build(t)
                        for t in cfg.test_dataloader.dataset.pipeline])
    return init_model(cfg, str(ckpt)), pipeline


def _direct_mm(direct, image_path: Path, bbox, hand: str) -> np.ndarray:
    """The model on the test pipeline's output for one design §1 sample."""
    sample = dict(
        sample_idx=0, img_path=str(image_path), take_uid='t', take_name='t',
        frame_number=0, hand=hand, is_left=hand == 'left',
        bbox=np.array(bbox, np.float32),
        keypoints_2d=np.full((21, 2), np.nan, np.float32),
        keypoints_3d=np.full((21, 3), np.nan, np.float32),
        keypoints_valid=np.zeros(21, bool), has_gt=False,
        cam_K=default_intrinsics())
    model, pipeline = direct
    batch = default_collate([pipeline(sample)])
    return model.test_step(batch)[0]['pred_mm']


def test_dispatches_image_configs_to_the_image_inferencer(inferencer):
    assert isinstance(inferencer.inferencer, ImageInferencer)


def test_one_image_equals_the_model_called_directly(inferencer, files,
                                                    direct):
    _, _, frames = files
    image = frames / '000000.png'
    out = inferencer(str(image), bboxes=BOXES, hands=HANDS)
    preds = out['predictions']
    assert [p['hand'] for p in preds] == HANDS
    assert [p['img_index'] for p in preds] == [0, 0]
    assert [p['img_path'] for p in preds] == [str(image)] * 2
    for pred, bbox, hand in zip(preds, BOXES, HANDS):
        np.testing.assert_array_equal(pred['bbox'], bbox)
        rel_mm = pred['keypoints_3d_rel_mm']
        assert rel_mm.shape == (21, 3) and rel_mm.dtype == np.float32
        np.testing.assert_array_equal(rel_mm[0], 0.0)
        np.testing.assert_allclose(
            rel_mm, _direct_mm(direct, image, bbox, hand), atol=1e-4)
    # a single box, handedness as a string
    one = inferencer(str(image), bboxes=BOXES[1], hands='right')
    np.testing.assert_allclose(one['predictions'][0]['keypoints_3d_rel_mm'],
                               preds[1]['keypoints_3d_rel_mm'], atol=1e-4)
    # other weights predict otherwise: the checkpoint was loaded
    torch.manual_seed(123)
    other = (init_model(Config.fromfile(str(files[0]))), direct[1])
    assert np.abs(_direct_mm(other, image, BOXES[1], HANDS[1])
                  - preds[1]['keypoints_3d_rel_mm']).max() > 1.0


def test_folder_batches_do_not_change_results(inferencer, files):
    _, _, frames = files
    bboxes = [BOXES, BOXES[:1]]
    hands = [HANDS, HANDS[:1]]
    by_one = inferencer(str(frames), bboxes, hands, batch_size=1)
    by_three = inferencer(str(frames), bboxes, hands, batch_size=3)
    assert [p['img_index'] for p in by_one['predictions']] == [0, 0, 1]
    assert [Path(p['img_path']).name for p in by_one['predictions']] == [
        '000000.png', '000000.png', '000001.png'
    ]
    for a, b in zip(by_one['predictions'], by_three['predictions']):
        np.testing.assert_allclose(a['keypoints_3d_rel_mm'],
                                   b['keypoints_3d_rel_mm'], atol=1e-4)
    # the second image is another input: another prediction
    assert np.abs(by_one['predictions'][2]['keypoints_3d_rel_mm']
                  - by_one['predictions'][0]['keypoints_3d_rel_mm']).max() > 0


def test_array_input_equals_the_file(inferencer, files, tmp_path):
    _, _, frames = files
    image = frames / '000001.png'
    from_file = inferencer(str(image), BOXES, HANDS)['predictions']
    from_array = inferencer(cv2.imread(str(image)), BOXES, HANDS)[
        'predictions']
    assert [p['img_path'] for p in from_array] == ['', '']
    assert [p['img_index'] for p in from_array] == [0, 0]
    for a, b in zip(from_file, from_array):
        np.testing.assert_array_equal(a['keypoints_3d_rel_mm'],
                                      b['keypoints_3d_rel_mm'])
    # arrays are named by their position
    inferencer([cv2.imread(str(image))] * 2, [BOXES[:1]] * 2,
               [['right']] * 2, out_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'image_0_000000_right.png', 'image_1_000000_right.png'
    ]
    with pytest.raises(ValueError, match='uint8'):
        inferencer(np.zeros((64, 64, 3), np.float32), BOXES[:1], ['left'])


def test_camera_space_from_the_wrist_pixel_and_depth(inferencer, files):
    _, _, frames = files
    wrist_px = np.array([[170.0, 250.0], [340.0, 190.0]])
    depth_m = np.array([0.31, 0.45])
    out = inferencer(str(frames / '000000.png'), BOXES, HANDS, cam_K=CAM_K,
                     wrist_2d_px=wrist_px, wrist_depth_m=depth_m)
    for i, pred in enumerate(out['predictions']):
        cam_m = pred['keypoints_3d_cam_m']
        np.testing.assert_allclose(
            cam_m[0], backproject_px(wrist_px[i], depth_m[i], CAM_K),
            atol=1e-6)
        np.testing.assert_allclose(
            cam_m - cam_m[0], pred['keypoints_3d_rel_mm'] / 1000.0, atol=1e-6)
    with pytest.raises(ValueError, match='both wrist_2d_px and'):
        inferencer(str(frames / '000000.png'), BOXES, HANDS,
                   wrist_depth_m=0.4)


@pytest.mark.parametrize('bboxes, hands, match', [
    ([[1.0, 2.0, 3.0]], ['left'], r'boxes must be \(N, 4\)'),
    (BOXES, ['left'], '2 hands but 1'),
    (BOXES, ['left', 'middle'], 'handedness'),
])
def test_bad_boxes_are_named(inferencer, files, bboxes, hands, match):
    _, _, frames = files
    with pytest.raises(ValueError, match=match):
        inferencer(str(frames / '000000.png'), bboxes, hands)


def test_figures_show_the_crop(inferencer, files, tmp_path):
    _, _, frames = files
    out = inferencer(str(frames / '000001.png'), BOXES[:1], ['left'],
                     out_dir=tmp_path, return_vis=True)
    figure, = out['visualization']
    assert figure.dtype == np.uint8 and figure.std() > 0
    assert [p.name for p in tmp_path.iterdir()] == ['000001_000000_left.png']


def test_every_hand_gets_its_own_figure_file(inferencer, files, tmp_path):
    _, _, frames = files
    # Two right hands in one array, then two files with one stem; one hand
    # per batch, so names taken by earlier batches count too.
    twin = tmp_path / 'other' / '000000.png'
    twin.parent.mkdir()
    twin.write_bytes((frames / '000001.png').read_bytes())
    out_dir = tmp_path / 'vis'
    inferencer(cv2.imread(str(frames / '000000.png')), BOXES,
               ['right', 'right'], out_dir=out_dir, batch_size=1)
    assert sorted(p.name for p in out_dir.iterdir()) == [
        'image_0_000000_right.png', 'image_0_000000_right_1.png'
    ]
    out_dir = tmp_path / 'vis_files'
    out = inferencer([frames / '000000.png', twin], [BOXES[:1]] * 2,
                     [['left']] * 2, out_dir=out_dir, batch_size=1,
                     return_vis=True)
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ['000000_000000_left.png', '000000_000000_left_1.png']
    # the suffix is the hand's position in the call: files match figures
    for i, name in enumerate(names):
        np.testing.assert_array_equal(
            cv2.imread(str(out_dir / name))[..., ::-1],
            out['visualization'][i])


def test_one_handedness_string_for_all_images(inferencer, files):
    _, _, frames = files
    bboxes = [BOXES, BOXES[:1]]
    one = inferencer(str(frames), bboxes, 'left')['predictions']
    listed = inferencer(str(frames), bboxes,
                        [['left', 'left'], ['left']])['predictions']
    assert [p['hand'] for p in one] == ['left'] * 3
    for a, b in zip(one, listed):
        np.testing.assert_array_equal(a['keypoints_3d_rel_mm'],
                                      b['keypoints_3d_rel_mm'])
