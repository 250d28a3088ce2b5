# The seed recipe on the synthetic set, compiled for CPU training: the same
# model and state dict, x2.3 faster per train step on one CPU thread
# (docs/benchmarks_lifting.md). The backbone runs batch-last (hands as the
# contiguous axis, which inductor vectorises) with the attention in hp3d's C++
# kernel (impl='cpu_kernel', built on first use). Hp3dRunner compiles the
# backbone, and for training backbone + head + loss as one graph (a C++
# compiler is needed), with static shapes: one graph per batch size met
# (train 64 and the last partial batch, val 256 and its remainder);
# inductor's on-disk cache makes later runs start in seconds. Adam's update
# runs fused, once over one buffer holding every parameter (FlatAdam: the
# same updates and state-dict layout as Adam).
_base_ = ['./lifting_pose-transformer-d32l4_1xb64-30e_synthetic-gt2d.py']

compile = dict(dynamic=False)
model = dict(backbone=dict(impl='cpu_kernel'))
optim_wrapper = dict(optimizer=dict(type='FlatAdam', fused=True))
