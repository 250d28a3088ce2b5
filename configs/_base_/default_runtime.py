default_scope = 'hp3d'
# Atomic checkpoint writes, CPU (gloo) distributed set-up, exact mid-epoch resume.
runner_type = 'Hp3dRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    # mmengine's, with the test-metrics JSON written by rank 0 only
    logger=dict(type='MainProcessLoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=3,
                    save_best='egoexo4d/MPJPE', rule='less'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='Hand3DVisualizationHook', enable=False,
                       max_samples=2, val_interval=5),
)

# A NaN/Inf loss stops training before anything non-finite is saved.
custom_hooks = [dict(type='NaNGuardHook', action='stop')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl', timeout=1800),
)

vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
# unnamed: mmengine names it after the run, so runs in one process keep apart
visualizer = dict(type='Hand3DVisualizer', vis_backends=vis_backends)
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True,
                     num_digits=6)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
