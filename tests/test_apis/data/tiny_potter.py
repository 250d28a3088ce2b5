# configs/potter_egoexo.py small enough for CPU tests: one block per stage,
# narrow widths, 64x64 crops, no pretrained weights; its test pipeline with
# the crop size changed.
_base_ = ['../../../configs/potter_egoexo.py']

input_size = (64, 64)
codec = {{_base_.codec}}
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, layers=(1, 1, 1, 1),
                  embed_dims=(32, 64, 96, 128), mlp_ratios=(2, 2, 2, 2)),
        hr_depths=(1, 1, 1),
        hr_mlp_ratios=(2, 2, 2),
        init_cfg=None),
    head=dict(in_channels=32, feat_channels=32, depth_size=8,
              heatmap_size=(16, 16), hidden_dims=32))

test_pipeline = [
    dict(type='GetBBoxCenterScale', padding=1.25, input_size=input_size),
    dict(type='LoadImage', on_error='raise', expected_size=(512, 512)),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='MirrorLeftHand', enabled=True),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackInputs'),
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
