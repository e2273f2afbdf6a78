"""Workbench's built-in plugins (installed as ``workbench_plugins``).

Each subpackage (views, fusions, heads, evaluators, readers) is registered under the
``workbench`` entry-point group in pyproject.toml, exactly as a third-party plugin
package registers its modules. Inside a subpackage:

- ``name.py``: one plugin, torch-free: its options dataclass and ``SPECS`` (what
  ``register_<kind>s`` registers; collected by :func:`workbench.kinds.specs_from_package`);
- ``name_impl.py``: its implementation (torch for views, fusions and heads), named by the spec's ``factory``
  and imported only when a model is built;
- ``_*.py``: helpers shared by several plugins (never registered).
"""
