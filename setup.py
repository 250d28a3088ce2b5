from setuptools import find_packages, setup


def read_requirements(path):
    with open(path) as f:
        return [line.strip() for line in f
                if line.strip() and not line.startswith('#')]


def read_version():
    scope = {}
    with open('hp3d/version.py') as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='hp3d',
    version=read_version(),
    description='3D hand pose estimation on Ego-Exo4D (lifting and POTTER), '
    'OpenMMLab style',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'demo')),
    include_package_data=True,
    package_data={'hp3d': ['codecs/stats/*.json', 'models/ops/csrc/*.cpp']},
    python_requires='>=3.10',  # torch 2.14's floor
    install_requires=read_requirements('requirements/runtime.txt'),
    extras_require=dict(
        coco=read_requirements('requirements/coco.txt'),
        tests=read_requirements('requirements/tests.txt'),
    ),
    license='Apache License 2.0',
)
