"""Built-in evaluator plugins (the layout of a plugin package: see ``workbench_plugins``)."""

from workbench_plugins._registration import register_package

register_evaluators = register_package(__name__, "evaluator", first=("ranking", "coverage", "novelty"))
