"""check_codecs: the data's target codec must be the model head's."""
from types import SimpleNamespace

import pytest
from torch import nn

from hp3d.codecs import LiftingCodec, Pose3DCodec
from hp3d.datasets.transforms import GenerateTarget
from hp3d.engine.codec_check import (
    check_checkpoint_codec,
    check_codecs,
    codec_record,
)


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


def test_concatenated_data_are_checked_part_by_part():
    parts = [SimpleNamespace(codec=LiftingCodec()),
             SimpleNamespace(codec=LiftingCodec(target_std_m=(1, 1, 1)))]
    with pytest.raises(ValueError, match='differ: target_std_m'):
        check_codecs(_model(LiftingCodec()),
                     SimpleNamespace(dataset=SimpleNamespace(datasets=parts)),
                     'train_dataloader')


def test_checkpoints_record_the_codec_and_refuse_another():
    model = _model(LiftingCodec())
    record = codec_record(model)
    assert record['type'] == 'LiftingCodec'
    assert record['input_mean_px'] == list(LiftingCodec().input_mean_px)
    checkpoint = dict(meta=dict(codec=record))
    check_checkpoint_codec(model, checkpoint, 'a.pth')
    check_checkpoint_codec(model, dict(meta={}), 'old.pth')  # no record
    other = _model(LiftingCodec(input_std_px=(40.0, 60.0)))
    with pytest.raises(ValueError, match=r'a.pth was trained with other '
                       r'LiftingCodec settings .*differ: input_std_px'):
        check_checkpoint_codec(other, checkpoint, 'a.pth')
