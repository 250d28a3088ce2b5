# The official baseline exactly: left hands are not mirrored (MirrorLeftHand
# disabled in every pipeline; otherwise the parent recipe).
_base_ = ['./potter_poolattnformer-s12_1xb64-70e_egoexo4d-224x224.py']

input_size = (224, 224)
codec = {{_base_.codec}}
train_pipeline = [
    dict(type='GetBBoxCenterScale', padding=1.25, input_size=input_size),
    dict(type='RandomBBoxTransform', shift_factor=0.1, scale_factor=(0.8, 1.2),
         rotate_factor=30, rotate_prob=0.5),
    dict(type='LoadImage', on_error='skip', expected_size=(512, 512)),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='MirrorLeftHand', enabled=False),
    dict(type='PhotometricDistortion'),
    dict(type='RandomBlur'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='GetBBoxCenterScale', padding=1.25, input_size=input_size),
    dict(type='LoadImage', on_error='raise', expected_size=(512, 512)),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='MirrorLeftHand', enabled=False),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
