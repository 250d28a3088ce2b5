default_scope = 'hp3d'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                    save_best='egoexo4d/MPJPE', rule='less'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='Hand3DVisualizationHook', enable=False,
                       max_samples=2, val_interval=5),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='Hand3DVisualizer', vis_backends=vis_backends,
                  name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True,
                     num_digits=6)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
