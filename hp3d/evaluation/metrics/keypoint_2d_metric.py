"""2D accuracy of 3D predictions: OKS AP, PCK and EPE of their projection.

Note:
    K: joints (21).
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from hp3d.datasets.camera import project
from hp3d.datasets.metainfo import NUM_JOINTS, WRIST
from hp3d.registry import METRICS

from ..functional.keypoint_2d_eval import (
    COCO_WHOLEBODY_HAND_SIGMAS,
    build_coco_dt,
    build_coco_gt,
    coco_keypoint_ap,
    keypoint_epe,
    keypoint_pck,
    project_root_relative,
)


@METRICS.register_module()
class Keypoint2DMetric(BaseMetric):
    """COCO OKS AP, PCK and EPE of projected 3D hand predictions.

    Each prediction dict (docs/design.md §4) gives ``pred_mm`` (K, 3)
    wrist-relative mm, ``gt_m`` (K, 3) camera metres and ``valid`` (K,),
    plus the sample's:

    - ``cam_K`` (3, 3) intrinsics (required);
    - ``keypoints_2d`` (K, 2) GT px, NaN where unlabelled (optional: when
      absent, the GT 2D is ``gt_m`` projected, over the ``valid`` joints);
    - ``bbox`` (4,) xyxy px hand box (optional: when absent, the box of the
      labelled GT 2D joints).

    The prediction is placed at the GT wrist (as the official 3D protocol
    does) and projected through ``cam_K``. Reported: OKS ``AP``, ``AP50``,
    ``AP75``, ``AR`` (xtcocotools ``COCOeval``, hand sigmas, OKS scale = box
    area); ``PCK@{pck_thr}`` with the threshold ``pck_thr * max(box w, h)``,
    averaged per joint as mmpose does; ``EPE_px``, the mean pixel error over
    all labelled joints. Hands without a finite GT wrist or without any
    labelled GT 2D joint cannot be scored and are skipped (with a warning).

    Args:
        pck_thr (float): PCK threshold, a fraction of the box size.
            Defaults to 0.2.
        sigmas (Sequence[float]): (K,) per-joint OKS sigmas. Defaults to
            COCO-WholeBody's hand sigmas.
        use_area (bool): Scale OKS by the box area (else COCOeval's
            0.53 * w * h). Defaults to True.
        collect_device (str): ``'cpu'`` or ``'gpu'``, for gathering results
            across ranks. Defaults to ``'cpu'``.
        prefix (str, optional): Metric-name prefix. Defaults to ``'kpt2d'``.
    """

    default_prefix: Optional[str] = 'kpt2d'

    def __init__(self,
                 pck_thr: float = 0.2,
                 sigmas: Sequence[float] = tuple(COCO_WHOLEBODY_HAND_SIGMAS),
                 use_area: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if len(sigmas) != NUM_JOINTS:
            raise ValueError(f'sigmas must have {NUM_JOINTS} values, got '
                             f'{len(sigmas)}')
        self.pck_thr = pck_thr
        self.sigmas = np.asarray(sigmas, dtype=np.float64)
        self.use_area = use_area

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Project each prediction and keep what the metrics need.

        Args:
            data_batch: The batch (unused: predictions carry what is needed).
            data_samples (Sequence[dict]): Prediction dicts (see the class).
        """
        for pred in data_samples:
            self.results.append(self._hand_result(pred))

    @staticmethod
    def _hand_result(pred: dict) -> dict:
        if 'cam_K' not in pred:
            raise KeyError(
                f'Keypoint2DMetric: the prediction of sample '
                f'{pred.get("sample_idx")} has no cam_K; the estimator must '
                'copy the sample\'s cam_K (and keypoints_2d, bbox) into its '
                'prediction dicts')
        cam_K = np.asarray(pred['cam_K'], dtype=np.float64)
        gt_m = np.asarray(pred['gt_m'], dtype=np.float64)
        if 'keypoints_2d' in pred:
            gt_px = np.asarray(pred['keypoints_2d'], dtype=np.float64)
            labelled = np.isfinite(gt_px).all(axis=-1)
        else:
            labelled = (np.asarray(pred['valid'], dtype=bool)
                        & np.isfinite(gt_m).all(axis=-1) & (gt_m[:, 2] > 0))
            gt_px = np.full((NUM_JOINTS, 2), np.nan)
            gt_px[labelled] = project(gt_m[labelled], cam_K)
        root_m = gt_m[WRIST]
        scored = bool(labelled.any() and np.isfinite(root_m).all()
                      and root_m[2] > 0)
        pred_px = (project_root_relative(pred['pred_mm'][None],
                                         root_m[None], cam_K)[0]
                   if scored else np.full((NUM_JOINTS, 2), np.nan))
        bbox = np.asarray(pred.get('bbox', np.full(4, np.nan)),
                          dtype=np.float64)
        if scored and not np.isfinite(bbox).all():
            bbox = np.concatenate([gt_px[labelled].min(axis=0),
                                   gt_px[labelled].max(axis=0)])
        return dict(pred_px=pred_px, gt_px=gt_px, labelled=labelled,
                    bbox=bbox, scored=scored)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """OKS AP/AR, PCK and EPE over the scorable hands.

        Args:
            results (list[dict]): Per-hand entries from :meth:`process`.

        Returns:
            dict: ``AP``, ``AP50``, ``AP75``, ``AR``, ``PCK@{pck_thr}``,
            ``EPE_px``.
        """
        scored = [r for r in results if r['scored']]
        if not scored:
            raise ValueError(
                f'Keypoint2DMetric: none of the {len(results)} predictions '
                'has a finite GT wrist and a labelled GT 2D joint')
        if len(scored) < len(results):
            MMLogger.get_current_instance().warning(
                f'Keypoint2DMetric: skipped {len(results) - len(scored)} of '
                f'{len(results)} hands without a GT wrist or GT 2D joints')
        pred_px, gt_px, labelled, bbox = (
            np.stack([r[key] for r in scored])
            for key in ('pred_px', 'gt_px', 'labelled', 'bbox'))
        ap = coco_keypoint_ap(
            build_coco_gt(gt_px, labelled, bbox), build_coco_dt(pred_px),
            sigmas=self.sigmas, use_area=self.use_area)
        box_size_px = np.max(bbox[:, 2:] - bbox[:, :2], axis=1)
        metrics = {key: ap[key] for key in ('AP', 'AP50', 'AP75', 'AR')}
        metrics[f'PCK@{self.pck_thr}'] = keypoint_pck(
            pred_px, gt_px, labelled, self.pck_thr, box_size_px)
        metrics['EPE_px'] = keypoint_epe(pred_px, gt_px, labelled)
        return metrics


__all__ = ['Keypoint2DMetric']
