# An ImagePoseEstimator small enough for CPU tests: POTTER with one block per
# stage, narrow widths and 64x64 crops, and the image test pipeline of the
# design (load, crop, mirror left hands, pack).
input_size = (64, 64)

model = dict(
    type='ImagePoseEstimator',
    data_preprocessor=dict(
        type='ImgDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='PoolAttnFormerHR',
        arch=dict(layers=(1, 1, 1, 1), embed_dims=(32, 64, 96, 128),
                  mlp_ratios=(2, 2, 2, 2)),
        hr_depths=(1, 1, 1),
        hr_mlp_ratios=(2, 2, 2)),
    head=dict(
        type='Pose3DVolumeHead',
        codec=dict(type='Pose3DCodec'),
        in_channels=32,
        feat_channels=32,
        depth_size=8,
        heatmap_size=(input_size[1] // 4, input_size[0] // 4),
        hidden_dims=32))

test_dataloader = dict(
    collate_fn=dict(type='default_collate'),
    dataset=dict(pipeline=[
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale', input_size=input_size),
        dict(type='TopdownAffine', input_size=input_size),
        dict(type='MirrorLeftHand'),
        dict(type='PackInputs'),
    ]))
