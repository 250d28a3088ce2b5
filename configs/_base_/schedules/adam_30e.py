# The seed lifting recipe: Adam 2e-4, 30 epochs, validate every epoch.
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=1)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-4))
param_scheduler = []
auto_scale_lr = dict(base_batch_size=64, enable=False)
