# The seed recipe on the synthetic set, compiled for CPU training: the same
# model and state dict, x1.9 faster per train step on one CPU thread, x1.3-1.9
# on two (docs/benchmarks_lifting.md). The backbone runs batch-last
# (hands as the contiguous axis, which inductor vectorises). Hp3dRunner
# compiles it, and for training backbone + head + loss as one graph (a C++
# compiler is needed), with static shapes: one graph per batch size met
# (train 64 and the last partial batch, val 256 and its remainder);
# inductor's on-disk cache makes later runs start in seconds. Adam is fused.
_base_ = ['./lifting_pose-transformer-d32l4_1xb64-30e_synthetic-gt2d.py']

compile = dict(dynamic=False)
model = dict(backbone=dict(impl='cpu_kernel'))
optim_wrapper = dict(optimizer=dict(fused=True))
