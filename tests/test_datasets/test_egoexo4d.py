import copy
import json
import os
import os.path as osp
import re

import numpy as np
import pytest
from mmengine.logging import MMLogger

from hp3d.datasets.annotation_checks import (
    HandRecord,
    Rejection,
    annotated_hand_keys,
    infer_split,
    is_safe_name,
    iter_hand_records,
    read_json,
)
from hp3d.datasets.camera import default_intrinsics
from hp3d.datasets.egoexo4d import EgoExo4DHandDataset
from hp3d.datasets.metainfo import HAND_METAINFO
from hp3d.registry import DATASETS

DATA = osp.join(osp.dirname(__file__), '..', 'data', 'egoexo4d')
PUBLIC_TEST = osp.join(osp.dirname(__file__), '..', 'data', 'egoexo4d_public',
                       'ego_pose_gt_anno_test_public.json')
SAMPLE_KEYS = {
    'sample_idx', 'img_path', 'take_uid', 'take_name', 'frame_number', 'hand',
    'is_left', 'bbox', 'keypoints_2d', 'keypoints_3d', 'keypoints_valid',
    'has_gt', 'cam_K'
}


def load_fixture_frame(take='take-a', frame='0'):
    with open(osp.join(DATA, 'ego_pose_gt_anno_val_public.json')) as f:
        return json.load(f)[take][frame]


def write_anno(tmp_path, anno, name='ego_pose_gt_anno_val_public.json'):
    path = tmp_path / name
    path.write_text(json.dumps(anno))
    return str(path)


def build(ann_file, **kwargs):
    kwargs.setdefault('data_prefix', dict(img='', camera=''))
    # mmengine's serialisation runs gc.collect() (~0.4 s with torch loaded);
    # test_official_fixture_samples covers the serialised path.
    kwargs.setdefault('serialize_data', False)
    return EgoExo4DHandDataset(ann_file, **kwargs)


def one_frame_anno(frame):
    """{take: {frame: ...}} of one frame, keys from its metadata."""
    meta = frame.get('metadata', {})
    return {'take-a': {str(meta.get('frame_number', 0)): frame}}


# ---------------------------------------------------------------- good files


def test_official_fixture_samples():
    ds = EgoExo4DHandDataset(
        'ego_pose_gt_anno_val_public.json', data_root=DATA)
    assert ds.split == 'val'
    assert ds.rejections == []
    assert ds.metainfo['num_keypoints'] == 21
    assert ds.metainfo['keypoint_names'] == HAND_METAINFO['keypoint_names']
    order = [(ds[i]['take_uid'], ds[i]['frame_number'], ds[i]['hand'])
             for i in range(len(ds))]
    # Takes and frames in file order, right before left, empty hands skipped.
    assert order == [('take-a', 0, 'right'), ('take-a', 0, 'left'),
                     ('take-a', 3, 'right'), ('take-b', 10, 'left')]
    raw = load_fixture_frame()
    for i in range(len(ds)):
        sample = ds[i]
        assert set(sample) == SAMPLE_KEYS
        assert sample['keypoints_2d'].dtype == np.float32
        assert sample['keypoints_2d'].shape == (21, 2)
        assert sample['keypoints_3d'].dtype == np.float32
        assert sample['keypoints_3d'].shape == (21, 3)
        assert sample['keypoints_valid'].dtype == bool
        assert sample['bbox'].dtype == np.float32
        assert sample['cam_K'].shape == (3, 3)
        assert sample['is_left'] == (sample['hand'] == 'left')
        assert sample['has_gt'] is True

    right = ds[0]
    np.testing.assert_allclose(right['keypoints_3d'], raw['right_hand_3d'],
                               rtol=1e-6)
    np.testing.assert_allclose(right['bbox'], raw['right_hand_bbox'])
    # The valid wrist may lack its 2D annotation (official reprojection rule).
    assert right['keypoints_valid'].all()
    assert np.isnan(right['keypoints_2d'][0]).all()
    assert np.isfinite(right['keypoints_2d'][1:]).all()
    assert right['img_path'] == osp.join(DATA, 'images', 'val',
                                         'cmu_bike_01_2', '000000.jpg')
    # take-a has a camera file, take-b uses the default intrinsics.
    np.testing.assert_allclose(right['cam_K'],
                               [[160, 0, 250], [0, 161, 252], [0, 0, 1]])
    np.testing.assert_array_equal(ds[3]['cam_K'], default_intrinsics())

    left = ds[1]
    # Wrist flag false: wrist 3D kept (finite), its 2D absent.
    assert not left['keypoints_valid'][0] and left['keypoints_valid'][1:].all()
    np.testing.assert_allclose(left['keypoints_3d'][0],
                               raw['left_hand_3d'][0], rtol=1e-6)
    assert np.isnan(left['keypoints_2d'][0]).all()

    partial = ds[2]
    assert partial['keypoints_valid'].sum() == 12
    assert np.isnan(partial['keypoints_3d'][12:]).all()
    assert np.isnan(partial['keypoints_2d'][12:]).all()
    assert np.isfinite(partial['keypoints_3d'][:12]).all()


def test_older_file_name_and_valid_key():
    ds = build(osp.join(DATA, 'ego_pose_gt_anno_train.json'))
    assert ds.split == 'train'
    assert [ds[i]['hand'] for i in range(len(ds))] == ['right', 'left']
    assert ds[0]['keypoints_valid'].sum() == 21
    assert ds[1]['keypoints_valid'].sum() == 12
    assert ds[0]['img_path'] == ''


def test_built_from_registry_with_pipeline():
    ds = DATASETS.build(
        dict(type='EgoExo4DHandDataset',
             ann_file=osp.join(DATA, 'ego_pose_gt_anno_val_public.json'),
             data_prefix=dict(img='imgs', camera=''),
             pipeline=[lambda results: dict(hand=results['hand'])]))
    assert ds[3] == dict(hand='left')


def test_public_test_file_box_only():
    ds = build(PUBLIC_TEST)
    assert ds.split == 'test'
    assert len(ds) == 8772
    arrays = ds.get_arrays()
    assert arrays['is_left'].sum() == 4944
    assert (~arrays['is_left']).sum() == 3828
    assert not arrays['has_gt'].any()
    assert not arrays['keypoints_valid'].any()
    assert np.isnan(arrays['keypoints_3d']).all()
    assert ds.rejections == []
    assert len(set(arrays['take_uid'])) == 86
    frames = set(zip(arrays['take_uid'], arrays['frame_number'].tolist()))
    assert len(frames) == 5832
    expected = annotated_hand_keys(read_json(PUBLIC_TEST))
    assert len(expected) == 8772


@pytest.mark.parametrize('serialize_data, lazy_init', [
    (False, False), (True, False), (False, True), (True, True)])
def test_get_arrays_matches_samples_and_is_cached(serialize_data, lazy_init):
    ds = build(osp.join(DATA, 'ego_pose_gt_anno_val_public.json'),
               serialize_data=serialize_data, lazy_init=lazy_init)
    arrays = ds.get_arrays()
    assert arrays is ds.get_arrays()
    assert arrays['keypoints_2d'].shape == (4, 21, 2)
    assert arrays['keypoints_3d'].shape == (4, 21, 3)
    assert arrays['keypoints_valid'].shape == (4, 21)
    assert arrays['bbox'].shape == (4, 4)
    assert arrays['cam_K'].shape == (4, 3, 3)
    np.testing.assert_array_equal(arrays['frame_number'], [0, 0, 3, 10])
    np.testing.assert_array_equal(arrays['is_left'], [0, 1, 0, 1])
    np.testing.assert_array_equal(arrays['sample_idx'], [0, 1, 2, 3])
    assert arrays['hand'] == ['right', 'left', 'right', 'left']
    assert arrays['take_name'][3] == 'iiith_cooking_5_2'
    for i in range(4):
        np.testing.assert_array_equal(arrays['keypoints_3d'][i],
                                      ds[i]['keypoints_3d'])
    if not serialize_data:
        # read in place, left unchanged
        assert 'sample_idx' not in ds.data_list[0]


def test_get_arrays_of_empty_dataset(tmp_path):
    ds = build(write_anno(tmp_path, {}))
    arrays = ds.get_arrays()
    assert len(ds) == 0
    assert arrays['keypoints_3d'].shape == (0, 21, 3)
    assert arrays['take_uid'] == []


def test_min_valid_joints(tmp_path):
    path = osp.join(DATA, 'ego_pose_gt_anno_val_public.json')
    ds = build(path, min_valid_joints=13)
    assert len(ds) == 3
    assert ds.rejections == [
        dict(take_uid='take-a', frame='3', hand='right',
             kind='too_few_joints',
             reason='12 valid joints, fewer than min_valid_joints=13')
    ]
    assert len(build(path, min_valid_joints=12)) == 4


def test_3d_in_millimetres_is_refused(tmp_path):
    frame = copy.deepcopy(load_fixture_frame())
    for hand in ('right', 'left'):
        frame[f'{hand}_hand_3d'] = (
            np.array(frame[f'{hand}_hand_3d'], dtype=float) * 1000).tolist()
    ann_file = write_anno(tmp_path, {'take-a': {'0': frame}})
    with pytest.raises(ValueError, match=(
            r"val_public.json: in 2 of 2 hands the distance from the wrist "
            r"to the middle finger's base exceeds 1 m, .* not in metres "
            r'\(millimetres\?\)')):
        build(ann_file)


def _fixture_anno():
    with open(osp.join(DATA, 'ego_pose_gt_anno_val_public.json')) as f:
        return json.load(f)


def test_one_take_in_millimetres_is_rejected(tmp_path):
    anno = _fixture_anno()
    frame = anno['take-b']['10']
    frame['left_hand_3d'] = (np.array(frame['left_hand_3d']) * 1000).tolist()
    ds = build(write_anno(tmp_path, anno))
    assert len(ds) == 3
    [rejection] = ds.rejections
    assert rejection['take_uid'] == 'take-b' and rejection['hand'] == 'left'
    assert rejection['kind'] == 'bad_units'
    assert 'the 3D is not in metres (millimetres?)' in rejection['reason']


def test_2d_off_the_projection_of_the_3d_is_rejected(tmp_path):
    anno = _fixture_anno()
    # one hand 40 px off (the benchmark keeps joints within 30 px)
    frame = anno['take-a']['3']
    frame['right_hand_2d'] = (np.array(frame['right_hand_2d'])
                              + [24.0, 32.0]).tolist()
    ds = build(write_anno(tmp_path, anno))
    assert len(ds) == 3
    [rejection] = ds.rejections
    assert (rejection['take_uid'], rejection['frame'], rejection['hand'],
            rejection['kind']) == ('take-a', '3', 'right', 'bad_projection')
    assert re.match(r'the 2D lies 4\d\.\d px \(median of the valid joints\) from '
                    r'the projection of the 3D', rejection['reason'])
    with pytest.raises(ValueError, match="take 'take-a', frame '3', hand "
                       "'right': the 2D lies"):
        build(write_anno(tmp_path, anno), on_bad_record='error')
    # the whole file in the portrait view (u' = H - 1 - v, v' = u)
    anno = _fixture_anno()
    for frames in anno.values():
        for frame in frames.values():
            for hand in ('left', 'right'):
                uv = np.array(frame[f'{hand}_hand_2d'], dtype=float)
                if uv.size:
                    frame[f'{hand}_hand_2d'] = np.stack(
                        [511 - uv[:, 1], uv[:, 0]], axis=1).tolist()
    with pytest.raises(ValueError, match=(
            r'val_public.json: the 2D of 4 of 4 hands lies [\d.]+ px \(median\) '
            r"from the projection of their 3D .* portrait view")):
        build(write_anno(tmp_path, anno))


def test_box_only_frame(tmp_path):
    frame = dict(right_hand_bbox=[], left_hand_bbox=[10.0, 20.0, 30.0, 40.5],
                 metadata=dict(take_uid='take-a', take_name='t',
                               frame_number=5))
    ds = build(write_anno(tmp_path, {'take-a': {'5': frame}},
                          'ego_pose_gt_anno_test_public.json'))
    assert len(ds) == 1
    sample = ds[0]
    assert sample['hand'] == 'left' and sample['has_gt'] is False
    np.testing.assert_array_equal(sample['bbox'], [10, 20, 30, 40.5])
    assert np.isnan(sample['keypoints_2d']).all()
    assert not sample['keypoints_valid'].any()


# ------------------------------------------------------------- bad records


def _set(path, value):
    def mutate(frame):
        node = frame
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


def _set_joint(key, joint, value):
    def mutate(frame):
        frame[key][joint] = value
    return mutate


def _delete(*path):
    def mutate(frame):
        node = frame
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return mutate


def _all_3d_nan(frame):
    frame['right_hand_3d'] = [[float('nan')] * 3] * 21


NAN3 = [float('nan')] * 3
BAD_RECORDS = [
    ('3d_not_list', _set(['right_hand_3d'], 'abc'), 'right', 'wrong_type',
     'right_hand_3d: expected a list, got str'),
    ('3d_shape', _set(['right_hand_3d'], [[0.1, 0.1, 0.4]] * 20), 'right',
     'bad_shape', 'right_hand_3d: expected shape (21, 3), got (20, 3)'),
    ('2d_ragged', _set_joint('right_hand_2d', 4, [1.0]), 'right', 'bad_shape',
     'right_hand_2d: ragged array, expected shape (21, 2)'),
    ('3d_string', _set_joint('right_hand_3d', 3, [0.1, '0.2', 0.3]), 'right',
     'non_numeric', 'right_hand_3d: non-numeric values (strings, null or '
     'booleans) among the coordinates'),
    ('3d_null', _set_joint('right_hand_3d', 3, [0.1, None, 0.3]), 'right',
     'non_numeric', 'right_hand_3d: non-numeric values (strings, null or '
     'booleans) among the coordinates'),
    ('3d_bool', _set_joint('right_hand_3d', 3, [True, 0.2, 0.3]), 'right',
     'non_numeric', 'right_hand_3d: non-numeric values (strings, null or '
     'booleans) among the coordinates'),
    ('bbox_bool', _set(['right_hand_bbox'], [10.0, 20.0, True, 200.0]),
     'right', 'non_numeric', 'right_hand_bbox: non-numeric values (strings, '
     'null or booleans) among the coordinates'),
    ('2d_infinity', _set_joint('right_hand_2d', 2, [float('inf'), 3.0]),
     'right', 'infinity', 'right_hand_2d: Infinity among the coordinates'),
    ('valid_ints', _set(['right_hand_valid_3d'], [1] * 21), 'right',
     'wrong_type', 'right_hand_valid_3d: expected 21 booleans'),
    ('valid_missing', _delete('right_hand_valid_3d'), 'right', 'wrong_type',
     'missing right_hand_valid_3d (or right_hand_valid)'),
    ('2d_missing', _delete('right_hand_2d'), 'right', 'wrong_type',
     'missing right_hand_2d'),
    ('3d_missing', _delete('right_hand_3d'), 'right', 'wrong_type',
     "['right_hand_2d', 'right_hand_valid_3d'] without right_hand_3d"),
    ('metadata_missing', _delete('metadata'), None, 'missing_metadata',
     'missing metadata'),
    ('take_name_missing', _delete('metadata', 'take_name'), None,
     'missing_metadata', "metadata lacks 'take_name'"),
    ('frame_number_str', _set(['metadata', 'frame_number'], '0'), None,
     'wrong_type', 'metadata.frame_number is str, not int'),
    ('frame_mismatch', _set(['metadata', 'frame_number'], 4), None,
     'frame_mismatch',
     "frame key '0' disagrees with metadata.frame_number 4"),
    ('take_mismatch', _set(['metadata', 'take_uid'], 'take-z'), None,
     'take_mismatch',
     "metadata.take_uid 'take-z' disagrees with the take key"),
    ('box_empty', _set(['right_hand_bbox'], [10.0, 20.0, 10.0, 90.0]),
     'right', 'bad_box', 'right_hand_bbox: empty box [10.0, 20.0, 10.0, '
     '90.0]'),
    ('box_inverted', _set(['right_hand_bbox'], [50.0, 20.0, 10.0, 90.0]),
     'right', 'bad_box', 'right_hand_bbox: inverted box [50.0, 20.0, 10.0, '
     '90.0] (x2 < x1 or y2 < y1)'),
    ('box_outside', _set(['right_hand_bbox'], [-5.0, 20.0, 100.0, 90.0]),
     'right', 'bad_box', 'right_hand_bbox: box [-5.0, 20.0, 100.0, 90.0] '
     'outside the 512x512 image'),
    ('box_beyond', _set(['right_hand_bbox'], [10.0, 20.0, 600.0, 90.0]),
     'right', 'bad_box', 'right_hand_bbox: box [10.0, 20.0, 600.0, 90.0] '
     'outside the 512x512 image'),
    ('box_nan', _set(['right_hand_bbox'], [10.0, float('nan'), 60.0, 90.0]),
     'right', 'bad_box', 'right_hand_bbox: NaN in the box'),
    ('all_nan', _all_3d_nan, 'right', 'nan_joints',
     'all 21 valid joints have NaN 3D coordinates'),
    ('valid_points_at_nan_3d', _set_joint('right_hand_3d', 7, NAN3), 'right',
     'nan_joints', 'valid flags point at NaN 3D coordinates (joints [7])'),
    ('valid_points_at_nan_2d',
     _set_joint('right_hand_2d', 9, [float('nan')] * 2), 'right',
     'nan_joints', 'valid flags point at NaN 2D coordinates (joints [9])'),
    ('wrist_nan', _set_joint('left_hand_3d', 0, NAN3), 'left', 'nan_joints',
     'wrist 3D is NaN (the root of wrist-relative poses and of the official '
     'evaluation)'),
]


@pytest.mark.parametrize('mutate, hand, kind, reason',
                         [case[1:] for case in BAD_RECORDS],
                         ids=[case[0] for case in BAD_RECORDS])
def test_bad_record_is_rejected_with_reason(tmp_path, mutate, hand, kind,
                                            reason):
    frame = copy.deepcopy(load_fixture_frame())
    mutate(frame)
    ann_file = write_anno(tmp_path, {'take-a': {'0': frame}})
    ds = build(ann_file)
    assert ds.rejections == [
        dict(take_uid='take-a', frame='0', hand=hand, kind=kind,
             reason=reason)
    ]
    # The other hand of the frame survives a hand-level rejection.
    assert len(ds) == (1 if hand else 0)

    with pytest.raises(ValueError) as error:
        build(ann_file, on_bad_record='error')
    assert str(error.value) == (f"{ann_file}: take 'take-a', frame '0', "
                                f'hand {hand!r}: {reason}')


def _records_both_ways(anno, monkeypatch, min_valid_joints=8):
    """iter_hand_records as it runs, and with every hand checked alone."""
    from hp3d.datasets import annotation_checks
    fast = list(iter_hand_records(anno, min_valid_joints))
    with monkeypatch.context() as m:
        m.setattr(annotation_checks, '_bulk_gt_records',
                  lambda hands, minimum: [None] * len(hands))
        alone = list(iter_hand_records(anno, min_valid_joints))
    return fast, alone


def _assert_same_records(fast, alone):
    assert len(fast) == len(alone)
    for a, b in zip(fast, alone):
        assert type(a) is type(b)
        if isinstance(a, Rejection):
            assert a == b
            continue
        for key, value in vars(a).items():
            other = getattr(b, key)
            if isinstance(value, np.ndarray):
                assert value.dtype == other.dtype and value.shape == other.shape
                np.testing.assert_array_equal(value, other, strict=True)
            else:
                assert value == other, key


def _take_of_every_bad_record(frame, structural):
    """One take: a clean frame, then each bad record in a frame of its own
    (only the checks that stacked arrays make, or all of them)."""
    take = {}
    cases = [case for case in BAD_RECORDS
             if (case[0] in _STACKABLE_BAD_RECORDS) != structural]
    for number, mutate in enumerate([lambda f: None, _some_joints_invalid,
                                     _invalid_wrist_nan] +
                                    [case[1] for case in cases]):
        fr = copy.deepcopy(frame)
        mutate(fr)
        if isinstance(fr.get('metadata'), dict) and fr['metadata'].get(
                'frame_number') == 0:
            fr['metadata']['frame_number'] = number
        take[str(number)] = fr
    return take


def _some_joints_invalid(frame):
    # kept, with NaN coordinates where not valid (the wrist's 3D stays)
    for joint in (0, 6, 20):
        frame['right_hand_valid_3d'][joint] = False


def _invalid_wrist_nan(frame):
    # the middle finger's base invalid too: no palm length to check
    for joint in (0, 9):
        frame['left_hand_valid_3d'][joint] = False
    frame['left_hand_3d'][0] = NAN3


# bad records whose take still stacks into arrays (the bulk checks flag the
# hand); the others make their take checked hand by hand
_STACKABLE_BAD_RECORDS = {
    '3d_not_list', '2d_infinity', 'box_empty', 'box_inverted',
    'box_outside', 'box_beyond', 'box_nan', 'all_nan',
    'valid_points_at_nan_3d', 'valid_points_at_nan_2d', 'wrist_nan',
    'valid_missing', '2d_missing', '3d_missing', 'metadata_missing',
    'take_name_missing', 'frame_number_str', 'frame_mismatch',
    'take_mismatch'}


@pytest.mark.parametrize('structural', [False, True])
def test_stacked_checks_equal_the_checks_one_by_one(monkeypatch,
                                                   structural):
    from hp3d.datasets import annotation_checks
    bulk = annotation_checks._bulk_gt_records
    accepted = []

    def counted(hands, minimum):
        records = bulk(hands, minimum)
        accepted.append(sum(r is not None for r in records))
        return records

    frame = load_fixture_frame()
    anno = {'take-a': _take_of_every_bad_record(frame, structural)}
    monkeypatch.setattr(annotation_checks, '_bulk_gt_records', counted)
    fast, alone = _records_both_ways(anno, monkeypatch)
    kinds = {r.kind for r in alone if isinstance(r, Rejection)}
    assert len(kinds) >= (2 if structural else 7)
    assert sum(isinstance(r, HandRecord) for r in alone) >= 2
    _assert_same_records(fast, alone)
    # stacked: the clean hands passed in bulk; a structural fault (ragged,
    # strings, null, booleans) sends the whole take hand by hand
    assert (accepted[0] == 0) == structural


def test_stacked_checks_on_whole_files(monkeypatch, synthetic_root):
    for path in (
            osp.join(DATA, 'ego_pose_gt_anno_val_public.json'), PUBLIC_TEST,
            str(synthetic_root / 'annotations' /
                'ego_pose_gt_anno_val_public.json')):
        anno = read_json(path)
        for minimum in (1, 8, 21):
            _assert_same_records(*_records_both_ways(anno, monkeypatch,
                                                     minimum))


def test_palm_near_the_limit_is_decided_per_hand(monkeypatch):
    from hp3d.datasets.annotation_checks import MAX_PALM_M
    frame = load_fixture_frame()
    anno = {'take-a': {}}
    for number, scale in enumerate((0.5, 0.999999999999, 1.0, 1.000001)):
        fr = copy.deepcopy(frame)
        fr['metadata']['frame_number'] = number
        wrist = np.array(fr['right_hand_3d'][0])
        base = np.array(fr['right_hand_3d'][9])
        direction = (base - wrist) / np.linalg.norm(base - wrist)
        fr['right_hand_3d'][9] = (wrist + direction * MAX_PALM_M * scale
                                  ).tolist()
        anno['take-a'][str(number)] = fr
    fast, alone = _records_both_ways(anno, monkeypatch)
    assert [getattr(r, 'kind', None) for r in alone].count('bad_units') >= 1
    _assert_same_records(fast, alone)


@pytest.mark.parametrize('take_name', [
    '../escape', '..', '.', '/etc', 'a/b', 'a\\b', 'a\x00b', ''
])
def test_unsafe_take_name_is_rejected(tmp_path, take_name):
    frame = copy.deepcopy(load_fixture_frame())
    frame['metadata']['take_name'] = take_name
    ds = build(write_anno(tmp_path, {'take-a': {'0': frame}}),
               data_prefix=dict(img='images', camera=''))
    assert len(ds) == 0
    (rejection, ) = ds.rejections
    assert rejection['kind'] == 'unsafe_path'
    assert rejection['reason'].startswith(
        f'unsafe metadata.take_name {take_name!r}')


def test_unsafe_take_uid_is_rejected(tmp_path):
    frame = copy.deepcopy(load_fixture_frame())
    frame['metadata']['take_uid'] = '../../x'
    ds = build(write_anno(tmp_path, {'../../x': {'0': frame}}),
               data_prefix=dict(img='', camera='camera_pose'))
    assert len(ds) == 0
    assert ds.rejections[0]['kind'] == 'unsafe_path'


def test_image_paths_stay_under_the_image_root(tmp_path):
    ds = EgoExo4DHandDataset(
        'ego_pose_gt_anno_val_public.json', data_root=DATA)
    root = osp.realpath(osp.join(DATA, 'images'))
    for i in range(len(ds)):
        path = osp.realpath(ds[i]['img_path'])
        assert osp.commonpath([root, path]) == root


def test_unsafe_split_is_refused():
    with pytest.raises(ValueError, match='plain path component'):
        build(osp.join(DATA, 'ego_pose_gt_anno_train.json'), split='../x')


def test_duplicate_frame_and_take_keys(tmp_path):
    frame = json.dumps(load_fixture_frame())
    other = load_fixture_frame('take-b', '10')
    text = ('{"take-a": {"0": %s, "0": %s}, "take-b": {"10": %s}, '
            '"take-b": {}}' % (frame, frame, json.dumps(other)))
    path = tmp_path / 'ego_pose_gt_anno_val_public.json'
    path.write_text(text)
    ds = build(str(path))
    # The first copies are kept.
    assert len(ds) == 3
    assert sorted((r['take_uid'], r['frame'], r['kind'])
                  for r in ds.rejections) == [('take-a', '0', 'duplicate'),
                                              ('take-b', None, 'duplicate')]


def test_duplicate_key_inside_a_frame(tmp_path):
    frame = json.dumps(load_fixture_frame())
    text = '{"take-a": {"0": %s}}' % frame.replace(
        '"metadata"', '"left_hand_bbox": [], "metadata"')
    path = tmp_path / 'ego_pose_gt_anno_val_public.json'
    path.write_text(text)
    ds = build(str(path))
    assert len(ds) == 0
    assert ds.rejections == [
        dict(take_uid='take-a', frame='0', hand=None, kind='duplicate',
             reason="duplicate keys ['left_hand_bbox'] in the frame")
    ]


def test_take_that_is_not_an_object(tmp_path):
    ds = build(write_anno(tmp_path, {'take-a': [1, 2]}))
    assert ds.rejections == [
        dict(take_uid='take-a', frame=None, hand=None, kind='wrong_type',
             reason='take entry is list, not an object')
    ]


# ----------------------------------------------------------- file problems


def test_truncated_json_names_file_and_position(tmp_path):
    path = tmp_path / 'ego_pose_gt_anno_val_public.json'
    path.write_text('{"take-a": {\n  "0": {\n    "metadata": [1, 2')
    with pytest.raises(ValueError) as error:
        build(str(path))
    message = str(error.value)
    assert message.startswith(f'{path}: invalid JSON at line 3, column ')
    assert 'truncated' in message


def test_invalid_json_token_position(tmp_path):
    path = tmp_path / 'ego_pose_gt_anno_val_public.json'
    path.write_text('{"a":\n {"b": nope}}')
    with pytest.raises(ValueError,
                       match=r'invalid JSON at line 2, column 8 \(char 13\)'):
        build(str(path))


def test_top_level_must_be_an_object(tmp_path):
    path = write_anno(tmp_path, [1, 2])
    with pytest.raises(ValueError) as error:
        build(path)
    assert str(error.value) == (f'{path}: the top level must be an object '
                                '{take_uid: {frame: ...}}, got list')


def test_file_size_limit(tmp_path):
    path = osp.join(DATA, 'ego_pose_gt_anno_val_public.json')
    size_mb = os.path.getsize(path) / 2**20
    with pytest.raises(ValueError, match='larger than the .* MiB limit'):
        build(path, max_file_mb=size_mb / 2)
    assert len(build(path, max_file_mb=size_mb * 2)) == 4


def test_missing_annotation_file_explains_where_data_goes(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        build(str(tmp_path / 'ego_pose_gt_anno_val_public.json'))
    message = str(error.value)
    assert 'data/egoexo4d/annotations/' in message
    assert ('python tools/dataset_converters/make_synthetic_egoexo4d.py '
            '--out data/synthetic_egoexo4d') in message


def test_split_must_be_known():
    with pytest.raises(ValueError, match='pass split='):
        build('annotations.json')
    assert infer_split('a/ego_pose_gt_anno_val.json') == 'val'
    assert infer_split('ego_pose_gt_anno_test_public.json') == 'test'
    assert infer_split('ego_pose_gt_anno_.json') is None


def test_on_bad_record_is_checked():
    with pytest.raises(ValueError, match='on_bad_record'):
        build(osp.join(DATA, 'ego_pose_gt_anno_train.json'),
              on_bad_record='ignore')


def test_bad_camera_file_is_an_error(tmp_path):
    (tmp_path / 'camera_pose').mkdir()
    (tmp_path / 'camera_pose' / 'take-a.json').write_text(
        json.dumps({'aria01': {'camera_intrinsics': [[1, 0], [0, 1]]}}))
    write_anno(tmp_path, {'take-a': {'0': load_fixture_frame()}})
    with pytest.raises(ValueError, match='camera_intrinsics must be a finite '
                       '3x3 matrix'):
        EgoExo4DHandDataset('ego_pose_gt_anno_val_public.json',
                            data_root=str(tmp_path))


def test_is_safe_name():
    assert is_safe_name('iiith_cooking_5_2')
    for name in ('..', '.', '', 'a/b', '/a', 'a\x00', None, 3):
        assert not is_safe_name(name)


def test_takes_without_camera_file_are_reported(tmp_path, monkeypatch):
    logger = MMLogger.get_current_instance()
    warnings = []
    monkeypatch.setattr(logger, 'warning', warnings.append)
    ann_file = write_anno(tmp_path, {'take-a': {'0': load_fixture_frame()}})
    (tmp_path / 'cams').mkdir()
    ds = build(ann_file, data_prefix=dict(img='', camera=str(tmp_path /
                                                             'cams')))
    np.testing.assert_array_equal(ds[0]['cam_K'], default_intrinsics())
    (message, ) = warnings
    assert message == (f'{ann_file}: 1 takes have no camera file in '
                       f'{tmp_path / "cams"} (e.g. take-a.json): the default '
                       'Aria intrinsics are used for them')
    build(ann_file)  # no camera folder asked for: nothing to report
    assert len(warnings) == 1


def test_rejections_are_summarised_once_in_the_log(tmp_path, monkeypatch):
    logger = MMLogger.get_current_instance()
    warnings = []
    monkeypatch.setattr(logger, 'warning', warnings.append)
    bad = copy.deepcopy(load_fixture_frame())
    bad['right_hand_bbox'] = [5.0, 5.0, 1.0, 9.0]
    bad['left_hand_valid_3d'] = [True] * 5 + [False] * 16
    ann_file = write_anno(tmp_path, {'take-a': {'0': bad}})
    build(ann_file)
    (message, ) = warnings
    assert message.startswith(
        f"{ann_file}: rejected 2 records ({{'bad_box': 1, "
        "'too_few_joints': 1})")
    assert 'inverted box' in message and 'dataset.rejections' in message
