"""Inference of the image pipeline (``ImagePoseEstimator``, POTTER).

Note:
    N: hands in a call, K: joints (21).
"""
from functools import partial
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Union

import numpy as np
from mmengine.config import Config
from mmengine.dataset import Compose

from hp3d.datasets.camera import default_intrinsics
from hp3d.datasets.metainfo import NUM_JOINTS
from hp3d.registry import FUNCTIONS, TRANSFORMS

from .base_inferencer import BaseHand3DInferencer, check_hands, per_hand
from .hand_samples import HandSamples

__all__ = ['IMAGE_SUFFIXES', 'list_images', 'ImageInferencer', 'ImageType',
           'BoxesType', 'HandsType']

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')
ImageType = Union[str, Path, np.ndarray]
# (N, 4) or (4,) xyxy px boxes of one image, or one such per image
BoxesType = Union[np.ndarray, Sequence]
# 'left'/'right' for all boxes, or one per box (per image)
HandsType = Union[str, Sequence]


def list_images(folder: Union[str, Path]) -> List[Path]:
    """The images of a folder (by suffix, not recursive), sorted by name.

    Args:
        folder (str | Path): The folder.

    Returns:
        list[Path]: Files with a suffix in :data:`IMAGE_SUFFIXES`.
    """
    files = sorted(p for p in Path(folder).iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f'{folder}: no image ({", ".join(IMAGE_SUFFIXES)})')
    return files


def _is_single_image(inputs) -> bool:
    if isinstance(inputs, np.ndarray):
        return True
    return isinstance(inputs, (str, Path)) and not Path(inputs).is_dir()


class ImageInferencer(BaseHand3DInferencer):
    """Regresses wrist-relative 3D joints from hand boxes in images.

    Each (image, box, handedness) becomes a sample of docs/design.md §1 and
    runs through the config's test pipeline
    (``test_dataloader.dataset.pipeline``: load, crop, mirror left hands,
    pack), the config's collate function, then ``model.test_step`` (the data
    preprocessor normalises on the device).

    Example:
        >>> inferencer = ImageInferencer(Config.fromfile(cfg), 'ckpt.pth')
        >>> out = inferencer('frame.jpg', bboxes=[[100, 120, 220, 260]],
        ...                  hands=['left'])
        >>> out['predictions'][0]['keypoints_3d_rel_mm']  # (21, 3) mm

    Args:
        cfg (Config): An ``ImagePoseEstimator`` config.
        weights (str, optional): Checkpoint; None keeps random weights.
        device (str): Defaults to ``'cpu'``.
    """

    def __init__(self, cfg: Config, weights: Optional[str] = None,
                 device: str = 'cpu') -> None:
        super().__init__(cfg, weights, device)
        loader = cfg.test_dataloader
        self.pipeline = Compose(
            [TRANSFORMS.build(t) for t in loader.dataset.pipeline])
        collate_cfg = dict(loader.get('collate_fn',
                                      dict(type='default_collate')))
        self.collate_fn = partial(FUNCTIONS.get(collate_cfg.pop('type')),
                                  **collate_cfg)

    def build_samples(self,
                      inputs: Union[ImageType, Sequence[ImageType]],
                      bboxes: BoxesType,
                      hands: HandsType,
                      cam_K: Optional[np.ndarray] = None) -> HandSamples:
        """Sample dicts (docs/design.md §1) of hand boxes, without GT.

        Args:
            inputs (str | Path | np.ndarray | Sequence): One image (a path
                or an (H, W, 3) uint8 BGR array), a list of them, or a
                folder (its images sorted by name, see :func:`list_images`).
            bboxes (array-like | Sequence): For one image, its boxes
                (N, 4) (or (4,) for one hand) xyxy px; for several, a
                sequence with one such per image.
            hands (str | Sequence): For one image, one ``'left'``/
                ``'right'`` per box (or a string for all its boxes); for
                several, one such per image, or one string for all boxes of
                all images.
            cam_K (np.ndarray, optional): (3, 3) or (N, 3, 3) intrinsics
                over all N hands. Defaults to
                :func:`hp3d.datasets.camera.default_intrinsics`.

        Returns:
            HandSamples: One sample per box, image by image. ``take_uid`` is
            the file stem (``image_{i}`` for arrays), frame 0; ``img_index``
            is the image's position in ``inputs``.
        """
        if _is_single_image(inputs):
            images, bboxes, hands = [inputs], [bboxes], [hands]
        elif isinstance(inputs, (str, Path)):
            images = list_images(inputs)
        else:
            images = list(inputs)
        if isinstance(hands, str):
            # One handedness for every box; len('left') is no image count.
            hands = [hands] * len(images)
        if len(bboxes) != len(images) or len(hands) != len(images):
            raise ValueError(f'{len(images)} images but {len(bboxes)} box '
                             f'lists and {len(hands)} handedness lists')
        per_image = []
        for i, (image, boxes, image_hands) in enumerate(
                zip(images, bboxes, hands)):
            where = (f'image {i} ({image})' if isinstance(image, (str, Path))
                     else f'image {i}')
            boxes = np.asarray(boxes, dtype=np.float32)
            boxes = boxes[None] if boxes.shape == (4, ) else boxes
            if boxes.ndim != 2 or boxes.shape[1] != 4:
                raise ValueError(f'{where}: boxes must be (N, 4) xyxy px, '
                                 f'got shape {boxes.shape}')
            per_image.append(
                (image, boxes, check_hands(image_hands, len(boxes), where)))
        num_hands = sum(len(boxes) for _, boxes, _ in per_image)
        cam_K = per_hand(cam_K, num_hands, (3, 3), 'cam_K',
                         default=default_intrinsics())
        samples = []
        for i, (image, boxes, image_hands) in enumerate(per_image):
            for box, hand in zip(boxes, image_hands):
                samples.append(
                    self._sample(i, image, box, hand, cam_K[len(samples)]))
        return HandSamples(samples)

    @staticmethod
    def _sample(index: int, image: ImageType, bbox: np.ndarray, hand: str,
                cam_K: np.ndarray) -> dict:
        sample = dict(
            img_index=index,
            img_path='',
            take_uid=f'image_{index}',
            frame_number=0,
            hand=hand,
            is_left=hand == 'left',
            bbox=bbox,
            keypoints_2d=np.full((NUM_JOINTS, 2), np.nan, np.float32),
            keypoints_3d=np.full((NUM_JOINTS, 3), np.nan, np.float32),
            keypoints_valid=np.zeros(NUM_JOINTS, dtype=bool),
            has_gt=False,
            cam_K=cam_K.astype(np.float32))
        if isinstance(image, np.ndarray):
            # LoadImage takes (and checks) an in-memory image as it is.
            sample['img'] = image
        else:
            sample.update(img_path=str(image), take_uid=Path(image).stem)
        sample['take_name'] = sample['take_uid']
        return sample

    def iter_batches(self, samples, batch_size: int) -> Iterator[dict]:
        """Collated batches of the test pipeline over ``samples``.

        Args:
            samples (HandSamples | EgoExo4DHandDataset): Anything with
                ``get_data_info(i)`` and ``len``.
            batch_size (int): Hands per batch.

        Yields:
            dict: ``inputs`` (B, 3, H, W) uint8 BGR, ``data_samples``.
        """
        for start in range(0, len(samples), batch_size):
            packed = []
            for idx in range(start, min(start + batch_size, len(samples))):
                info = samples.get_data_info(idx)
                result = self.pipeline(info)
                if result is None:
                    raise ValueError(
                        f'The test pipeline dropped sample {idx} '
                        f'({info["take_uid"]} frame {info["frame_number"]} '
                        f'{info["hand"]} hand, image {info["img_path"]!r})')
                packed.append(result)
            yield self.collate_fn(packed)

    def __call__(self,
                 inputs: Union[ImageType, Sequence[ImageType]],
                 bboxes: BoxesType,
                 hands: HandsType,
                 cam_K: Optional[np.ndarray] = None,
                 wrist_2d_px: Optional[np.ndarray] = None,
                 wrist_depth_m: Union[None, float, np.ndarray] = None,
                 batch_size: int = 32,
                 out_dir: Optional[Union[str, Path]] = None,
                 return_vis: bool = False) -> dict:
        """Predict the hands in the boxes of one or more images.

        Args:
            inputs (str | Path | np.ndarray | Sequence): Images, as in
                :meth:`build_samples`.
            bboxes (array-like | Sequence): Boxes, as in
                :meth:`build_samples`.
            hands (str | Sequence): Handedness, as in :meth:`build_samples`.
            cam_K (np.ndarray, optional): Intrinsics, as in
                :meth:`build_samples`.
            wrist_2d_px (np.ndarray, optional): (2,) or (N, 2) wrist pixel
                of each hand in its image (e.g. from a 2D detector).
            wrist_depth_m (float | np.ndarray, optional): Camera-frame z of
                each wrist in metres, one or (N,) (NaN: unknown for that
                hand). With ``wrist_2d_px`` it gives ``keypoints_3d_cam_m``
                (see :mod:`hp3d.apis.camera_space`).
            batch_size (int): Hands per model call. Defaults to 32.
            out_dir (str | Path, optional): Save a figure per hand here.
            return_vis (bool): Return the figures.

        Returns:
            dict: ``predictions``: one dict per hand, image by image
            (``img_index``, ``img_path``, ``hand``, ``bbox`` (4,),
            ``keypoints_3d_rel_mm`` (K, 3), maybe ``keypoints_3d_cam_m``);
            ``visualization``: (H, W, 3) RGB figures, or [].
        """
        samples = self.build_samples(inputs, bboxes, hands, cam_K)
        num_hands = len(samples)
        wrist_px = per_hand(wrist_2d_px, num_hands, (2, ), 'wrist_2d_px')
        depth = per_hand(wrist_depth_m, num_hands, (), 'wrist_depth_m')
        if (depth is None) != (wrist_px is None):
            raise ValueError('camera-space joints need both wrist_2d_px and '
                             'wrist_depth_m (or neither)')
        preds, figures = self.predict_samples(samples, batch_size, out_dir,
                                              return_vis)
        results = []
        for pred in preds:
            i = pred['sample_idx']
            info = samples.get_data_info(i)
            result = self.hand_result(
                pred, info['cam_K'], None if wrist_px is None else wrist_px[i],
                None if depth is None else float(depth[i]))
            result.update(img_index=info['img_index'],
                          img_path=info['img_path'], bbox=info['bbox'])
            results.append(result)
        return dict(predictions=results, visualization=figures)
