"""Inference of the 2D -> 3D lifting pipeline (``PoseLifter``).

Note:
    N: hands in a call, K: joints (21).
"""
from pathlib import Path
from typing import Iterator, Optional, Sequence, Union

import numpy as np

from hp3d.datasets.camera import default_intrinsics
from hp3d.datasets.lifting_dataset import LiftingTensorDataset
from hp3d.datasets.metainfo import NUM_JOINTS, WRIST

from .base_inferencer import BaseHand3DInferencer, check_hands, per_hand
from .hand_samples import HandSamples

__all__ = ['LiftingInferencer']


class LiftingInferencer(BaseHand3DInferencer):
    """Lifts 2D hand keypoints to wrist-relative 3D joints.

    Inputs go through the model's codec (``model.head.codec.encode``) by the
    data path the lifting configs train and test with,
    ``LiftingTensorDataset``, so they are normalised exactly as in training.

    Example:
        >>> inferencer = LiftingInferencer(Config.fromfile(cfg), 'ckpt.pth')
        >>> out = inferencer(keypoints_2d, keypoints_valid, wrist_depth_m=0.4)
        >>> out['predictions'][0]['keypoints_3d_cam_m']  # (21, 3) metres

    Args:
        cfg (Config): A ``PoseLifter`` config.
        weights (str, optional): Checkpoint; None keeps random weights.
        device (str): Defaults to ``'cpu'``.
    """

    def build_samples(self,
                      keypoints_2d: np.ndarray,
                      keypoints_valid: Optional[np.ndarray] = None,
                      hands: Union[str, Sequence[str]] = 'right',
                      cam_K: Optional[np.ndarray] = None) -> HandSamples:
        """Sample dicts (docs/design.md §1) of 2D hands without ground truth.

        The lifting codec masks input joints by ``keypoints_valid`` (and
        non-finite coordinates), so here it holds the 2D validity.

        Args:
            keypoints_2d (np.ndarray): (K, 2) or (N, K, 2) px.
            keypoints_valid (np.ndarray, optional): (K,) or (N, K) bool.
                Defaults to the joints with finite coordinates.
            hands (str | Sequence[str]): ``'left'``/``'right'``, one for all
                or one per hand. Defaults to ``'right'``.
            cam_K (np.ndarray, optional): (3, 3) or (N, 3, 3) intrinsics.
                Defaults to :func:`hp3d.datasets.camera.default_intrinsics`.

        Returns:
            HandSamples: N samples named ``hand_{i}``, frame 0.
        """
        kpts = np.asarray(keypoints_2d, dtype=np.float32)
        if kpts.shape[-2:] != (NUM_JOINTS, 2) or kpts.ndim not in (2, 3):
            raise ValueError(f'keypoints_2d must be ({NUM_JOINTS}, 2) or '
                             f'(N, {NUM_JOINTS}, 2), got {kpts.shape}')
        kpts = kpts.reshape(-1, NUM_JOINTS, 2)
        num_hands = len(kpts)
        finite = np.isfinite(kpts).all(axis=-1)
        if keypoints_valid is None:
            valid = finite
        else:
            valid = np.asarray(keypoints_valid, dtype=bool)
            if valid.shape not in ((NUM_JOINTS, ), (num_hands, NUM_JOINTS)):
                raise ValueError(
                    f'keypoints_valid must be ({NUM_JOINTS},) or '
                    f'({num_hands}, {NUM_JOINTS}), got {valid.shape}')
            valid = np.broadcast_to(valid, finite.shape) & finite
        hands = check_hands(hands, num_hands, 'keypoints_2d')
        cam_K = per_hand(cam_K, num_hands, (3, 3), 'cam_K',
                         default=default_intrinsics())
        samples = []
        for i in range(num_hands):
            name = f'hand_{i}'
            samples.append(dict(
                img_path='',
                take_uid=name,
                take_name=name,
                frame_number=0,
                hand=hands[i],
                is_left=hands[i] == 'left',
                bbox=np.full(4, np.nan, dtype=np.float32),
                keypoints_2d=kpts[i],
                keypoints_3d=np.full((NUM_JOINTS, 3), np.nan, np.float32),
                keypoints_valid=valid[i].copy(),
                has_gt=False,
                cam_K=cam_K[i].astype(np.float32)))
        return HandSamples(samples)

    def iter_batches(self, samples, batch_size: int) -> Iterator[dict]:
        """Batches of ``LiftingTensorDataset`` over ``samples``.

        Args:
            samples (HandSamples | EgoExo4DHandDataset): Anything with
                ``get_arrays()`` (2D keypoints in px).
            batch_size (int): Hands per batch.

        Yields:
            dict: ``inputs`` (B, K, 2) normalised, ``data_samples``.
        """
        dataset = LiftingTensorDataset(samples, codec=self.model.head.codec)
        for start in range(0, len(dataset), batch_size):
            yield dataset.__getitems__(
                list(range(start, min(start + batch_size, len(dataset)))))

    def __call__(self,
                 keypoints_2d: np.ndarray,
                 keypoints_valid: Optional[np.ndarray] = None,
                 hands: Union[str, Sequence[str]] = 'right',
                 cam_K: Optional[np.ndarray] = None,
                 wrist_depth_m: Union[None, float, np.ndarray] = None,
                 batch_size: int = 256,
                 out_dir: Optional[Union[str, Path]] = None,
                 return_vis: bool = False) -> dict:
        """Lift one hand or a batch of hands.

        Args:
            keypoints_2d (np.ndarray): (K, 2) or (N, K, 2) px.
            keypoints_valid (np.ndarray, optional): (K,) or (N, K) bool.
            hands (str | Sequence[str]): Handedness, one or per hand.
            cam_K (np.ndarray, optional): (3, 3) or (N, 3, 3) intrinsics.
            wrist_depth_m (float | np.ndarray, optional): Camera-frame z of
                the wrist in metres, one or (N,) (NaN: unknown for that
                hand). With it, hands whose wrist 2D is valid also get
                ``keypoints_3d_cam_m`` (see :mod:`hp3d.apis.camera_space`).
            batch_size (int): Hands per model call. Defaults to 256.
            out_dir (str | Path, optional): Save a figure per hand here.
            return_vis (bool): Return the figures.

        Returns:
            dict: ``predictions``: one dict per hand (``hand``,
            ``keypoints_3d_rel_mm`` (K, 3), maybe ``keypoints_3d_cam_m``
            (K, 3)); ``visualization``: (H, W, 3) RGB figures, or [].
        """
        samples = self.build_samples(keypoints_2d, keypoints_valid, hands,
                                     cam_K)
        arrays = samples.get_arrays()
        num_hands = len(samples)
        depth = per_hand(wrist_depth_m, num_hands, (), 'wrist_depth_m')
        wrist_known = arrays['keypoints_valid'][:, WRIST]
        if depth is not None:
            missing = np.flatnonzero(~np.isnan(depth) & ~wrist_known)
            if len(missing):
                raise ValueError(
                    f'wrist_depth_m is given for hands {missing.tolist()} '
                    'whose wrist 2D is invalid: the wrist ray is unknown')
        preds, figures = self.predict_samples(samples, batch_size, out_dir,
                                              return_vis)
        results = []
        for pred in preds:
            i = pred['sample_idx']
            results.append(self.hand_result(
                pred, arrays['cam_K'][i], arrays['keypoints_2d'][i, WRIST],
                None if depth is None else float(depth[i])))
        return dict(predictions=results, visualization=figures)
