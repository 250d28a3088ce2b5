# Ego-Exo4D hands for 2D -> 3D lifting: GT 2D keypoints in, wrist-relative 3D out.
# The split is encoded once and held as tensors (LiftingTensorDataset): batches
# are index slices, so data loading costs a few % of the model's train step.
# The annotation datasets inside are only read once, for their arrays: they are
# not serialized (mmengine pickles every sample for sharing with workers,
# ~0.5 s for the 21k-hand synthetic train split). Their checked samples are
# kept beside the annotation files for later runs (cache=True: .hp3d_cache/,
# used while the files and arguments are unchanged): 1.3 -> 0.16 s for it.
# (mmengine looks collate functions up in its root registry: hence the scope.)
data_root = 'data/egoexo4d/'
data_prefix = dict(img='images/', camera='camera_pose/')

# Normalisation of the seed project (DATA.md), computed on the real train split.
# The seed worked in the portrait view, (u', v') = (511 - v, u); the annotation
# files (and hp3d) use the native landscape view, so the 2D mean/std below are
# DATA.md's (282.579, 337.413) / (65.292, 50.378) mapped back: u = v',
# v = 511 - u'. The 3D stats are camera-frame in both views.
# tools/dataset_converters/compute_stats.py recomputes them for any train file.
codec = dict(
    type='LiftingCodec',
    input_mean_px=(337.413, 228.421),
    input_std_px=(50.378, 65.292),
    target_mean_m=(-0.04980, 0.00385, 0.07263),
    target_std_m=(0.04345, 0.05392, 0.05025))

train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='hp3d.batched_collate'),
    dataset=dict(
        type='LiftingTensorDataset',
        codec=codec,
        # training reads inputs and targets only: no per-sample metadata
        meta_keys=(),
        dataset=dict(
            type='EgoExo4DHandDataset',
            data_root=data_root,
            data_prefix=data_prefix,
            ann_file='annotations/ego_pose_gt_anno_train_public.json',
            serialize_data=False,
            cache=True)))
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='hp3d.batched_collate'),
    dataset=dict(
        type='LiftingTensorDataset',
        codec=codec,
        dataset=dict(
            type='EgoExo4DHandDataset',
            data_root=data_root,
            data_prefix=data_prefix,
            ann_file='annotations/ego_pose_gt_anno_val_public.json',
            test_mode=True,
            serialize_data=False,
            cache=True)))
# The real benchmark's public test file carries boxes only (no 2D input for
# lifting): the lifting model is tested on val unless you have test GT.
test_dataloader = val_dataloader

val_evaluator = dict(type='EgoExo4DHandMetric')
test_evaluator = val_evaluator
