"""EgoExo4DHandDataset(cache=True): cached samples equal parsed ones, and
every change the samples depend on makes the cache a miss."""
import json
import os
import shutil

import numpy as np
import pytest
from mmengine.logging import MMLogger

import hp3d.datasets.egoexo4d as egoexo4d
from hp3d.datasets import EgoExo4DHandDataset
from hp3d.datasets.annotation_cache import CACHE_DIRNAME

ANN = 'ego_pose_gt_anno_train_public.json'


@pytest.fixture
def root(synthetic_root, tmp_path):
    """The synthetic set's train annotations with a few bad records, and its
    camera files but one."""
    with open(synthetic_root / 'annotations' / ANN) as f:
        anno = json.load(f)
    takes = sorted(anno)
    first = anno[takes[0]]
    frames = sorted(first, key=int)
    first[frames[0]]['right_hand_3d'] = 'not a list'  # wrong_type
    first[frames[1]]['left_hand_bbox'] = [5.0, 5.0, 1.0, 9.0]  # bad_box
    off = first[frames[2]]['right_hand_2d']  # bad_projection
    first[frames[2]]['right_hand_2d'] = [[u + 80.0, v] for u, v in off]
    (tmp_path / 'annotations').mkdir()
    (tmp_path / 'annotations' / ANN).write_text(json.dumps(anno))
    shutil.copytree(synthetic_root / 'camera_pose', tmp_path / 'camera_pose')
    os.remove(tmp_path / 'camera_pose' / f'{takes[-1]}.json')
    return tmp_path


def build(root, **kwargs):
    kwargs = dict(dict(data_prefix=dict(img='images', camera='camera_pose'),
                       serialize_data=False, cache=True), **kwargs)
    return EgoExo4DHandDataset(f'annotations/{ANN}', data_root=str(root),
                               **kwargs)


def cache_file(root):
    return root / 'annotations' / CACHE_DIRNAME / f'{ANN}.npz'


@pytest.fixture
def parses(monkeypatch):
    """Counts the annotation files parsed."""
    calls = []
    read_json = egoexo4d.read_json

    def counting(path, *args):
        if path.endswith(ANN):
            calls.append(path)
        return read_json(path, *args)

    monkeypatch.setattr(egoexo4d, 'read_json', counting)
    return calls


@pytest.fixture
def log(monkeypatch):
    logger = MMLogger.get_current_instance()
    lines = []
    for level in ('info', 'warning'):
        monkeypatch.setattr(logger, level,
                            lambda msg, level=level: lines.append(
                                (level, msg)))
    return lines


def assert_same_samples(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert list(x) == list(y)
        for key in x:
            assert type(x[key]) is type(y[key]), key
            if isinstance(x[key], np.ndarray):
                assert x[key].dtype == y[key].dtype, key
                np.testing.assert_array_equal(x[key], y[key])
            else:
                assert x[key] == y[key], key


def test_cached_samples_equal_the_parsed_ones(root, parses, log):
    plain = build(root, cache=False)
    assert not cache_file(root).parent.exists()
    first = build(root)
    assert cache_file(root).is_file()
    cached = build(root)
    assert len(parses) == 2  # the third read the cache
    assert {r['kind'] for r in plain.rejections} == {
        'wrong_type', 'bad_box', 'bad_projection'}
    assert len(plain) > 100
    for ds in (first, cached):
        assert_same_samples(plain.data_list, ds.data_list)
        assert ds.rejections == plain.rejections
        assert ds._takes_without_camera == plain._takes_without_camera
        for key, value in plain.get_arrays().items():
            np.testing.assert_array_equal(ds.get_arrays()[key], value)
    assert len(plain._takes_without_camera) == 1
    # the same summary and warnings, the summary saying where samples came
    # from
    per_load = len(log) // 3
    assert log[:per_load] == log[per_load:2 * per_load]
    cached_log = log[2 * per_load:]
    assert cached_log[1:] == log[1:per_load]
    assert cached_log[0][1] == log[0][1][:-1] + (
        f'; checked samples read from {cache_file(root)})')


def test_serialized_and_subset_datasets_from_the_cache(root):
    build(root)
    plain = build(root, cache=False, serialize_data=True, indices=[3, 1, 4])
    cached = build(root, serialize_data=True, indices=[3, 1, 4])
    for i in range(3):
        assert_same_samples([plain.get_data_info(i)],
                            [cached.get_data_info(i)])


def test_image_paths_follow_the_image_prefix(root, parses):
    build(root)
    ds = build(root, data_prefix=dict(img='frames', camera='camera_pose'))
    assert len(parses) == 1
    sample = ds.data_list[0]
    assert sample['img_path'] == os.path.join(
        str(root), 'frames', 'train', sample['take_name'],
        f'{sample["frame_number"]:06d}.jpg')


def _rewrite_one_digit(path):
    text = path.read_text()
    i = text.index('"right_hand_3d": [[') + len('"right_hand_3d": [[')
    while not text[i].isdigit() or text[i] == '9':
        i += 1
    path.write_text(text[:i] + str(int(text[i]) + 1) + text[i + 1:])


@pytest.mark.parametrize('change', [
    'file_bytes', 'min_valid_joints', 'camera_file_touched',
    'camera_file_added', 'camera_dir', 'checking_code'
])
def test_a_change_the_samples_depend_on_is_a_miss(root, parses, monkeypatch,
                                                   change):
    before = build(root)
    (take_uid, ) = before._takes_without_camera
    with_camera = next(d['take_uid'] for d in before.data_list
                       if d['take_uid'] != take_uid)
    camera = root / 'camera_pose' / f'{with_camera}.json'
    kwargs = {}
    if change == 'file_bytes':
        # same size, same second: only the bytes tell
        stat = os.stat(root / 'annotations' / ANN)
        _rewrite_one_digit(root / 'annotations' / ANN)
        os.utime(root / 'annotations' / ANN,
                 ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert os.stat(root / 'annotations' / ANN).st_size == stat.st_size
    elif change == 'min_valid_joints':
        kwargs['min_valid_joints'] = 12
    elif change == 'camera_file_touched':
        stat = os.stat(camera)
        os.utime(camera, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    elif change == 'camera_file_added':
        shutil.copy(camera, root / 'camera_pose' / f'{take_uid}.json')
    elif change == 'camera_dir':
        shutil.copytree(root / 'camera_pose', root / 'cameras')
        kwargs['data_prefix'] = dict(img='images', camera='cameras')
    else:
        monkeypatch.setattr(egoexo4d, '_checking_code_digest',
                            lambda: 'other code')
    after = build(root, **kwargs)
    assert len(parses) == 2
    assert_same_samples(build(root, cache=False, **kwargs).data_list,
                        after.data_list)
    build(root, **kwargs)  # the new entry replaced the old one
    assert len(parses) == 3
    assert os.listdir(cache_file(root).parent) == [cache_file(root).name]
    if change == 'file_bytes':
        assert not np.array_equal(after.get_arrays()['keypoints_3d'],
                                  before.get_arrays()['keypoints_3d'])


def test_unreadable_cache_is_parsed_again_and_replaced(root, parses, log):
    expected = build(root).data_list
    cache_file(root).write_bytes(b'not a zip file')
    ds = build(root)
    assert len(parses) == 2
    assert_same_samples(expected, ds.data_list)
    (warning, ) = [msg for level, msg in log
                   if 'unreadable annotation cache' in msg]
    assert warning.startswith(f'{cache_file(root)}: unreadable annotation '
                              'cache (')
    build(root)
    assert len(parses) == 2


def test_unwritable_cache_dir_is_reported(root, parses, log):
    cache_file(root).parent.write_text('a file where the cache dir goes')
    ds = build(root)
    assert len(ds) > 100
    (warning, ) = [msg for level, msg in log
                   if 'Cannot write the annotation cache' in msg]
    assert warning.startswith(
        f'Cannot write the annotation cache {cache_file(root)} (')
    build(root)
    assert len(parses) == 2


def test_failed_load_writes_no_cache(root):
    with pytest.raises(ValueError, match="take .*: .*right_hand_3d"):
        build(root, on_bad_record='error')
    assert not cache_file(root).parent.exists()


def test_empty_file_is_cached(tmp_path, parses):
    (tmp_path / 'annotations').mkdir()
    (tmp_path / 'annotations' / ANN).write_text('{}')
    for _ in range(2):
        ds = build(tmp_path)
        assert len(ds) == 0 and ds.get_arrays()['keypoints_3d'].shape == (
            0, 21, 3)
    assert len(parses) == 1


def test_without_camera_files_nothing_is_missing(root, parses, log):
    for _ in range(2):
        ds = build(root, data_prefix=dict(img='', camera=''))
        assert ds._takes_without_camera == []
    assert len(parses) == 1
    assert not [msg for level, msg in log if 'no camera file' in msg]
