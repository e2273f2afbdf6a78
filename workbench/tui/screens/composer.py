"""Experiment composer: views (several), fusion, head, evaluators and trainer from the installed plugins,
the split's options (training / held-out users) and a warm start from a stored run (``init_from``).

Each chosen plugin's declared options are rendered as a form. The experiment
is validated before launch (errors name the key), can be saved/loaded in the
workspace and exported as TOML, and launches as a background job; with ``seeds`` above 1 it launches
as one group of that many runs (seeds trainer.seed, +1, ...), as ``workbench run EXP --seeds N`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Select, SelectionList

from workbench.coerce import from_text
from workbench.engine.config import ModelOptions
from workbench.options import ConfigError, describe
from workbench.tui import experiment_config as ec
from workbench.store import datasets as datasets_store
from workbench.store import experiments
from workbench.store.catalogue import warm_start_sources
from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.widgets.ask import Ask
from workbench.tui.widgets.options_form import OptionsForm
from workbench.tui.widgets.pick import Pick


def default_config(datasets: list[str]) -> dict[str, Any]:
    """A new experiment: the model sizes of the engine's defaults, the fusion and evaluators the
    plugins declare as defaults (``Registry.defaults``), a first view and head to start from."""
    reg = ec.registry()
    views = reg.names("view")
    fusions = reg.defaults("fusion.one_view") or reg.names("fusion")
    heads = reg.names("head")
    evals = reg.defaults("evaluators") or reg.names("evaluator")[:1]
    model = ModelOptions()
    return {
        "name": "experiment",
        "dataset": datasets[0] if datasets else "",
        "split": "loo",
        "model": {"dim": model.dim, "max_len": model.max_len},
        "views": [{"type": "sasrec" if "sasrec" in views else views[0]}] if views else [],
        "fusion": {"type": fusions[0]} if fusions else None,
        "head": {"type": "softmax_ce" if "softmax_ce" in heads else heads[0]} if heads else None,
        "evaluators": [{"type": name} for name in evals],
        "trainer": {},
    }


def _split_kind(split: Any) -> str:
    kind = split.get("kind", "loo") if isinstance(split, dict) else (split or "loo")
    return kind if kind in ("loo", "temporal") else "loo"


class ComposerScreen(WorkbenchScreen):
    MODE = "compose"
    # nothing focused on arrival (the single-letter keys work; tab enters the form): the form's scroll
    # container is not focusable, since focusing or leaving it restyles all ~360 widgets inside (~0.3 s)
    AUTO_FOCUS = ""
    BINDINGS = [
        Binding("l", "launch", "Launch"),
        Binding("s", "save", "Save"),
        Binding("o", "load", "Load"),
        Binding("t", "export_toml", "TOML"),
        Binding("v", "validate", "Validate", show=False),
    ]

    def __init__(self):
        super().__init__()
        self.config: dict[str, Any] | None = None
        self.seeds_text = "1"  # the seeds field (not part of the experiment), kept across rebuilds

    # ------------------------------------------------------------ building
    def compose_body(self) -> ComposeResult:
        if self.config is None:
            self.config = self._initial_config()
        c = self.config
        reg = ec.registry()
        datasets = [d["name"] for d in datasets_store.summaries(self.ws)]
        with VerticalScroll(id="composer", can_focus=False):
            yield Label("", id="compose-message")
            with Horizontal(classes="buttons"):
                yield Button("Launch (l)", id="launch", variant="success", compact=True)
                yield Button("Save (s)", id="save", compact=True)
                yield Button("Load (o)", id="load", compact=True)
                yield Button("TOML (t)", id="export_toml", compact=True)
            with Horizontal(classes="field"):
                yield Label("name", classes="field-name")
                yield Input(c.get("name", ""), id="exp-name", compact=True)
            with Horizontal(classes="field"):
                yield Label("seeds", classes="field-name")
                yield Input(self.seeds_text, id="exp-seeds", compact=True,
                            tooltip="runs to launch as one group, seeds trainer.seed, +1, ... (1: a single run)")
            with Horizontal(classes="field"):
                yield Label("dataset", classes="field-name")
                yield Select([(d, d) for d in datasets], value=c.get("dataset") if c.get("dataset") in datasets
                             else Select.NULL, id="exp-dataset", prompt="import a dataset first (d)", compact=True)
            with Horizontal(classes="field"):
                yield Label("split", classes="field-name")
                yield Select([("leave-one-out", "loo"), ("temporal", "temporal")], value=_split_kind(c.get("split")),
                             allow_blank=False, id="exp-split", compact=True)
            model = c.get("model") or {}
            with Horizontal(classes="field"):
                yield Label("model dim", classes="field-name")
                yield Input(str(model.get("dim", ModelOptions().dim)), id="model-dim", compact=True)
            with Horizontal(classes="field"):
                yield Label("max length", classes="field-name")
                yield Input(str(model.get("max_len", ModelOptions().max_len)), id="model-max_len", compact=True)
            for section, kind, many in ec.PLUGIN_SECTIONS:
                entries = ec.section_entries(c, section)
                chosen = [ec.split_entry(e)[0] for e in entries]
                yield Label(f"{section} ({'choose one or more' if many else 'choose one'})", classes="title")
                names = reg.names(kind)
                if many:
                    yield SelectionList[str](*[(f"{n}: {reg.specs[kind][n].description[:50]}", n, n in chosen)
                                               for n in names], id=f"pick-{section}", compact=True)
                else:
                    yield Select([(n, n) for n in names], value=chosen[0] if chosen and chosen[0] in names
                                 else Select.NULL, id=f"pick-{section}", compact=True)
                for name, opts in (ec.split_entry(e) for e in entries):
                    if name in reg.specs[kind]:
                        yield Label(f"{name} options", classes="hint")
                        yield OptionsForm(f"{section}.{name}", describe(reg.specs[kind][name].options), opts)
            yield Label("trainer", classes="title")
            yield OptionsForm("trainer", describe(ec.trainer_options_cls()), c.get("trainer") or {}, id="trainer-form")
            yield from self._compose_split_and_warm_start(c)

    def _compose_split_and_warm_start(self, c: dict[str, Any]) -> ComposeResult:
        """The split's other options (training users, held-out users and items, fractions) and the warm
        start: a stored run to start from (runs of this workspace with a best checkpoint) and how items match."""
        yield Label("split options (users trained on, users and items held out)", classes="title")
        split = c.get("split")
        yield OptionsForm("split", ec.split_described(), {k: v for k, v in split.items() if k != "kind"}
                          if isinstance(split, dict) else {}, id="split-form")
        yield Label("warm start (init_from): start from a stored run's weights", classes="title")
        init = ec.init_from_table(c.get("init_from"))
        runs = [(f"run {r['id']} {r['name'][:24]} ({r['dataset']}, {r['status']})", r["id"])
                for r in warm_start_sources(self.ws)]
        if init.get("run") and init["run"] not in [v for _, v in runs]:
            runs.append((f"run {init['run']} of {init.get('workspace') or 'this workspace'}", init["run"]))
        with Horizontal(classes="field"):
            yield Label("from run", classes="field-name")
            yield Select(runs, value=init.get("run") or Select.NULL, prompt="none: train from scratch",
                         id="init-run", compact=True)
        yield OptionsForm("init_from", ec.init_from_described(), {k: v for k, v in init.items()
                                                                  if k not in ("run", "workspace")}, id="init-form")

    def _initial_config(self) -> dict[str, Any]:
        name = getattr(self.app, "initial_experiment", None)
        if name:
            cfg = experiments.load(self.ws, name)
            if cfg:
                return cfg
        datasets = [d["name"] for d in datasets_store.summaries(self.ws)]
        return default_config(datasets)

    # ------------------------------------------------------------ reading the form
    def read_seeds(self) -> int:
        """The seeds field: how many runs launch as one group (ConfigError when not a whole number >= 1)."""
        text = self.query_one("#exp-seeds", Input).value.strip()
        self.seeds_text = text
        if not text.isdigit() or int(text) < 1:
            raise ConfigError(f"seeds: {text!r} is not a whole number >= 1")
        return int(text)

    def read_config(self) -> dict[str, Any]:
        """The experiment as entered; ConfigError naming the key for unparsable values."""
        reg = ec.registry()
        previous = self.config or {}
        # keys the form does not show (description, evaluation, model.tied) are kept
        c: dict[str, Any] = {k: v for k, v in previous.items() if k in ("description", "evaluation")}
        c["name"] = self.query_one("#exp-name", Input).value.strip()
        ds = self.query_one("#exp-dataset", Select).value
        # a Select reads NULL until it has mounted: keep what the config had
        c["dataset"] = (previous.get("dataset") or "") if ds is Select.NULL else ds
        kind = self.query_one("#exp-split", Select).value
        kind = _split_kind(previous.get("split")) if kind is Select.NULL else kind
        old_split = previous.get("split")
        c["split"] = {**old_split, "kind": kind} if isinstance(old_split, dict) else kind
        c["model"] = {**(previous.get("model") or {}), "dim": from_text(self.query_one("#model-dim", Input).value, "int", "model.dim"),
                      "max_len": from_text(self.query_one("#model-max_len", Input).value, "int", "model.max_len")}
        forms = {f.where: f for f in self.query(OptionsForm)}
        for section, kind, many in ec.PLUGIN_SECTIONS:
            picker = self.query_one(f"#pick-{section}")
            if many:
                chosen = set(picker.selected)
                # the experiment's order first (it can matter to a fusion), then new picks as listed
                before = [ec.split_entry(e)[0] for e in ec.section_entries(previous, section)]
                names = [n for n in before if n in chosen]
                names += [n for n in reg.names(kind) if n in chosen and n not in names]
            elif picker.value is Select.NULL:
                names = [ec.split_entry(e)[0] for e in ec.section_entries(previous, section)]
            else:
                names = [picker.value]
            entries = []
            for n in names:
                form = forms.get(f"{section}.{n}")
                entries.append({"type": n, **(form.values() if form is not None else {})})
            if many or entries:
                c[section] = entries if many else entries[0]
        trainer_form = forms.get("trainer")
        c["trainer"] = trainer_form.values() if trainer_form is not None else dict((self.config or {}).get("trainer")
                                                                                    or {})
        self._read_split_and_warm_start(c, previous, forms)
        return c

    def _read_split_and_warm_start(self, c: dict[str, Any], previous: dict[str, Any], forms: dict) -> None:
        """``split`` gets the split form's values (a table once any is set); ``init_from`` the picked run
        and the matching options, or nothing when no run is picked."""
        split_form = forms.get("split")
        values = split_form.values() if split_form is not None else {}
        if values:
            c["split"] = {**(c["split"] if isinstance(c["split"], dict) else {"kind": c["split"]}), **values}
        picker = self.query_one("#init-run", Select)
        old = ec.init_from_table(previous.get("init_from"))
        run = picker.value if picker.is_mounted else old.get("run", Select.NULL)
        if run is Select.NULL or run is None:
            return
        init_form = forms.get("init_from")
        extra = {"workspace": old["workspace"]} if old.get("workspace") and old.get("run") == run else {}
        c["init_from"] = {"run": run, **extra, **(init_form.values() if init_form is not None else {})}

    async def _rebuild(self) -> None:
        """Re-render the forms after a plugin choice changed, keeping what was typed."""
        if getattr(self, "_rebuilding", False):
            return
        self._rebuilding = True
        try:
            try:
                self.config = self.read_config()
            except ConfigError:
                pass  # keep the previous config; the bad field shows again on launch
            await self.recompose_keeping_focus()
        finally:
            self.call_after_refresh(self._rebuilt)

    async def recompose_keeping_focus(self) -> None:
        """Rebuild the form; the focus goes back to the widget of the same id (or the Launch button).

        Never leave the focus on a removed widget: keys would go nowhere.
        """
        focused = self.focused
        focused_id = focused.id if focused is not None else None
        self.seeds_text = self.query_one("#exp-seeds", Input).value
        self.set_focus(None)
        await self.recompose()
        again = self.query(f"#{focused_id}") if focused_id else None
        target = again.first() if again else self.query_one("#launch", Button)
        self.set_focus(target if target.focusable else self.query_one("#launch", Button))

    def _rebuilt(self) -> None:
        self._rebuilding = False

    async def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged) -> None:
        if not event.selection_list.is_attached or getattr(self, "_rebuilding", False):
            return  # a stale event from a list replaced by the last rebuild
        section = (event.selection_list.id or "").removeprefix("pick-")
        current = [ec.split_entry(e)[0] for e in ec.section_entries(self.config or {}, section)]
        if sorted(current) != sorted(event.selection_list.selected):
            await self._rebuild()

    async def on_select_changed(self, event: Select.Changed) -> None:
        if event.value is Select.NULL or getattr(self, "_rebuilding", False) or not event.select.is_attached:
            return
        if event.select.id in ("pick-fusion", "pick-head"):
            current = (self.config or {}).get(event.select.id.removeprefix("pick-")) or {}
            if current.get("type") != event.value:
                await self._rebuild()

    # ------------------------------------------------------------ actions
    def _say(self, text: str, error: bool = False) -> None:
        self.query_one("#compose-message", Label).update(f"[red]{text}[/red]" if error else text)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        getattr(self, f"action_{event.button.id}")()

    def _validated(self) -> dict[str, Any] | None:
        try:
            config = self.read_config()
            ec.validate(config, dataset_names=[d["name"] for d in datasets_store.summaries(self.ws)])
        except ConfigError as e:
            self._say(f"invalid: {e}", error=True)
            return None
        self.config = config
        return config

    def action_validate(self) -> None:
        if self._validated() is not None:
            self._say("valid")

    def action_save(self) -> None:
        config = self._validated()
        if config is None:
            return
        experiments.save(self.ws, config["name"], config)
        self._say(f"saved experiment {config['name']!r}")

    def action_load(self) -> None:
        saved = experiments.list_all(self.ws)
        if not saved:
            self._say("no saved experiments in this workspace yet")
            return

        async def done(name: str | None) -> None:
            if not name:
                return
            cfg = experiments.load(self.ws, name)
            if cfg is None:
                self._say(f"experiment {name!r} was deleted meanwhile", error=True)
                return
            self.config = cfg
            await self.recompose_keeping_focus()
            self._say(f"loaded {name!r}")

        choices = [(e["name"], f"{e['name']}  ({', '.join(ec.split_entry(v)[0] for v in ec.section_entries(e['config'], 'views'))})")
                   for e in saved]
        current = (self.config or {}).get("name")
        self.app.push_screen(Pick("Load which experiment?", choices, current), done)

    def action_export_toml(self) -> None:
        config = self._validated()
        if config is None:
            return

        def done(path: str | None) -> None:
            if not path:
                return
            try:
                target = Path(path).expanduser()
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(ec.to_toml(config))
            except (OSError, ConfigError) as e:
                self._say(f"cannot write {path}: {e}", error=True)
                return
            self._say(f"wrote {path}")
        self.app.push_screen(Ask("Export the experiment as TOML to:",
                                 str(self.ws.files_dir / f"{config['name']}.toml")), done)

    def action_launch(self) -> None:
        config = self._validated()
        if config is None:
            return
        try:
            seeds = self.read_seeds()
        except ConfigError as e:
            self._say(f"invalid: {e}", error=True)
            return
        experiments.save(self.ws, config["name"], config)
        self._say("launching...")
        from workbench.jobs.launcher import job_device
        self._launch(config, job_device(config), seeds)

    @work(thread=True, exclusive=True, group="launch")
    def _launch(self, config: dict[str, Any], device: str, seeds: int = 1) -> None:
        """create_run validates fully (may import the engine); runs off the event loop. Several seeds:
        one group, queued by the code ``workbench run EXP --seeds N --background`` uses."""
        from workbench.jobs.launcher import submit
        from workbench.store import open_workspace

        ws = open_workspace(self.app.ws_path)
        try:
            if seeds > 1:
                from workbench.engine.seeds import queue_seed_group

                group_id, run_ids, job_ids = queue_seed_group(ws, config, seeds, dataset=config.get("dataset"),
                                                              device=device, name=config["name"])
                said = (f"group g{group_id}: runs {', '.join(map(str, run_ids))} queued as jobs "
                        f"{', '.join(map(str, job_ids))}")
            else:
                from workbench.engine.runner import create_run

                run_ids = [create_run(ws, config, dataset=config.get("dataset"), device=device, name=config["name"])]
                said = f"run {run_ids[0]} queued as job {submit(ws, run_ids[0], device)}"
        except Exception as e:  # noqa: BLE001 - shown in place, nothing launched
            self.app.call_from_thread(self._say, f"not launched: {e}", True)
            return
        finally:
            ws.close()
        self.app.call_from_thread(self._launched, run_ids[0], said)

    def _launched(self, run_id: int, said: str) -> None:
        self._say(said)
        self.app.show_run(run_id)
