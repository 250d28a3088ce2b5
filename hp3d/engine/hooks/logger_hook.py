"""mmengine's LoggerHook with the test-metrics JSON written by one process."""
import json
import os.path as osp
from typing import Dict, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import LoggerHook

from hp3d.registry import HOOKS
from hp3d.utils.atomic_io import write_text_atomic

__all__ = ['MainProcessLoggerHook']


@HOOKS.register_module()
class MainProcessLoggerHook(LoggerHook):
    """``LoggerHook`` whose ``<timestamp>.json`` test log is race-free.

    mmengine dumps the test metrics from every rank into the same file at
    once; under torchrun the writes interleave and the file can end up as
    a mix of the ranks' texts. Here only the main process writes it, and
    atomically. Arguments are those of ``LoggerHook``.
    """

    def after_test_epoch(self, runner,
                         metrics: Optional[Dict[str, float]] = None) -> None:
        tag, log_str = runner.log_processor.get_log_after_epoch(
            runner, len(runner.test_dataloader), 'test', with_non_scalar=True)
        runner.logger.info(log_str)
        if is_main_process():
            write_text_atomic(osp.join(runner.log_dir, self.json_log_path),
                              json.dumps(self._process_tags(tag)))
