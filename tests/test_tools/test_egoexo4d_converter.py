import json
import os
import runpy
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DATA = ROOT / 'tests' / 'data' / 'egoexo4d'
main = runpy.run_path(
    str(ROOT / 'tools' / 'dataset_converters' / 'egoexo4d.py'))['main']


@pytest.fixture
def download(tmp_path):
    """A fake download: the val fixture, a train file with one bad record,
    one image out of three, the camera files."""
    ann_dir = tmp_path / 'dl' / 'annotation'
    ann_dir.mkdir(parents=True)
    shutil.copy(DATA / 'ego_pose_gt_anno_val_public.json', ann_dir)
    train = json.loads((DATA / 'ego_pose_gt_anno_train.json').read_text())
    train['take-c']['7']['left_hand_bbox'] = [20.0, 10.0, 5.0, 30.0]
    (ann_dir / 'ego_pose_gt_anno_train.json').write_text(json.dumps(train))
    (ann_dir / 'notes.json').write_text('{}')
    img_dir = tmp_path / 'dl' / 'undistorted'
    frame_dir = img_dir / 'val' / 'cmu_bike_01_2'
    frame_dir.mkdir(parents=True)
    (frame_dir / '000000.jpg').write_bytes(b'jpeg')
    return dict(ann_dir=ann_dir, img_dir=img_dir, camera_dir=DATA /
                'camera_pose', out=tmp_path / 'data' / 'egoexo4d')


def args(d, *extra):
    return ['--ann-dir', str(d['ann_dir']), '--img-dir', str(d['img_dir']),
            '--camera-dir', str(d['camera_dir']), '--out', str(d['out']),
            *extra]


def test_links_and_reports(download, tmp_path, capsys):
    report_file = tmp_path / 'report.json'
    report = main(args(download, '--report', str(report_file)))
    out = download['out']
    assert os.readlink(out / 'images') == str(download['img_dir'])
    assert os.readlink(out / 'camera_pose') == str(download['camera_dir'])
    assert sorted(p.name for p in (out / 'annotations').iterdir()) == [
        'ego_pose_gt_anno_train.json', 'ego_pose_gt_anno_val_public.json'
    ]
    train, val = report['splits']
    assert (val['split'], val['hands'], val['right'], val['left']) == (
        'val', 4, 2, 2)
    assert (val['frames'], val['images_missing']) == (3, 2)
    assert val['images_missing_examples'][0].endswith(
        'images/val/cmu_bike_01_2/000003.jpg')
    assert val['rejected'] == 0
    assert (train['split'], train['hands'], train['rejected']) == ('train', 1,
                                                                   1)
    assert train['rejected_by_kind'] == {'bad_box': 1}
    assert train['rejected_examples'][0]['hand'] == 'left'
    assert json.loads(report_file.read_text()) == report
    printed = capsys.readouterr().out
    assert 'images missing: 2 of 3' in printed
    assert 'inverted box' in printed

    # Idempotent; a link pointing elsewhere needs --force.
    main(args(download))
    other = dict(download, img_dir=tmp_path)
    with pytest.raises(FileExistsError, match='--force'):
        main(args(other))
    main(args(other, '--force'))
    assert os.readlink(out / 'images') == str(tmp_path)


def test_missing_inputs(download, tmp_path):
    with pytest.raises(FileNotFoundError, match='no ego_pose_gt_anno'):
        main(args(dict(download, ann_dir=download['img_dir'])))
    with pytest.raises(FileNotFoundError, match='--img-dir'):
        main(args(dict(download, img_dir=tmp_path / 'nope')))
