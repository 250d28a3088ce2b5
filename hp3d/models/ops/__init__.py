from .cpp_build import KernelBuildError
from .joint_attention import joint_attention

__all__ = ['joint_attention', 'KernelBuildError']
