"""``workbench plugins list|info|install|uninstall``.

``install`` and ``uninstall`` run pip in the Python environment Workbench runs
in (``sys.executable -m pip``), streaming pip's own output.

Constraints rule (so installing a plugin never swaps your torch):

1. ``WORKBENCH_PIP_CONSTRAINTS`` set and non-empty: each file in it (``os.pathsep``
   separated) is passed as ``-c FILE``. Set but empty: no constraints file.
2. Unset, and Workbench is an editable install from a checkout that has
   ``constraints-cpu.txt`` next to the ``workbench`` package: that file is passed,
   unless the torch it pins differs from the torch installed (your own CUDA build).
3. In every case the torch that is installed is pinned too (``torch==<installed>``,
   in a temporary constraints file), unless ``--allow-torch-change`` is given.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from workbench.cli.common import echo_json, fail

ENV_CONSTRAINTS = "WORKBENCH_PIP_CONSTRAINTS"


# ------------------------------------------------------------------ registry views
def _fresh_registry():
    from workbench.plugins import Registry

    importlib.invalidate_caches()
    registry = Registry()
    registry.load_entry_points()
    return registry


def _errors(registry) -> list[dict]:
    return [{"plugin": e.plugin, "package": e.package, "error": e.error} for e in registry.errors]


def _spec_record(spec) -> dict:
    from workbench.options import describe

    factory = spec.factory if isinstance(spec.factory, str) else \
        f"{spec.factory.__module__}:{spec.factory.__qualname__}"
    return {"kind": spec.kind, "name": spec.name, "description": spec.description, "factory": factory,
            "options": describe(spec.options)}


# ------------------------------------------------------------------ commands
@click.group()
def plugins():
    """List, inspect, install and uninstall plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(as_json):
    """Every plugin: name, kinds, package, version, built-in or not, and load errors."""
    registry = _fresh_registry()
    rows, errors = registry.describe(), _errors(registry)
    if as_json:
        echo_json({"plugins": rows, "errors": errors})
        return
    if rows:
        click.echo(f"{'NAME':<22} {'KINDS':<24} {'PACKAGE':<28} {'VERSION':<10} BUILTIN")
    for r in rows:
        kinds = ",".join(r["kinds"]) or "-"
        click.echo(f"{r['name']:<22} {kinds:<24} {r['package']:<28} {r['version']:<10} "
                   f"{'yes' if r['builtin'] else 'no'}")
        for kind, names in r["provides"].items():
            click.echo(f"    {kind}: {', '.join(names)}")
    if not rows:
        click.echo("no plugins loaded")
    if errors:
        click.echo("\nPlugins that failed to load (skipped):")
        for e in errors:
            click.echo(f"  {e['plugin']} ({e['package']}): {e['error']}")


def _select(registry, name: str) -> list[dict]:
    """Plugin records matching a plugin (entry-point) name, a package name, or a provided thing's name."""
    canon = _canonical(name)
    rows = registry.describe()
    by_plugin = [r for r in rows if r["name"] == name]
    by_package = [r for r in rows if _canonical(r["package"]) == canon]
    kind, _, spec_name = name.rpartition(":")
    out = []
    for r in by_plugin or by_package:
        specs = [registry.specs[k][n] for k, names in r["provides"].items() for n in names]
        out.append({**r, "specs": [_spec_record(s) for s in specs]})
    if out:
        return out
    for r in rows:
        specs = [registry.specs[k][n] for k, names in r["provides"].items() for n in names
                 if n == spec_name and (not kind or k == kind)]
        if specs:
            out.append({**r, "specs": [_spec_record(s) for s in specs]})
    return out


@plugins.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info_cmd(name, as_json):
    """What plugin NAME provides and each thing's declared options.

    NAME is a plugin name (see `plugins list`), a package name, or the name of a
    provided view/fusion/head/evaluator/reader (``KIND:NAME`` when ambiguous).
    """
    registry = _fresh_registry()
    records = _select(registry, name)
    errors = [e for e in _errors(registry) if e["plugin"] == name or _canonical(e["package"]) == _canonical(name)]
    if not records and not errors:
        known = ", ".join(r["name"] for r in registry.describe())
        fail(f"no plugin, package or plugin-provided name {name!r} (plugins: {known})")
    if as_json:
        echo_json({"plugins": records, "errors": errors})
        return
    for r in records:
        click.echo(f"{r['name']}  ({r['package']} {r['version']}, {'built-in' if r['builtin'] else 'third-party'}, "
                   f"module {r['module']})")
        for s in r["specs"]:
            click.echo(f"  {s['kind']} {s['name']}: {s['description']}")
            click.echo(f"      implementation: {s['factory']}")
            if not s["options"]:
                click.echo("      (no options)")
            for o in s["options"]:
                extra = [f"choices {o['choices']}" if "choices" in o else "",
                         f"min {o['min']}" if "min" in o else "", f"max {o['max']}" if "max" in o else "",
                         "required" if o["required"] else f"default {json.dumps(o['default'], default=str)}"]
                click.echo(f"      {o['name']:<20} {o['type']:<12} {o.get('help', '')}  "
                           f"[{'; '.join(x for x in extra if x)}]")
    for e in errors:
        click.echo(f"load error: {e['plugin']} ({e['package']}): {e['error']}", err=True)


# ------------------------------------------------------------------ pip
def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _require_pip() -> None:
    if importlib.util.find_spec("pip") is None:
        fail(f"the Python environment Workbench runs in ({sys.prefix}) has no pip. Add it with "
             f"`{sys.executable} -m ensurepip`, or install the plugin with your own tool, e.g. "
             f"`uv pip install --python {sys.executable} SPEC`.")


def _editable_checkout() -> Path | None:
    """The source checkout Workbench runs from (an editable install), else None.

    Recognised by pip's ``direct_url.json`` (``dir_info.editable``) on any
    ``seqrec-workbench`` distribution, or by the ``workbench`` package living in a
    folder with Workbench's ``pyproject.toml`` outside any site-packages.
    """
    import workbench

    root = Path(workbench.__file__).resolve().parent.parent
    for dist in md.distributions(name="seqrec-workbench"):
        raw = dist.read_text("direct_url.json")
        if raw and json.loads(raw).get("dir_info", {}).get("editable"):
            return root
    pyproject = root / "pyproject.toml"
    if "site-packages" not in root.parts and pyproject.is_file() and \
            'name = "seqrec-workbench"' in pyproject.read_text():
        return root
    return None


def _installed_torch() -> str | None:
    try:
        return md.version("torch")
    except md.PackageNotFoundError:
        return None


def _pinned_torch(constraints: Path) -> str | None:
    for line in constraints.read_text().splitlines():
        m = re.match(r"\s*torch\s*==\s*([^\s;#]+)", line)
        if m:
            return m.group(1)
    return None


def constraint_args(tmpdir: Path, pin_torch: bool = True) -> tuple[list[str], list[str]]:
    """pip ``-c`` arguments by the rule in this module's docstring, and notes saying why."""
    args, notes = [], []
    env = os.environ.get(ENV_CONSTRAINTS)
    if env is not None:
        for f in (p for p in env.split(os.pathsep) if p.strip()):
            if not Path(f).is_file():
                fail(f"{ENV_CONSTRAINTS} names {f}, which does not exist")
            args += ["-c", f]
            notes.append(f"constraints from {ENV_CONSTRAINTS}: {f}")
    else:
        checkout = _editable_checkout()
        repo_file = checkout / "constraints-cpu.txt" if checkout else None
        if repo_file and repo_file.is_file():
            torch, pinned = _installed_torch(), _pinned_torch(repo_file)
            if torch and pinned and torch != pinned:
                notes.append(f"not using {repo_file}: it pins torch {pinned} but torch {torch} is installed")
            else:
                args += ["-c", str(repo_file)]
                notes.append(f"constraints from the checkout: {repo_file}")
    torch = _installed_torch()
    if pin_torch and torch:
        pin = tmpdir / "installed-torch.txt"
        pin.write_text(f"torch=={torch}\n")
        args += ["-c", str(pin)]
        notes.append(f"keeping the installed torch {torch} (--allow-torch-change to lift)")
    return args, notes


def _run_pip(args: list[str]) -> int:
    cmd = [sys.executable, "-m", "pip", *args]
    click.echo("$ " + " ".join(cmd), err=True)
    return subprocess.call(cmd)  # inherits stdout/stderr: pip's output streams as it runs


def _dists() -> dict[str, str]:
    importlib.invalidate_caches()
    return {_canonical(d.metadata["Name"]): d.version for d in md.distributions() if d.metadata["Name"]}


@plugins.command("install", context_settings={"ignore_unknown_options": True})
@click.argument("spec")
@click.argument("pip_args", nargs=-1, type=click.UNPROCESSED)
@click.option("--editable", "-e", is_flag=True, help="Install a local plugin folder in editable mode.")
@click.option("--allow-torch-change", is_flag=True, help="Do not pin the installed torch version.")
def install_cmd(spec, pip_args, editable, allow_torch_change):
    """Install plugin package SPEC with pip (a name, a path, a URL); extra PIP_ARGS go to pip.

    Example: ``workbench plugins install ./my-plugin --no-deps``.
    """
    if spec.startswith("-"):   # e.g. "-r /etc/passwd" would reach pip as an option, not a package
        fail(f"SPEC {spec!r} looks like a pip option, not a package; give the package (a name, a path or a URL) "
             "first and pip options after it, e.g. `workbench plugins install ./my-plugin --no-deps`")
    _require_pip()
    before = _dists()
    with tempfile.TemporaryDirectory(prefix="workbench-pip-") as tmp:
        c_args, notes = constraint_args(Path(tmp), pin_torch=not allow_torch_change)
        for n in notes:
            click.echo(f"workbench: {n}", err=True)
        rc = _run_pip(["install", *c_args, *pip_args, *(["-e"] if editable else []), spec])
    if rc != 0:
        fail(f"pip install failed (exit code {rc}); see pip's output above", code=rc)
    after = _dists()
    changed = sorted(d for d, v in after.items() if before.get(d) != v)
    # A fresh process sees what pip just did (new .pth files, editable finders) as a later run will.
    check = subprocess.run([sys.executable, "-c", "from workbench.cli import main; main()",
                            "plugins", "list", "--json"], capture_output=True, text=True)
    if check.returncode != 0:
        fail(f"installed, but listing plugins afterwards failed:\n{check.stderr}")
    listing = json.loads(check.stdout)
    new_rows = [r for r in listing["plugins"] if _canonical(r["package"]) in changed]
    new_errors = [e for e in listing["errors"] if _canonical(e["package"]) in changed]
    for r in new_rows:
        provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in r["provides"].items()) or "nothing yet"
        click.echo(f"plugin {r['name']} from {r['package']} {r['version']}: {provides}")
    for e in new_errors:
        click.echo(f"warning: plugin {e['plugin']} ({e['package']}) fails to load: {e['error']}", err=True)
    if not new_rows and not new_errors:
        click.echo(f"installed, but {', '.join(changed) or spec} registers no Workbench plugin "
                   "(no entry point in the `workbench` group)", err=True)


@plugins.command("uninstall")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def uninstall_cmd(name, yes):
    """Uninstall the package that provides plugin NAME (or the package NAME) with pip."""
    from workbench.plugins import BUILTIN_DISTRIBUTION, GROUP

    _require_pip()
    eps = [ep for ep in md.entry_points(group=GROUP) if ep.dist is not None]
    packages = {_canonical(ep.dist.name): ep.dist for ep in eps}
    dist = packages.get(_canonical(name)) or next((ep.dist for ep in eps if ep.name == name), None)
    if dist is None:
        known = ", ".join(sorted({ep.dist.name for ep in eps} - {BUILTIN_DISTRIBUTION})) or "none"
        fail(f"no installed plugin or plugin package named {name!r} (third-party plugin packages: {known})")
    if _canonical(dist.name) == _canonical(BUILTIN_DISTRIBUTION):
        fail(f"{name!r} is built into Workbench and cannot be uninstalled; to stop loading it, set "
             "WORKBENCH_LOAD_PLUGINS to the plugins you want")
    dist_name, dist_version = dist.name, dist.version  # read now: pip deletes the metadata
    provided = sorted(ep.name for ep in eps if _canonical(ep.dist.name) == _canonical(dist_name))
    if not yes and not click.confirm(f"Uninstall {dist_name} {dist_version} (plugins: {', '.join(provided)})?",
                                     default=False):
        click.echo("nothing uninstalled")
        return
    rc = _run_pip(["uninstall", "-y", dist_name])
    if rc != 0:
        fail(f"pip uninstall failed (exit code {rc}); see pip's output above", code=rc)
    click.echo(f"uninstalled {dist_name} {dist_version} (plugins: {', '.join(provided)})")
