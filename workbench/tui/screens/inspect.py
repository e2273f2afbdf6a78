"""Inspect: a user's history and the top-K recommendations of a run, with scores and per-view weights.

The history is plain SQL. Recommendations need the trained model (torch), so
they are computed in a thread worker, never on the event loop.
"""

from __future__ import annotations

import time

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Label, Select

from workbench.store import runs, users
from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.widgets.tables import fill_table

TOP_K = 10


class InspectScreen(WorkbenchScreen):
    MODE = "inspect"
    BINDINGS = [Binding("ctrl+n", "next_user", "Next user")]

    def compose_body(self) -> ComposeResult:
        with Vertical():
            with Horizontal(classes="buttons", id="inspect-controls"):
                yield Select([], id="inspect-run", prompt="run (completed)", compact=True)
                yield Input(placeholder="user id", id="inspect-user", compact=True)
                yield Button("Show", id="show", variant="primary", compact=True)
                yield Button("Next", id="next", compact=True)
            yield Label("pick a completed run and a user", id="inspect-message", classes="hint")
            with Horizontal():
                with Vertical(id="history-box"):
                    yield Label("history (latest last)", classes="title")
                    yield DataTable(id="history", zebra_stripes=True)
                with Vertical(id="recs-box"):
                    yield Label("top recommendations: score and what each view contributed", classes="title")
                    yield DataTable(id="recs", zebra_stripes=True, cursor_type="row")

    def on_mount(self) -> None:
        self.runs: list[dict] = []

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

    def _run(self) -> dict | None:
        value = self.query_one("#inspect-run", Select).value
        return next((r for r in self.runs if r["id"] == value), None)

    def _say(self, text: str, error: bool = False) -> None:
        self.query_one("#inspect-message", Label).update(f"[red]{text}[/red]" if error else text)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_next_user() if event.button.id == "next" else self.show()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.show()

    def action_next_user(self) -> None:
        run = self._run()
        if run is None or not run["dataset_id"]:
            return
        text = self.query_one("#inspect-user", Input).value
        user = users.find(self.ws, run["dataset_id"], text) or 0
        raw_id = users.next_after(self.ws, run["dataset_id"], user)
        if raw_id is not None:
            self.query_one("#inspect-user", Input).value = raw_id
            self.show()

    def show(self) -> None:
        run = self._run()
        if run is None:
            self._say("no completed run yet: launch one from Experiment (e)", error=True)
            return
        if not run["dataset_id"]:
            self._say(f"run {run['id']} has lost its dataset", error=True)
            return
        text = self.query_one("#inspect-user", Input).value
        user = users.find(self.ws, run["dataset_id"], text)
        if user is None:
            self._say(f"no user {text!r} in dataset {run['dataset']}", error=True)
            return
        table = self.query_one("#history", DataTable)
        rows = []
        for h in users.history(self.ws, run["dataset_id"], user):
            when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(h["ts"])) if h["ts"] is not None else "-"
            rows.append((None, [str(h["pos"] + 1), when, h["action"] or "",
                                (h["title"] or h["raw_id"] or str(h["item"]))[:40]]))
        fill_table(table, ["#", "when", "action", "item"], rows, keep_cursor=False)
        table.move_cursor(row=max(0, table.row_count - 1))
        self._say(f"computing recommendations of run {run['id']} for user {text}...")
        self._recommend(run["id"], user, text)

    @work(thread=True, exclusive=True, group="recommend")
    def _recommend(self, run_id: int, user: int, label: str) -> None:
        from workbench.tui.recommend_bridge import recommend_for

        try:
            recs = recommend_for(self.app.ws_path, run_id, user, TOP_K)
        except Exception as e:  # noqa: BLE001 - shown in place
            self.app.call_from_thread(self._say, f"cannot recommend: {e}", True)
            return
        self.app.call_from_thread(self._show_recs, run_id, label, recs)

    def _show_recs(self, run_id: int, label: str, recs: dict) -> None:
        table = self.query_one("#recs", DataTable)
        views = [v for v in recs["views"]] if any(r.get("view_scores") for r in recs["items"]) else []
        rows = []
        for i, r in enumerate(recs["items"], 1):
            vs = r.get("view_scores") or {}
            rows.append((str(r["item"]), [str(i), str(r.get("title") or r.get("raw_id"))[:34], f"{r['score']:.3f}",
                                          *[f"{vs[v]:.3f}" if v in vs else "-" for v in views]]))
        fill_table(table, ["#", "item", "score", *[f"{v} alone" for v in views]], rows, keep_cursor=False)
        weights = recs.get("view_weights")
        why = ("  fusion weights: " + "  ".join(f"{v} {w:.2f}" for v, w in weights.items())) if weights else ""
        self._say(f"run {run_id}, user {label} ({recs['history_length']} events): top {len(recs['items'])}.{why}"
                  + ("  'alone' = the score each view gives the item by itself" if views else ""))
