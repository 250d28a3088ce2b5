# The seed recipe on the synthetic set, compiled for CPU training: the same
# model and state dict, ~1.9x faster per train step on a 2-core CPU
# (tools/analysis_tools/benchmark_lifting.py). The backbone runs batch-last
# (hands as the contiguous axis, which inductor vectorises). Hp3dRunner
# compiles it, and for training backbone + head + loss as one graph (a C++
# compiler is needed), with static shapes: one graph per batch size met
# (train 64 and the last partial batch, val 256 and its remainder);
# inductor's on-disk cache makes later runs start in seconds. Adam is fused.
_base_ = ['./lifting_pose-transformer-d32l4_1xb64-30e_synthetic-gt2d.py']

compile = dict(dynamic=False)
model = dict(backbone=dict(impl='batch_last'))
optim_wrapper = dict(optimizer=dict(fused=True))
