# The seed recipe on the synthetic set, compiled for CPU training: the same
# model and state dict, ~2x faster per train step on a 2-core CPU
# (tools/analysis_tools/benchmark_lifting.py). The backbone is compiled once
# with dynamic batch sizes (a C++ compiler is needed); its attention runs in
# the broadcast form inductor vectorises over the heads; Adam is fused.
_base_ = ['./lifting_pose-transformer-d32l4_1xb64-30e_synthetic-gt2d.py']

compile = dict(dynamic=True)
model = dict(backbone=dict(attn_impl='broadcast'))
optim_wrapper = dict(optimizer=dict(fused=True))
