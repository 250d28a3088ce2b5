# The seed project's lifting Transformer: dim 32, depth 4, 8 heads, MLP ratio 2,
# Adam 2e-4, batch 64, 30 epochs, best checkpoint by val MPJPE.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/datasets/egoexo4d_lifting.py',
    '../_base_/schedules/adam_30e.py',
]

model = dict(
    type='PoseLifter',
    data_preprocessor=dict(type='BaseDataPreprocessor'),
    backbone=dict(
        type='PoseTransformer',
        num_joints=21,
        embed_dim=32,
        depth=4,
        num_heads=8,
        mlp_ratio=2.0,
        invalid_joints='mask'),
    head=dict(
        type='JointRegressionHead',
        in_channels=32,
        codec={{_base_.codec}},
        loss=dict(type='MaskedMSELoss')))
