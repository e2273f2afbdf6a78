"""Example third-party Workbench plugin: the ``longtail`` evaluator (APLT@K).

Registered through the ``workbench`` entry-point group (see pyproject.toml).
The implementation module is named by a dotted path, so it is only imported
when an evaluation actually uses it.
"""

from workbench.hookspecs import hookimpl
from workbench.kinds import PluginSpec

from workbench_example_evaluator.options import LongTailOptions

__version__ = "0.1.0"


@hookimpl
def register_evaluators(register):
    register(PluginSpec(
        name="longtail", kind="evaluator",
        factory="workbench_example_evaluator.longtail:LongTailEvaluator",
        options=LongTailOptions,
        description="APLT@K: share of long-tail items (outside the most popular head_fraction of the "
                    "catalogue) in each user's top-K list, averaged over users"))
