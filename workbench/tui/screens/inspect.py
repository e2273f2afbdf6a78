"""Inspect: a user's history, a run's top-K recommendations for them, and why each one.

The history is plain SQL. Everything that needs the trained model (torch) runs in thread workers,
never on the event loop: the run's model is loaded once (:class:`workbench.engine.inspection.KeptRun`,
the same top-K path as ``workbench recommend`` and the explainer of ``workbench explain``) and kept
while the screen lives, so a later user costs a few forward passes. Every request first checks that
the run's dataset still holds the data it was trained on (``store.runs.check_data``); when it does
not, the screen says so and shows no recommendations.

A new person (not in the dataset) is served from a typed history of raw item ids (``n``).
"""

from __future__ import annotations

import threading
import time

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from workbench.store import runs, users
from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.widgets.tables import fill_table

TOP_K = 10


def _who(user: int | None = None, raw_history: tuple[str, ...] | None = None):
    from workbench.engine.inspection import Who

    return Who(user, raw_history)


class InspectScreen(WorkbenchScreen):
    MODE = "inspect"
    BINDINGS = [Binding("ctrl+n", "next_user", "Next user"),
                Binding("n", "new_user", "New user (type item ids)")]

    def compose_body(self) -> ComposeResult:
        with Vertical():
            with Horizontal(classes="buttons", id="inspect-controls"):
                yield Select([], id="inspect-run", prompt="run (completed)", compact=True)
                yield Input(placeholder="user id", id="inspect-user", compact=True)
                yield Button("Show", id="show", variant="primary", compact=True)
                yield Button("Next", id="next", compact=True)
            with Horizontal(classes="buttons", id="inspect-new-user"):
                yield Input(placeholder="or a new user: raw item ids, oldest first, e.g. 50,172,133 (enter)",
                            id="inspect-history", compact=True)
                yield Button("Recommend", id="recommend-new", compact=True)
            yield Label("pick a completed run and a user", id="inspect-message", classes="hint")
            with Horizontal():
                with Vertical(id="history-box"):
                    yield Label("history (latest last)", classes="title")
                    yield DataTable(id="history", zebra_stripes=True)
                with Vertical(id="recs-box"):
                    yield Label("top 10 (Δ view: score change without that view)", classes="title")
                    yield DataTable(id="recs", zebra_stripes=True, cursor_type="row")
                    yield Label("why the highlighted one (click or tab to the list, then up/down)", id="why-title",
                                classes="title")
                    with VerticalScroll(id="why-box"):
                        yield Static("", id="why")

    def on_mount(self) -> None:
        self.runs: list[dict] = []
        self._keeper = None
        self._keeper_lock = threading.Lock()
        self.subject: tuple[int, object, str] | None = None   # (run id, Who, label) of the recommendations shown
        self._explaining: tuple | None = None                  # (run id, Who, item) asked for last
        self._requests = 0
        self.answers = 0            # recommendations shown so far (tests and the benchmark wait on it)
        self.explanations = 0       # explanations shown so far
        self._marked: list[str] = []  # history rows whose drove cell is filled

    # ------------------------------------------------------------ runs and users
    def reload(self) -> None:
        self.runs = runs.completed_list(self.ws)
        select = self.query_one("#inspect-run", Select)
        current = select.value
        select.set_options([(f"run {r['id']} {r['name'] or ''} ({r['dataset'] or '?'})", r["id"]) for r in self.runs])
        ids = [r["id"] for r in self.runs]
        if current in ids:
            select.value = current
        elif ids:
            select.value = ids[0]
        if not self.query_one("#inspect-user", Input).value and self.runs and self.runs[0]["dataset_id"]:
            first = users.first(self.ws, self.runs[0]["dataset_id"])
            if first:
                self.query_one("#inspect-user", Input).value = first[1]

    def _run_id(self) -> int | None:
        value = self.query_one("#inspect-run", Select).value
        return value if any(r["id"] == value for r in self.runs) else None

    def _say(self, text: str, error: bool = False) -> None:
        self.query_one("#inspect-message", Label).update(f"[red]{escape(text)}[/red]" if error else escape(text))

    def _dataset_of(self, run_id: int | None) -> int | None:
        """The id of the dataset run ``run_id`` was trained on, after checking it still holds the same data;
        None (the reason said, old answers cleared) when there is no run or its data changed."""
        if run_id is None:
            self._refuse("no completed run yet: launch one from Experiment (e)")
            return None
        try:
            return int(runs.check_data(self.ws, runs.require(self.ws, run_id))["id"])
        except (runs.DataChanged, runs.RunNotFound) as e:
            self._refuse(e.args[0] if e.args else str(e))
            return None

    def _refuse(self, message: str) -> None:
        self._requests += 1                  # answers still on their way are stale now
        self.subject = None
        self._explaining = None
        self._clear_answers()
        self.query_one("#history", DataTable).clear(columns=True)
        self._say(message, error=True)

    def _clear_answers(self) -> None:
        self.query_one("#recs", DataTable).clear(columns=True)
        self.query_one("#why", Static).update("")

    # ------------------------------------------------------------ events and keys
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "next":
            self.action_next_user()
        elif event.button.id == "recommend-new":
            self.show_new_user()
        else:
            self.show()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.show_new_user() if event.input.id == "inspect-history" else self.show()

    def on_select_changed(self, event: Select.Changed) -> None:
        """Another run picked (or the first on arrival): the typed user's answers from it, else load its model."""
        run_id = self._run_id()
        if run_id is None or self._dataset_of(run_id) is None:     # refused with the reason
            return
        if self.query_one("#inspect-user", Input).value.strip():
            self.show()
        elif not self.keeper_holds(run_id):
            self._say(f"loading the model of run {run_id} (once per run)...")
            self._preload(run_id, self._requests)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "recs" and event.row_key is not None and event.row_key.value:
            self._explain_item(int(event.row_key.value))

    def action_next_user(self) -> None:
        run_id = self._run_id()
        dataset_id = self._dataset_of(run_id)
        if dataset_id is None:
            return
        text = self.query_one("#inspect-user", Input).value
        user = users.find(self.ws, dataset_id, text) or 0
        raw_id = users.next_after(self.ws, dataset_id, user)
        if raw_id is not None:
            self.query_one("#inspect-user", Input).value = raw_id
            self.show()

    def action_new_user(self) -> None:
        self.query_one("#inspect-history", Input).focus()
        self._say("type a new user's raw item ids, oldest first, separated by commas, then enter")

    # ------------------------------------------------------------ requests
    def show(self) -> None:
        """Recommendations (and why the first) for the user typed in the user field."""
        run_id = self._run_id()
        dataset_id = self._dataset_of(run_id)
        if dataset_id is None:
            return
        text = self.query_one("#inspect-user", Input).value.strip()
        user = users.find(self.ws, dataset_id, text)
        if user is None:
            dataset = next((r["dataset"] for r in self.runs if r["id"] == run_id), "?")
            self._refuse(f"no user {text!r} in dataset {dataset}")
            return
        rows = []
        for h in users.history(self.ws, dataset_id, user):
            when = time.strftime("%Y-%m-%d", time.gmtime(h["ts"])) if h["ts"] is not None else "-"
            rows.append((str(h["pos"]), [str(h["pos"] + 1), "", h["action"] or "",
                                         escape(str(h["title"] or h["raw_id"] or h["item"])[:28]), when]))
        self._fill_history(["action", "item", "when"], rows)
        self._ask(run_id, _who(user=user), f"user {text}")

    def show_new_user(self) -> None:
        """Recommendations for a person the dataset never saw, from the raw item ids typed in the history field."""
        run_id = self._run_id()
        if self._dataset_of(run_id) is None:
            return
        text = self.query_one("#inspect-history", Input).value
        if not text.strip():
            self._say("type a new user's raw item ids, oldest first, separated by commas, then enter", error=True)
            return
        raw = tuple(part.strip() for part in text.split(","))
        if any(not r for r in raw):
            self._refuse("expected raw item ids separated by commas, e.g. 50,172,133")
            return
        self.query_one("#history", DataTable).clear(columns=True)
        self._ask(run_id, _who(raw_history=raw), "a new user")

    def _fill_history(self, columns: list[str], rows: list) -> None:
        """The history table: ``#``, ``drove`` (the explained item's attribution of the event, filled by
        :meth:`_show_why`), then ``columns``; ``rows``: (str(position), cells with "" for drove)."""
        table = self.query_one("#history", DataTable)
        fill_table(table, ["#", ("drove", "drove it"), *columns], rows, keep_cursor=False)
        table.move_cursor(row=max(0, table.row_count - 1))
        self._marked = []

    def _ask(self, run_id: int, who, label: str) -> None:
        self._requests += 1
        self.subject, self._explaining = None, None
        self._clear_answers()                # never another user's (or run's) answers beside this history
        loading = "" if self.keeper_holds(run_id) else " (loading the model once for this run)"
        self._say(f"computing recommendations of run {run_id} for {label}{loading}...")
        self._recommend(run_id, who, label, self._requests)

    # ------------------------------------------------------------ the model (thread workers)
    def keeper(self):
        with self._keeper_lock:
            if self._keeper is None:
                from workbench.engine.inspection import KeptRun

                self._keeper = KeptRun(device="auto")
            return self._keeper

    def keeper_holds(self, run_id: int) -> bool:
        return self._keeper is not None and self._keeper.holds(self.app.ws_path, run_id)

    def _post(self, callback, *args) -> None:
        """Run ``callback(*args)`` on the event loop if the screen is still there (from a thread worker)."""
        def guarded() -> None:
            if self.is_attached:
                callback(*args)
        try:
            self.app.call_from_thread(guarded)
        except RuntimeError:  # the app has stopped
            pass

    @work(thread=True, exclusive=True, group="inspect-load", exit_on_error=False)
    def _preload(self, run_id: int, request: int) -> None:
        try:
            loaded = self.keeper().get(self.app.ws_path, run_id)
        except Exception as e:  # noqa: BLE001 - shown in place
            self._post(self._failed, request, run_id, e)
            return
        self._post(self._loaded, request, run_id, loaded.device)

    def _loaded(self, request: int, run_id: int, device: str) -> None:
        if request == self._requests and self._run_id() == run_id:
            self._say(f"run {run_id} ready (model on {device}): enter a user id, or n for a new user's item ids")

    def _failed(self, request: int, run_id: int, error: Exception) -> None:
        if request != self._requests:
            return
        if isinstance(error, KeyError | ValueError | FileNotFoundError):
            message = error.args[0] if error.args else str(error)
        else:
            message = f"{type(error).__name__}: {error}"
        self._refuse(message if message.startswith(f"run {run_id} ") else f"run {run_id}: {message}")

    @work(thread=True, exclusive=True, group="inspect-recommend", exit_on_error=False)
    def _recommend(self, run_id: int, who, label: str, request: int) -> None:
        try:
            loaded = self.keeper().get(self.app.ws_path, run_id)        # checks the run's data every time
            with loaded.lock:
                query = loaded.query(who)
                recs = loaded.recommend(query, TOP_K)
                history = loaded.history(query) if who.raw_history is not None else None
        except Exception as e:  # noqa: BLE001 - shown in place
            self._post(self._failed, request, run_id, e)
            return
        self._post(self._show_recs, request, run_id, who, label, recs, history)
        if recs["items"]:                          # and why the top one, in the same pass
            self._explain_with(loaded, query, run_id, who, recs["items"][0]["item"], request)

    def _show_recs(self, request: int, run_id: int, who, label: str, recs: dict, history: list | None) -> None:
        if request != self._requests:
            return                                  # the user asked something else meanwhile
        if history is not None:
            self._fill_history(["item"], [(str(h["pos"]), [str(h["pos"] + 1), "",
                                                           escape(str(h["title"] or h["raw_id"])[:28])])
                                          for h in history])
        self.subject = (run_id, who, label)
        views = recs["views"] if any(r["contributions"] for r in recs["items"]) else []
        rows = []
        for i, r in enumerate(recs["items"], 1):
            c = r["contributions"]
            rows.append((str(r["item"]), [str(i), escape(str(r["title"] or r["raw_id"])[:28]), f"{r['score']:.3f}",
                                          *[f"{c[v]:+.3f}" for v in views]]))
        table = self.query_one("#recs", DataTable)
        fill_table(table, ["#", "item", "score", *[f"Δ {v}" for v in views]], rows, keep_cursor=False)
        weights = recs.get("view_weights")
        why = ("; fusion weights: " + ", ".join(f"{v} {w:.2f}" for v, w in weights.items())) if weights else ""
        self._say(f"run {run_id}, {label} ({recs['history_length']} events): top {len(recs['items'])}{why}")
        self.answers += 1
        if rows:
            self._explaining = (run_id, who, int(rows[0][0]))      # the worker explains it next
            table.move_cursor(row=0)

    def _explain_item(self, item: int) -> None:
        if self.subject is None:
            return
        run_id, who, label = self.subject
        if self._explaining == (run_id, who, item):
            return
        self._explaining = (run_id, who, item)
        self._explain(run_id, who, item, self._requests)

    @work(thread=True, exclusive=True, group="inspect-explain", exit_on_error=False)
    def _explain(self, run_id: int, who, item: int, request: int) -> None:
        try:
            loaded = self.keeper().get(self.app.ws_path, run_id)        # checks the run's data every time
            with loaded.lock:
                query = loaded.query(who)
        except Exception as e:  # noqa: BLE001 - shown in place
            self._post(self._failed, request, run_id, e)
            return
        self._explain_with(loaded, query, run_id, who, item, request)

    def _explain_with(self, loaded, query, run_id: int, who, item: int, request: int) -> None:
        """(In a thread worker.) Explain ``item`` for ``query`` with the loaded run and show it."""
        try:
            with loaded.lock:
                out = loaded.explain(query, item)
        except Exception as e:  # noqa: BLE001 - shown in place
            self._post(self._failed, request, run_id, e)
            return
        self._post(self._show_why, request, (run_id, who, item), out)

    def _show_why(self, request: int, asked: tuple, out: dict) -> None:
        if request != self._requests or asked != self._explaining:
            return
        self.query_one("#why", Static).update(why_text(out))
        self._mark_history(out["events"])
        self.explanations += 1

    def _mark_history(self, events: list[dict]) -> None:
        """Show each explained event's attribution in the history table's ``drove`` column (others blank)."""
        table = self.query_one("#history", DataTable)
        if "drove" not in table.columns:
            return
        shown = {str(e["position"]): f"{e['attribution']:+.3f}" for e in events}
        for key in [*self._marked, *shown]:
            if key in table.rows:
                table.update_cell(key, "drove", shown.get(key, ""), update_width=True)
        self._marked = [k for k in shown if k in table.rows]


def why_text(out: dict) -> Text:
    """The explanation of one item (:meth:`workbench.engine.explain.Explainer.explain`'s output) as text."""
    it = out["item"]
    text = Text()
    rank = f"rank {it['rank']}" if it["rank"] is not None else "in the history"
    text.append(f"{it['title'] or it['item']}", style="bold")
    text.append(f" [{it['item']}]  score {it['score']:.3f}, {rank}\n")
    if out["views"]:
        text.append("views (score change without it; rank without it; fusion weight):\n", style="dim")
        for v in out["views"]:
            weight = f"; weight {v['fusion_weight']:.2f}" if v["fusion_weight"] is not None else ""
            text.append(f"  {v['view']:<12} {v['contribution']:+.3f}  (rank {v['rank_without']}{weight})\n")
    text.append(f"history events that drove it ({out['method'].replace('_', ' ')}, "
                f"{out['window']} of {out['history_length']} events in the model's window):\n", style="dim")
    for e in out["events"]:
        text.append(f"  {e['attribution']:+.3f}  #{e['position'] + 1:<4} {e['title'] or e['item']}\n")
    if out["nearest"]:
        text.append("nearest history items: ", style="dim")
        text.append(", ".join(f"{n['title'] or n['raw_id']} ({n['similarity']:.2f})" for n in out["nearest"]))
    return text
