"""All hp3d registries, children of mmengine's root registries (scope ``hp3d``).

Each registry knows the package that defines its members (``locations``), so a
config line ``type='PoseTransformer'`` finds the class without the caller
importing anything first.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import (
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
)
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

__all__ = [
    'RUNNERS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS', 'OPTIMIZERS',
    'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS',
    'WEIGHT_INITIALIZERS', 'DATASETS', 'DATA_SAMPLERS', 'FUNCTIONS', 'TRANSFORMS',
    'MODELS', 'MODEL_WRAPPERS', 'KEYPOINT_CODECS', 'METRICS', 'EVALUATORS',
    'VISUALIZERS', 'VISBACKENDS'
]

# engine
RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS,
                   locations=['hp3d.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, locations=['hp3d.engine'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS,
                 locations=['hp3d.engine.hooks', 'hp3d.visualization'])
LOG_PROCESSORS = Registry('log processor', parent=MMENGINE_LOG_PROCESSORS,
                          locations=['hp3d.engine'])
OPTIM_WRAPPERS = Registry('optim wrapper', parent=MMENGINE_OPTIM_WRAPPERS,
                          locations=['hp3d.engine'])
OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS,
                      locations=['hp3d.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, locations=['hp3d.engine'])
PARAM_SCHEDULERS = Registry('parameter scheduler',
                            parent=MMENGINE_PARAM_SCHEDULERS,
                            locations=['hp3d.engine'])

# data
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS,
                    locations=['hp3d.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS,
                         locations=['hp3d.datasets'])
FUNCTIONS = Registry('function', parent=MMENGINE_FUNCTIONS,
                     locations=['hp3d.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS,
                      locations=['hp3d.datasets.transforms'])

# models
MODELS = Registry('model', parent=MMENGINE_MODELS, locations=['hp3d.models'])
MODEL_WRAPPERS = Registry('model wrapper', parent=MMENGINE_MODEL_WRAPPERS,
                          locations=['hp3d.engine'])
WEIGHT_INITIALIZERS = Registry('weight initializer',
                               parent=MMENGINE_WEIGHT_INITIALIZERS,
                               locations=['hp3d.models'])
KEYPOINT_CODECS = Registry('keypoint codec', locations=['hp3d.codecs'])

# evaluation
METRICS = Registry('metric', parent=MMENGINE_METRICS,
                   locations=['hp3d.evaluation.metrics'])
EVALUATORS = Registry('evaluator', parent=MMENGINE_EVALUATOR,
                      locations=['hp3d.evaluation'])

# visualization
VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS,
                       locations=['hp3d.visualization'])
VISBACKENDS = Registry('vis backend', parent=MMENGINE_VISBACKENDS,
                       locations=['hp3d.visualization'])
