import os.path as osp

import cv2
import numpy as np
import pytest

from hp3d.datasets.camera import project
from hp3d.registry import VISUALIZERS
from hp3d.visualization import (
    Hand3DVisualizer,
    frame_to_crop,
    prediction_to_frame,
    wrist_relative_mpjpe_mm,
)
from hp3d.visualization.hand3d_visualizer import _HandDrawing

THUMB_RGB = np.array([255, 128, 0])


@pytest.fixture
def visualizer(request, tmp_path):
    return VISUALIZERS.build(
        dict(type='Hand3DVisualizer', name=request.node.name,
             vis_backends=[dict(type='LocalVisBackend')],
             save_dir=str(tmp_path), panel_px=200, header_px=40))


def read_png(path):
    image = cv2.imread(str(path))
    assert image is not None, f'{path} is not a readable image'
    return image


def has_colour(image_rgb, rgb, tol=12):
    return (np.abs(image_rgb.astype(int) - rgb).max(axis=-1) <= tol).any()


@pytest.mark.parametrize('pipeline', ['image_sample', 'lifting_sample'])
def test_writes_a_png_of_five_panels(pipeline, visualizer, tmp_path,
                                     request):
    image, sample, prediction = request.getfixturevalue(pipeline)
    out_file = tmp_path / 'figure.png'
    figure = visualizer.add_datasample('hand', image, sample, prediction,
                                       out_file=str(out_file))
    # 2D GT, 2D prediction, 3 views; 200 px panels under a 40 px header.
    assert figure.shape == (240, 1000, 3)
    assert visualizer.figure_size_px(5) == (240, 1000)
    np.testing.assert_array_equal(read_png(out_file), figure[..., ::-1])
    assert has_colour(figure, THUMB_RGB)
    # Nothing was sent to the backends.
    assert not osp.exists(tmp_path / 'vis_data' / 'vis_image')


def test_panels_follow_what_is_known(image_sample):
    image, sample, prediction = image_sample
    # One 3D view keeps this test fast; panels are 100 px wide.
    visualizer = Hand3DVisualizer(name='panels', views=('top', ),
                                  panel_px=100, header_px=20)
    assert visualizer.draw_sample(image, sample, prediction).shape == (
        120, 300, 3)  # GT 2D, prediction 2D, top view
    assert visualizer.draw_sample(image, sample).shape[1] == 200
    no_gt = visualizer.draw_sample(image, sample, prediction, draw_gt=False)
    assert no_gt.shape[1] == 200  # prediction 2D, top view
    box_only = dict(sample, has_gt=np.array(False),
                    keypoints_3d=np.full((21, 3), np.nan, np.float32),
                    keypoints_valid=np.zeros(21, bool))
    # The bare crop (no GT wrist to project the prediction), the top view.
    assert visualizer.draw_sample(image, box_only,
                                  prediction).shape[1] == 200
    assert visualizer.draw_sample(image, box_only).shape[1] == 100


def test_lifting_without_gt_shows_its_input_2d(lifting_sample):
    _, sample, prediction = lifting_sample
    visualizer = Hand3DVisualizer(name='lifting_input', views=('top', ),
                                  panel_px=100, header_px=20)
    keypoints_2d = project(sample['keypoints_3d'].astype(np.float64),
                           sample['cam_K'])
    # What the lifting inferencer passes: 2D input, 2D validity, no 3D.
    no_gt = dict(sample, keypoints_2d=keypoints_2d, has_gt=np.array(False),
                 keypoints_3d=np.full((21, 3), np.nan, np.float32))
    figure = visualizer.draw_sample(None, no_gt, prediction)
    assert figure.shape == (120, 200, 3)  # input 2D, top view
    # The thumb's colour below the legend band: the input skeleton.
    assert has_colour(figure[20:, :100], THUMB_RGB)
    nothing_valid = dict(no_gt, keypoints_valid=np.zeros(21, bool))
    assert visualizer.draw_sample(None, nothing_valid,
                                  prediction).shape[1] == 100
    # With GT (validation), the same keypoints are the GT 2D panel, as before.
    with_gt = dict(sample, keypoints_2d=keypoints_2d)
    assert visualizer.draw_sample(None, with_gt, prediction).shape[1] == 300


def test_sends_to_backends_without_out_file(visualizer, lifting_sample,
                                            tmp_path):
    _, sample, prediction = lifting_sample
    visualizer.add_datasample('val_hand', None, sample, prediction, step=7)
    written = tmp_path / 'vis_data' / 'vis_image' / 'val_hand_7.png'
    assert read_png(written).shape == (240, 1000, 3)


def test_image_without_warp_mat_is_an_error(visualizer, image_sample):
    image, sample, prediction = image_sample
    del sample['warp_mat']
    with pytest.raises(KeyError, match='georgiatech_cooking_01_1'):
        visualizer.draw_sample(image, sample, prediction)


def test_projection_helpers(image_sample):
    _, sample, prediction = image_sample
    gt_m = sample['keypoints_3d'].astype(np.float64)
    gt_rel_mm = (gt_m - gt_m[0]) * 1000.0
    # A perfect prediction lands on the GT's projection, in frame and crop.
    frame_px = prediction_to_frame(gt_rel_mm, gt_m, sample['cam_K'])
    np.testing.assert_allclose(frame_px, project(gt_m, sample['cam_K']),
                               atol=1e-6)
    np.testing.assert_allclose(frame_to_crop(frame_px, sample['warp_mat']),
                               sample['keypoints_2d_crop'], atol=1e-3)
    assert prediction_to_frame(gt_rel_mm, np.full((21, 3), np.nan),
                               sample['cam_K']) is None
    # Every non-wrist joint off by (3, 4, 0) mm: 5 mm; joint 20 is invalid,
    # the wrist counts with 0 mm: 19 * 5 / 20.
    pred = gt_rel_mm + [3.0, 4.0, 0.0]
    pred[0] = 0.0
    assert wrist_relative_mpjpe_mm(pred, gt_m, sample['keypoints_valid']) \
        == pytest.approx(19 * 5.0 / 20)


def test_a_mirrored_left_hand_is_labelled(image_sample):
    # MirrorLeftHand flipped the crop and its 2D; the 3D panels show the
    # hand as it is (un-mirrored), so the figure says which is which
    image, sample, prediction = image_sample
    plain = _HandDrawing(image, sample, prediction, draw_gt=True)
    mirrored = _HandDrawing(image, dict(sample, flipped=np.array(True)),
                            prediction, draw_gt=True)
    assert 'mirrored' not in plain.title()
    assert mirrored.title().endswith('crop mirrored, 3D as the hand is')
    assert [t for t, _ in mirrored.panels_2d()] == [
        'GT 2D (mirrored crop px)', 'Prediction projected (mirrored crop px)']


@pytest.mark.parametrize('pipeline', ['image_sample', 'lifting_sample'])
def test_a_reused_figure_draws_as_a_new_one(pipeline, request):
    # Each panel layout's figure is made once and redrawn: nothing of the
    # sample drawn before may remain, and the axes' limits follow the new
    # sample's frame region.
    image, sample, prediction = request.getfixturevalue(pipeline)
    moved = dict(sample, frame_number=456,
                 keypoints_3d=sample['keypoints_3d'] + np.float32(0.03),
                 bbox=sample['bbox'] + np.float32(40.0))
    if image is not None:
        moved['keypoints_2d_crop'] = sample['keypoints_2d_crop'] + 15.0
        moved_image = np.ascontiguousarray(image[::-1])
    else:
        moved_image = None
    moved_prediction = dict(prediction, pred_mm=prediction['pred_mm'] * 0.8)

    def new_visualizer(name):
        return Hand3DVisualizer(name=name, views=('front', 'top'),
                                panel_px=120, header_px=24)

    reused = new_visualizer(f'reused_{pipeline}')
    first = reused.draw_sample(image, sample, prediction)
    second = reused.draw_sample(moved_image, moved, moved_prediction)
    assert len(reused._figures) == 1
    fresh = new_visualizer(f'fresh_{pipeline}').draw_sample(
        moved_image, moved, moved_prediction)
    assert (second != first).any()
    np.testing.assert_array_equal(second, fresh)
    np.testing.assert_array_equal(
        reused.draw_sample(image, sample, prediction), first)
