"""Fixtures of the transform tests."""
import cv2
import pytest
from transform_samples import textured_frame


@pytest.fixture
def frame_path(tmp_path):
    """A 512x512 textured JPEG on disk, quality 95."""
    path = tmp_path / 'take_a' / '000042.jpg'
    path.parent.mkdir()
    cv2.imwrite(str(path), textured_frame(), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return str(path)
