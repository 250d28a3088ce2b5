import json
import os.path as osp

import numpy as np
import pytest

from hp3d.evaluation.submission import (
    build_submission,
    check_coverage,
    expected_hands,
    write_json_atomic,
)

PUBLIC_TEST = osp.join(osp.dirname(__file__), '..', 'data', 'egoexo4d_public',
                       'ego_pose_gt_anno_test_public.json')


def test_build_submission_layout():
    joints = np.arange(63.0).reshape(21, 3)
    sub = build_submission({('t', '4', 'left'): joints},
                           frames=[('t', '4'), ('t', '8'), ('u', '1')])
    assert sub == {
        't': {'4': {'left_hand_3d': joints.tolist(), 'right_hand_3d': []},
              '8': {'left_hand_3d': [], 'right_hand_3d': []}},
        'u': {'1': {'left_hand_3d': [], 'right_hand_3d': []}},
    }
    with pytest.raises(ValueError, match=r'non-finite prediction for \(t, 4, '
                       r'left\)'):
        build_submission({('t', '4', 'left'): joints * np.nan})


def test_check_coverage_lists_examples():
    expected = [('t', str(i), 'right') for i in range(15)]
    check_coverage(expected[::-1], expected, 'gt.json')
    with pytest.raises(ValueError) as error:
        check_coverage(expected[:2] + [expected[0]], expected, 'gt.json')
    message = str(error.value)
    assert message.startswith('Predictions do not match the hands of gt.json')
    assert ('13 missing: (t, 10, right), (t, 11, right), (t, 12, right), '
            '(t, 13, right), (t, 14, right), (t, 2, right), (t, 3, right), '
            '(t, 4, right), (t, 5, right), (t, 6, right) and 3 more') in message
    assert '1 duplicate: (t, 0, right)' in message


def test_expected_hands_rules(tmp_path):
    meta = dict(take_uid='t', take_name='n', frame_number=1)
    anno = {'t': {
        '1': dict(right_hand_3d=[[0.0] * 3] * 21, left_hand_3d=[],
                  right_hand_bbox=[1, 2, 3, 4], left_hand_bbox=[1, 2, 3, 4],
                  metadata=meta),
        '2': dict(right_hand_bbox=[], left_hand_bbox=[1, 2, 3, 4],
                  metadata=meta),
    }}
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps(anno))
    # GT frames count non-empty 3D only; box-only frames count boxes.
    assert expected_hands(str(path)) == [('t', '1', 'right'),
                                         ('t', '2', 'left')]
    assert len(expected_hands(PUBLIC_TEST)) == 8772


def test_write_json_atomic(tmp_path):
    path = tmp_path / 'out.json'
    path.write_text('old')
    write_json_atomic({'a': [1.5]}, str(path))
    assert json.loads(path.read_text()) == {'a': [1.5]}
    with pytest.raises(ValueError):
        write_json_atomic({'a': float('nan')}, str(path))
    # The failed write neither touched the file nor left a temporary one.
    assert json.loads(path.read_text()) == {'a': [1.5]}
    assert [p.name for p in tmp_path.iterdir()] == ['out.json']
