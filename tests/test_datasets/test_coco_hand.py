import json

import numpy as np
import pytest

from hp3d.datasets import EgoExo4DHandDataset
from hp3d.datasets.camera import default_intrinsics, project
from hp3d.datasets.coco_export import egoexo4d_to_coco
from hp3d.datasets.coco_hand import CocoHandDataset
from hp3d.registry import DATASETS

NAN = float('nan')


def official_hand(seed, invalid=()):
    rng = np.random.default_rng(seed)
    kpts_3d = np.array([0.02, 0.05, 0.4]) + rng.uniform(-0.04, 0.04, (21, 3))
    kpts_2d = project(kpts_3d, default_intrinsics())
    valid = np.ones(21, bool)
    valid[list(invalid)] = False
    kpts_3d[list(invalid)] = NAN
    kpts_2d[list(invalid)] = NAN
    box = np.r_[np.nanmin(kpts_2d, 0) - 20, np.nanmax(kpts_2d, 0) + 20]
    return {'hand_3d': kpts_3d.tolist(), 'hand_2d': kpts_2d.tolist(),
            'hand_bbox': box.tolist(), 'hand_valid_3d': valid.tolist()}


def official_frame(take_uid, take_name, number, **hands):
    out = dict(metadata=dict(take_uid=take_uid, take_name=take_name,
                             frame_number=number))
    for side in ('right', 'left'):
        for key, value in hands.get(side, {}).items():
            out[f'{side}_{key}'] = value
        for key in ('hand_3d', 'hand_2d', 'hand_bbox', 'hand_valid_3d'):
            out.setdefault(f'{side}_{key}', [])
    return out


def write_json(path, content):
    path.write_text(json.dumps(content))
    return str(path)


def coco_file(tmp_path, annotations, images=None):
    images = images or [dict(id=1, file_name='a/000001.jpg', width=512,
                             height=512)]
    return write_json(tmp_path / 'hands.json',
                      dict(images=images, annotations=annotations,
                           categories=[dict(id=1, name='hand')]))


def hand_ann(ann_id=1, keypoints=None, bbox=(10.0, 20.0, 100.0, 50.0),
             **extra):
    if keypoints is None:
        keypoints = [v for j in range(21) for v in (j * 3.0, j + 100.0, 2)]
    return dict(id=ann_id, image_id=1, category_id=1, keypoints=keypoints,
                bbox=list(bbox), num_keypoints=21, iscrowd=0, **extra)


def test_round_trip_through_coco(tmp_path):
    """EgoExo4D file -> COCO file -> CocoHandDataset: same 2D, boxes, ids."""
    anno = {
        'take-a': {
            '10': official_frame('take-a', 'cook_1', 10,
                                 right=official_hand(0),
                                 left=official_hand(1, invalid=(3, 7, 20))),
            '13': official_frame('take-a', 'cook_1', 13,
                                 left=official_hand(2, invalid=(5, ))),
        },
        'take-b': {'5': official_frame('take-b', 'bike_2', 5,
                                       right=official_hand(3))},
    }
    ann_file = write_json(tmp_path / 'ego_pose_gt_anno_val_public.json', anno)
    cam_dir = tmp_path / 'camera_pose'
    cam_dir.mkdir()
    take_b_K = [[200.0, 0.0, 250.0], [0.0, 201.0, 260.0], [0.0, 0.0, 1.0]]
    write_json(cam_dir / 'take-b.json',
               {'aria01': dict(camera_intrinsics=take_b_K,
                               camera_extrinsics={})})
    source = EgoExo4DHandDataset(ann_file, data_prefix=dict(
        img='', camera=str(cam_dir)))
    coco_path = write_json(tmp_path / 'coco.json',
                           egoexo4d_to_coco(ann_file, camera_dir=str(cam_dir)))
    back = CocoHandDataset(coco_path)

    assert len(back) == len(source) == 4
    for i in range(4):
        src, out = source[i], back[i]
        for key in ('take_uid', 'take_name', 'frame_number', 'hand',
                    'is_left'):
            assert out[key] == src[key], key
        np.testing.assert_array_equal(out['keypoints_valid'],
                                      src['keypoints_valid'])
        np.testing.assert_array_equal(out['keypoints_2d'],
                                      src['keypoints_2d'])  # NaN == NaN here
        np.testing.assert_array_equal(out['bbox'], src['bbox'])
        np.testing.assert_array_equal(out['cam_K'], src['cam_K'])
        assert out['keypoints_2d'].dtype == np.float32
        assert not out['has_gt'] and np.isnan(out['keypoints_3d']).all()
        assert out['keypoints_3d'].shape == (21, 3)
    assert back[1]['keypoints_valid'].sum() == 18
    np.testing.assert_array_equal(back[3]['cam_K'], take_b_K)


def test_one_hand_per_annotation(tmp_path):
    kpts = [v for j in range(21) for v in (j * 3.0, j + 100.0, 2)]
    kpts[5 * 3 + 2] = 0  # joint 5 unlabelled
    kpts[6 * 3 + 2] = 1  # joint 6 labelled, occluded: still valid
    K = [[300.0, 0, 100.0], [0, 300.0, 120.0], [0, 0, 1]]
    images = [dict(id=1, file_name='a/000001.jpg', camera_intrinsics=K),
              dict(id=2, file_name='b/000002.jpg')]
    anns = [hand_ann(1, kpts, hand_side='left'),
            dict(hand_ann(2), image_id=2),
            dict(hand_ann(3), iscrowd=1)]
    path = coco_file(tmp_path, anns, images)
    dataset = DATASETS.build(dict(type='CocoHandDataset', ann_file=path,
                                  data_prefix=dict(img='imgs')))
    assert len(dataset) == 2  # the crowd annotation is skipped
    left, right = dataset[0], dataset[1]
    assert left['hand'] == 'left' and left['is_left']
    assert right['hand'] == 'right' and not right['is_left']  # default
    expected = np.stack([np.arange(21) * 3.0, np.arange(21) + 100.0], 1)
    expected[5] = np.nan
    np.testing.assert_array_equal(left['keypoints_2d'], expected)
    assert left['keypoints_valid'].tolist() == [j != 5 for j in range(21)]
    np.testing.assert_array_equal(left['bbox'], [10, 20, 110, 70])
    np.testing.assert_array_equal(left['cam_K'], K)
    np.testing.assert_array_equal(right['cam_K'], default_intrinsics())
    assert left['img_path'] == 'imgs/a/000001.jpg'
    assert left['img_id'] == 1 and right['img_id'] == 2
    # Plain COCO files have no take/frame: '' and the image id.
    assert (right['take_uid'], right['take_name'], right['frame_number']) \
        == ('', '', 2)


def test_default_hand_and_min_keypoints(tmp_path):
    kpts = [v for j in range(21) for v in (j, j, 2 if j < 8 else 0)]
    path = coco_file(tmp_path, [hand_ann(1, kpts), hand_ann(2)])
    dataset = CocoHandDataset(path, default_hand='left', min_keypoints=9)
    assert len(dataset) == 1
    assert dataset[0]['hand'] == 'left'
    assert dataset[0]['keypoints_valid'].all()
    assert dataset[0]['img_path'] == ''
    with pytest.raises(ValueError, match='default_hand'):
        CocoHandDataset(path, default_hand='both')
    with pytest.raises(ValueError, match=r'hands.json: no hand to load \(2 '
                       r'annotations, .*min_keypoints=22\)'):
        CocoHandDataset(path, min_keypoints=22)
    with pytest.raises(ValueError, match=r'no hand to load \(0 annotations'):
        CocoHandDataset(coco_file(tmp_path, []))


def test_coco_wholebody_hands(tmp_path):
    kpts = [v for j in range(21) for v in (j + 1.0, 2.0 * j, 2)]
    person = dict(id=7, image_id=1, category_id=1, iscrowd=0,
                  keypoints=[0] * 51, bbox=[0, 0, 300, 400],
                  lefthand_kpts=kpts, lefthand_box=[1, 2, 30, 40],
                  lefthand_valid=True, righthand_kpts=[0] * 63,
                  righthand_box=[0, 0, 0, 0], righthand_valid=False)
    dataset = CocoHandDataset(coco_file(tmp_path, [person]))
    assert len(dataset) == 1
    hand = dataset[0]
    assert hand['hand'] == 'left'
    np.testing.assert_array_equal(hand['bbox'], [1, 2, 31, 42])
    np.testing.assert_array_equal(hand['keypoints_2d'][20], [21.0, 40.0])


@pytest.mark.parametrize('ann, match', [
    (hand_ann(keypoints=[1.0] * 51), '51 keypoint values'),
    (hand_ann(bbox=(0, 0, -5, 10)), 'bbox must be'),
    (hand_ann(hand_side='middle'), "hand_side 'middle'"),
    (dict(hand_ann(), image_id=9), 'unknown image 9'),
])
def test_bad_annotations_name_the_file(tmp_path, ann, match):
    path = coco_file(tmp_path, [ann])
    with pytest.raises(ValueError, match=match) as err:
        CocoHandDataset(path)
    assert 'hands.json' in str(err.value)


def test_feeds_the_lifting_data_path(tmp_path):
    """COCO 2D keypoints -> LiftingTensorDataset batch for the lifter."""
    from hp3d.codecs import LiftingCodec
    from hp3d.datasets import LiftingTensorDataset

    kpts = [v for j in range(21) for v in (j * 3.0, j + 100.0, 2)]
    kpts[5 * 3 + 2] = 0
    path = coco_file(tmp_path, [hand_ann(1, kpts, hand_side='left'),
                                hand_ann(2)])
    codec = LiftingCodec(input_mean_px=(10.0, 100.0), input_std_px=(2.0, 4.0))
    batch = LiftingTensorDataset(CocoHandDataset(path), codec).__getitems__(
        [0, 1])
    inputs, samples = batch['inputs'].numpy(), batch['data_samples']
    np.testing.assert_allclose(inputs[0, 20], [(60 - 10) / 2, (120 - 100) / 4])
    assert (inputs[0, 5] == 0).all()
    assert samples['input_weight'][0].tolist() == [float(j != 5)
                                                   for j in range(21)]
    assert samples['input_weight'][1].all()
    assert not samples['has_gt'].any()
    assert not samples['target_weight'].any()  # no 3D GT to train on
    assert samples['hand'].tolist() == ['left', 'right']
    assert samples['is_left'].tolist() == [True, False]


def test_feeds_the_lifting_pipeline(tmp_path):
    """COCO 2D keypoints through GenerateTarget(LiftingCodec) + PackInputs."""
    from hp3d.codecs import LiftingCodec
    from hp3d.datasets.transforms import GenerateTarget, PackInputs

    codec = LiftingCodec(input_mean_px=(10.0, 100.0), input_std_px=(2.0, 4.0))
    pipeline = [GenerateTarget(codec), PackInputs(inputs_key='lifting_inputs')]
    dataset = CocoHandDataset(coco_file(tmp_path, [hand_ann()]),
                              pipeline=pipeline)
    packed = dataset[0]
    np.testing.assert_allclose(packed['inputs'][20].numpy(),
                               [(60 - 10) / 2, (120 - 100) / 4])
    assert packed['data_samples']['input_weight'].all()
    assert not packed['data_samples']['target_weight'].any()
