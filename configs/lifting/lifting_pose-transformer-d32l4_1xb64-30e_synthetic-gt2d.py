# The seed recipe on the synthetic Ego-Exo4D set (python
# tools/dataset_converters/make_synthetic_egoexo4d.py --out data/synthetic_egoexo4d).
_base_ = ['./lifting_pose-transformer-d32l4_1xb64-30e_egoexo4d-gt2d.py']

data_root = 'data/synthetic_egoexo4d/'
train_dataloader = dict(dataset=dict(dataset=dict(data_root=data_root)))
val_dataloader = dict(dataset=dict(dataset=dict(data_root=data_root)))
test_dataloader = dict(
    dataset=dict(
        dataset=dict(
            data_root=data_root,
            ann_file='annotations/ego_pose_gt_anno_test_public.json')))
