# The official POTTER hand recipe: Adam 1e-4, 70 epochs, validate every epoch.
_base_ = ['./adam_30e.py']

train_cfg = dict(max_epochs=70)
optim_wrapper = dict(optimizer=dict(lr=1e-4))
