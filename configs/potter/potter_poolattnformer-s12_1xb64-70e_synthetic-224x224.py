# The official POTTER recipe on the synthetic Ego-Exo4D set (GT test file with
# 3D, so test metrics are computed), from random init.
_base_ = ['./potter_poolattnformer-s12_1xb64-70e_egoexo4d-224x224.py']

data_root = 'data/synthetic_egoexo4d/'
model = dict(backbone=dict(init_cfg=None))
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
