"""Per-joint linear regression head for the lifting pipeline.

Note:
    B: batch size, K: joints, C: token dims.
"""
from typing import Dict, Optional, Union

from mmengine.model import BaseModule
from torch import Tensor, nn

from hp3d.registry import KEYPOINT_CODECS, MODELS
from hp3d.utils import ConfigType, OptMultiConfig, build_module


@MODELS.register_module()
class JointRegressionHead(BaseModule):
    """Linear(C -> 3) on each joint token, trained in the codec's space.

    Args:
        in_channels (int): Token dims C.
        codec (dict | object): The codec that encoded the targets; its
            ``decode`` turns predictions into wrist-relative mm.
        loss (dict | nn.Module): Loss over (pred, target, target_weight).
            Defaults to ``MaskedMSELoss``.
        out_channels (int): Output dims per joint. Defaults to 3.
        init_cfg (dict | list, optional): mmengine init config.
    """

    def __init__(self, in_channels: int, codec: Union[ConfigType, object],
                 loss: Optional[Union[ConfigType, nn.Module]] = None,
                 out_channels: int = 3,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.fc = nn.Linear(in_channels, out_channels)
        self.codec = build_module(codec, KEYPOINT_CODECS)
        self.loss_module = build_module(
            loss if loss is not None else dict(type='MaskedMSELoss'), MODELS)

    def forward(self, feats: Tensor) -> Tensor:
        """(B, K, C) tokens -> (B, K, 3) predictions in the codec's space."""
        return self.fc(feats)

    def loss(self, feats: Tensor, data_samples: Dict) -> Dict[str, Tensor]:
        """Loss against ``data_samples['target']`` (B, K, 3) weighted by
        ``data_samples['target_weight']`` (B, K)."""
        pred = self.forward(feats)
        target = data_samples['target'].to(pred.dtype)
        return dict(loss_kpt=self.loss_module(
            pred, target, data_samples['target_weight']))

    def predict(self, feats: Tensor, data_samples: Dict) -> Tensor:
        """Returns (B, K, 3) wrist-relative predictions in mm."""
        return self.codec.decode(self.forward(feats))


__all__ = ['JointRegressionHead']
