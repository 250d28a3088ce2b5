# A POTTER small enough to train on a 2-core CPU in minutes (`make demo`):
# the same architecture family (PoolAttnFormer + HR stream + 3D volume head)
# with a narrow 1-1-2-1 basic stream, 64x64 crops and 16 depth bins.
_base_ = ['./potter_poolattnformer-s12_1xb64-70e_synthetic-224x224.py']

input_size = (64, 64)
codec = {{_base_.codec}}
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, layers=(1, 1, 2, 1),
                  embed_dims=(32, 64, 128, 256), mlp_ratios=(4, 4, 4, 4)),
        hr_depths=(1, 1, 1),
        # 6 epochs from scratch: the recipe's dropout only slows it down
        drop_rate=0., drop_path_rate=0.),
    head=dict(in_channels=32, feat_channels=64, depth_size=16,
              heatmap_size=(16, 16), hidden_dims=128))

train_pipeline = [
    dict(type='GetBBoxCenterScale', padding=1.25, input_size=input_size),
    dict(type='RandomBBoxTransform', shift_factor=0.05, scale_factor=(0.9, 1.1),
         rotate_factor=20, rotate_prob=0.5),
    dict(type='LoadImage', on_error='skip', expected_size=(512, 512)),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='MirrorLeftHand', enabled=True),
    dict(type='PhotometricDistortion'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='GetBBoxCenterScale', padding=1.25, input_size=input_size),
    dict(type='LoadImage', on_error='raise', expected_size=(512, 512)),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='MirrorLeftHand', enabled=True),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=32, num_workers=2,
                        dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=2, dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(num_workers=2, dataset=dict(pipeline=test_pipeline))

train_cfg = dict(max_epochs=6)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=6, eta_min=1e-5, by_epoch=True)
]
