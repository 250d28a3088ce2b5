"""One entry for both pipelines: the config's model type picks the inferencer.
"""
from pathlib import Path
from typing import Dict, Optional, Type, Union

from mmengine.config import Config

from hp3d.models.estimators import ImagePoseEstimator, PoseLifter
from hp3d.registry import MODELS

from .base_inferencer import BaseHand3DInferencer
from .image_inferencer import ImageInferencer
from .lifting_inferencer import LiftingInferencer
from .model_index import MODEL_INDEX_FILE, resolve_model

__all__ = ['INFERENCERS', 'inferencer_class', 'Hand3DInferencer']

# Estimator class -> inferencer class. A subclass of an estimator uses its
# parent's inferencer.
INFERENCERS: Dict[type, Type[BaseHand3DInferencer]] = {
    PoseLifter: LiftingInferencer,
    ImagePoseEstimator: ImageInferencer,
}


def inferencer_class(cfg: Config) -> Type[BaseHand3DInferencer]:
    """The inferencer of a config's ``model.type`` (see :data:`INFERENCERS`).

    Args:
        cfg (Config): A model config.

    Returns:
        type: ``LiftingInferencer`` or ``ImageInferencer``.
    """
    model_type = cfg.model['type']
    model_cls = (MODELS.get(model_type) if isinstance(model_type, str) else
                 model_type)
    if model_cls is None:
        raise KeyError(f'model type {model_type!r} is not registered in hp3d')
    for estimator, inferencer in INFERENCERS.items():
        if issubclass(model_cls, estimator):
            return inferencer
    raise TypeError(f'No inferencer for model type {model_cls.__name__}; '
                    f'known: {[e.__name__ for e in INFERENCERS]}')


class Hand3DInferencer:
    """3D hand pose from images or 2D keypoints, by config or model name.

    Loads the config (a path, relative to the working directory or the
    repository root, or a name of ``model-index.yml``), picks the pipeline
    from the model type and delegates calls to it:

    - ``ImagePoseEstimator`` (POTTER) -> :class:`ImageInferencer`:
      ``inferencer(image, bboxes=..., hands=...)``;
    - ``PoseLifter`` -> :class:`LiftingInferencer`:
      ``inferencer(keypoints_2d, keypoints_valid)``.

    Both return ``dict(predictions=[one dict per hand], visualization=[])``
    with ``keypoints_3d_rel_mm`` (21, 3) wrist-relative mm per hand.

    Args:
        model (str | Config): Config path, model-index name, or a Config.
        weights (str, optional): Checkpoint path or URL. Defaults to the
            model index's ``Weights`` for a model name, else None (random
            weights, with a warning).
        device (str): Defaults to ``'cpu'``.
        index_file (str | Path): The model index to look names up in.
            Defaults to the repository's ``model-index.yml``.
    """

    def __init__(self,
                 model: Union[str, Config],
                 weights: Optional[str] = None,
                 device: str = 'cpu',
                 index_file: Union[str, Path] = MODEL_INDEX_FILE) -> None:
        if isinstance(model, Config):
            cfg = model
        else:
            config_file, index_weights = resolve_model(model, index_file)
            cfg = Config.fromfile(str(config_file))
            weights = index_weights if weights is None else weights
        self.inferencer = inferencer_class(cfg)(cfg, weights, device)

    @property
    def model(self):
        return self.inferencer.model

    @property
    def cfg(self) -> Config:
        return self.inferencer.cfg

    def __call__(self, *args, **kwargs) -> dict:
        """The pipeline inferencer's ``__call__`` (see the class doc)."""
        return self.inferencer(*args, **kwargs)
