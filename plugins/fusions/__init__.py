"""Built-in fusion plugins. Each torch-free module here declares its options and ``SPECS``;
torch implementations live in ``*_impl.py`` and load only when a model is built."""

from workbench.hookspecs import hookimpl
from workbench.kinds import specs_from_package


@hookimpl
def register_fusions(register):
    for spec in specs_from_package(__name__, "fusion"):
        register(spec)
