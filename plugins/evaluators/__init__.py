"""Built-in evaluator plugins. Each torch-free module here declares its options and ``SPECS``;
torch implementations live in ``*_impl.py`` and load only when a model is built."""

from workbench.hookspecs import hookimpl
from workbench.kinds import specs_from_package


@hookimpl
def register_evaluators(register):
    for spec in specs_from_package(__name__, "evaluator"):
        register(spec)
