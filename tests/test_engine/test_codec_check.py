"""check_codecs: the data's target codec must be the model head's."""
from types import SimpleNamespace

import pytest
from torch import nn

from hp3d.codecs import LiftingCodec, Pose3DCodec
from hp3d.datasets.transforms import GenerateTarget
from hp3d.engine.codec_check import check_codecs


def _model(codec) -> nn.Module:
    model = nn.Module()
    model.head = nn.Module()
    model.head.codec = codec
    return model


def test_lifting_data_with_other_statistics_is_refused():
    model = _model(LiftingCodec())
    same = SimpleNamespace(dataset=SimpleNamespace(codec=LiftingCodec()))
    check_codecs(model, same, 'val_dataloader')
    other = SimpleNamespace(dataset=SimpleNamespace(
        codec=LiftingCodec(input_mean_px=(350.0, 230.0))))
    with pytest.raises(ValueError, match=r'train_dataloader encodes targets '
                       r'with other LiftingCodec settings .*\(differ: '
                       r'input_mean_px\)'):
        check_codecs(model, other, 'train_dataloader')


def test_pipeline_codec_of_another_type_is_refused():
    # image datasets encode in their pipeline (GenerateTarget), behind
    # dataset wrappers
    pipeline = SimpleNamespace(transforms=[
        GenerateTarget(encoder=dict(type='LiftingCodec'))])
    data = SimpleNamespace(dataset=SimpleNamespace(
        dataset=SimpleNamespace(pipeline=pipeline)))
    with pytest.raises(ValueError, match='test_dataloader encodes targets '
                       'with LiftingCodec, but model.head decodes with '
                       'Pose3DCodec'):
        check_codecs(_model(Pose3DCodec()), data, 'test_dataloader')
    check_codecs(_model(LiftingCodec()), data, 'test_dataloader')


def test_models_without_a_head_codec_are_not_checked():
    check_codecs(nn.Linear(2, 2), SimpleNamespace(dataset=SimpleNamespace(
        codec=LiftingCodec())), 'train_dataloader')
