"""Build a model from its config and load a checkpoint, ready for inference."""
import copy
import logging
from pathlib import Path
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import load_checkpoint
from torch import nn

from hp3d.engine import register_safe_globals
from hp3d.models.backbones import portable_impl
from hp3d.registry import MODELS

__all__ = ['init_model', 'portable_config']


def init_model(config: Union[str, Path, Config],
               weights: Optional[str] = None,
               device: Union[str, torch.device] = 'cpu') -> nn.Module:
    """The config's model in eval mode on ``device``, weights loaded.

    Weights load with mmengine's ``load_checkpoint(map_location=device)``
    through ``torch.load``'s weights-only unpickler, with the allow-list of
    :mod:`hp3d.engine.safe_load` (the extra objects mmengine's runner saves
    in every checkpoint), and strictly: a checkpoint that does not match the
    config is an error. On devices other than the CPU, a backbone configured
    with a CPU training layout (``impl='cpu_kernel'`` or ``'batch_last'``)
    runs as ``'fused'``: same weights, no C++ kernel to build.

    Args:
        config (str | Path | Config): Config file or object with ``model``.
        weights (str, optional): Checkpoint path or URL. None keeps the
            random initialisation (tests, ONNX graph checks).
        device (str | torch.device): Where the model runs. Defaults to
            ``'cpu'``.

    Returns:
        nn.Module: The estimator, with the config as ``model.cfg``.
    """
    cfg = config if isinstance(config, Config) else Config.fromfile(
        str(config))
    if 'model' not in cfg:
        raise KeyError(f'{getattr(cfg, "filename", config)}: no `model` in '
                       'the config')
    if torch.device(device).type != 'cpu':
        trained_cfg, cfg = cfg, portable_config(cfg)
        if cfg is not trained_cfg:
            print_log(f'init_model: the backbone runs impl='
                      f'{cfg.model.backbone.impl!r} on {device} (the config '
                      f'trains with {trained_cfg.model.backbone.impl!r} on '
                      'CPUs; same weights)', logger='current')
    model = MODELS.build(cfg.model)
    if weights is None:
        print_log('init_model: no checkpoint given, the model keeps its '
                  'random initial weights', logger='current',
                  level=logging.WARNING)
    else:
        register_safe_globals()
        load_checkpoint(model, weights, map_location=device, strict=True)
    model.cfg = cfg
    return model.to(device).eval()


def portable_config(cfg: Config) -> Config:
    """``cfg``, or a copy whose backbone runs :func:`portable_impl` (the
    standard layout of a CPU training one: GPUs, ONNX export).

    Args:
        cfg (Config): A config with ``model``.

    Returns:
        Config: ``cfg`` itself when its backbone is portable already.
    """
    backbone = cfg.model.get('backbone')
    impl = backbone.get('impl') if isinstance(backbone, dict) else None
    if impl is None or portable_impl(impl) == impl:
        return cfg
    cfg = copy.deepcopy(cfg)
    cfg.model.backbone.impl = portable_impl(impl)
    return cfg
