import re

import cv2
import numpy as np
import pytest
from mmengine.dataset import BaseDataset
from transform_samples import textured_frame

from hp3d.datasets.transforms import LoadImage, jpeg_size


def write_bytes(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def jpeg_bytes(img, quality=95):
    return cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1] \
        .tobytes()


def bad_files(tmp_path):
    """(path, words the error must contain) for each kind of bad file."""
    good = jpeg_bytes(textured_frame())
    return {
        'missing': (str(tmp_path / 'nope.jpg'), 'cannot be read'),
        'empty': (write_bytes(tmp_path, 'empty.jpg', b''), 'empty file'),
        'corrupt': (write_bytes(tmp_path, 'corrupt.jpg', b'\xff\xd8' +
                                bytes(range(256)) * 8 + b'\xff\xd9'),
                    'cannot be decoded'),
        'not an image': (write_bytes(tmp_path, 'text.jpg', b'hello world'),
                         'cannot be decoded'),
        'truncated': (write_bytes(tmp_path, 'half.jpg', good[:len(good) // 2]),
                      'truncated JPEG'),
        'truncated tail': (write_bytes(tmp_path, 'tail.jpg', good[:-2]),
                           'truncated JPEG'),
        'wrong size': (write_bytes(tmp_path, 'small.jpg',
                                   jpeg_bytes(textured_frame((256, 128)))),
                       'size 256x128 (w x h), expected 512x512'),
    }


def test_decodes_bgr_uint8(frame_path):
    results = LoadImage(expected_size=(512, 512))(dict(img_path=frame_path))
    img = results['img']
    assert img.shape == (512, 512, 3) and img.dtype == np.uint8
    assert results['img_shape'] == results['ori_shape'] == (512, 512)
    assert results['img_scale_factor'] == (1.0, 1.0)
    # cv2's own decode: BGR order, nothing re-ordered.
    np.testing.assert_array_equal(img, cv2.imread(frame_path))


@pytest.mark.parametrize('kind', ['missing', 'empty', 'corrupt', 'not an image',
                                  'truncated', 'truncated tail', 'wrong size'])
def test_bad_file_raises_naming_path_and_problem(tmp_path, kind):
    path, problem = bad_files(tmp_path)[kind]
    load = LoadImage(expected_size=(512, 512))
    with pytest.raises((ValueError, FileNotFoundError),
                       match=re.escape(path) + '.*' + re.escape(problem)):
        load(dict(img_path=path))


def test_bad_files_are_skipped_and_counted(tmp_path, frame_path):
    load = LoadImage(on_error='skip', expected_size=(512, 512))
    for count, (path, _) in enumerate(bad_files(tmp_path).values(), 1):
        assert load(dict(img_path=path)) is None
        assert load.num_skipped == count
    assert load(dict(img_path=frame_path))['img'].shape == (512, 512, 3)
    assert load.num_skipped == count


def test_empty_img_path_is_an_error():
    with pytest.raises(FileNotFoundError, match='image root'):
        LoadImage()(dict(img_path=''))


@pytest.mark.parametrize('on_error', ['raise', 'skip'])
@pytest.mark.parametrize('ext', ['.jpg', '.png'])
def test_grayscale_becomes_three_equal_channels(tmp_path, ext, on_error):
    gray = textured_frame()[..., 0]
    path = str(tmp_path / f'gray{ext}')
    cv2.imwrite(path, gray)
    img = LoadImage(on_error=on_error)(dict(img_path=path))['img']
    assert img.shape == (512, 512, 3)
    np.testing.assert_array_equal(img[..., 0], img[..., 1])
    np.testing.assert_array_equal(img[..., 0], img[..., 2])
    np.testing.assert_array_equal(img[..., 0], cv2.imread(path, 0))


@pytest.mark.parametrize('on_error', ['raise', 'skip'])
def test_rgba_png_drops_alpha(tmp_path, on_error):
    bgra = np.dstack([textured_frame(), np.full((512, 512), 7, np.uint8)])
    path = str(tmp_path / 'rgba.png')
    cv2.imwrite(path, bgra)
    img = LoadImage(on_error=on_error)(dict(img_path=path))['img']
    np.testing.assert_array_equal(img, bgra[..., :3])


@pytest.mark.parametrize('scale, max_reduction, reduction', [
    (480, 8, 2),   # 2.14 source px per input px
    (900, 8, 4),   # 4.02
    (900, 2, 2),   # capped by max_decode_reduction
    (400, 8, 1),   # 1.79: full size
    (125, 4, 1),   # 0.56: a small hand's window is upsampled, full size
])
def test_reduced_decode_choice(frame_path, scale, max_reduction, reduction):
    load = LoadImage(max_decode_reduction=max_reduction, input_size=(224, 224))
    results = load(dict(img_path=frame_path,
                        scale=np.array([scale, scale], np.float32)))
    assert results['ori_shape'] == (512, 512)
    assert results['img'].shape == (512 // reduction, 512 // reduction, 3)
    assert results['img_scale_factor'] == (1 / reduction, 1 / reduction)


def test_size_check_uses_the_header_when_reduced(tmp_path):
    path = write_bytes(tmp_path, 'small.jpg',
                       jpeg_bytes(textured_frame((256, 128))))
    load = LoadImage(expected_size=(512, 512), max_decode_reduction=2,
                     input_size=(224, 224))
    with pytest.raises(ValueError, match='size 256x128'):
        load(dict(img_path=path, scale=np.array([500, 500], np.float32)))


def test_png_is_never_reduced(tmp_path):
    path = str(tmp_path / 'frame.png')
    cv2.imwrite(path, textured_frame())
    load = LoadImage(max_decode_reduction=4, input_size=(224, 224))
    results = load(dict(img_path=path, scale=np.array([900, 900], np.float32)))
    assert results['img'].shape == (512, 512, 3)


def test_reduced_decode_needs_input_size():
    with pytest.raises(ValueError, match='input_size'):
        LoadImage(max_decode_reduction=2)
    with pytest.raises(ValueError, match='on_error'):
        LoadImage(on_error='ignore')


@pytest.mark.parametrize('channels', [None, 1, 3, 4])
def test_in_memory_image_is_taken_as_it_is(frame_path, channels):
    bgr = cv2.imread(frame_path)
    arrays = {None: bgr[..., 0], 1: bgr[..., :1], 3: bgr,
              4: np.dstack([bgr, np.full(bgr.shape[:2], 9, np.uint8)])}
    expected = bgr if channels in (3, 4) else cv2.merge([bgr[..., 0]] * 3)
    results = LoadImage(expected_size=(512, 512))(
        dict(img_path='', img=arrays[channels]))
    np.testing.assert_array_equal(results['img'], expected)
    assert results['ori_shape'] == results['img_shape'] == (512, 512)
    assert results['img_scale_factor'] == (1.0, 1.0)


@pytest.mark.parametrize('img, problem', [
    (np.zeros((512, 512, 3), np.float32), 'uint8 array, got float32'),
    (np.zeros((100, 80, 3), np.uint8), 'size 80x100'),
])
def test_bad_in_memory_image_follows_the_policy(img, problem):
    sample = dict(img_path='', img=img, take_name='t', frame_number=1,
                  hand='left')
    with pytest.raises(ValueError, match="in-memory image of take 't' frame 1"
                       f' left hand: .*{problem}'):
        LoadImage(expected_size=(512, 512))(dict(sample))
    skip = LoadImage(on_error='skip', expected_size=(512, 512))
    assert skip(dict(sample)) is None and skip.num_skipped == 1


def test_jpeg_size_reads_the_header():
    data = jpeg_bytes(textured_frame((300, 200)))
    assert jpeg_size(data) == (200, 300)
    assert jpeg_size(b'\xff\xd8\xff\xd9') is None


class _Frames(BaseDataset):
    """Two samples, the first one's file missing."""

    def __init__(self, paths, **kwargs):
        self._paths = paths
        super().__init__(**kwargs)

    def load_data_list(self):
        return [dict(img_path=p) for p in self._paths]


def test_skip_policy_resamples_in_training_and_fails_in_test(tmp_path,
                                                             frame_path):
    paths = [str(tmp_path / 'missing.jpg'), frame_path]
    pipeline = [LoadImage(on_error='skip')]
    train = _Frames(paths, pipeline=pipeline, serialize_data=False)
    assert train[0]['img_path'] == frame_path
    test = _Frames(paths, pipeline=pipeline, serialize_data=False,
                   test_mode=True)
    with pytest.raises(Exception, match='should not get `None`'):
        test[0]
