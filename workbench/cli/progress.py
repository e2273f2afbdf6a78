"""The run progress bar shared by ``run``, ``runs resume``, ``demo --train`` and seed groups."""

from __future__ import annotations

SUMMARY_KEYS = ("HR@10", "NDCG@10", "MRR@10", "HR@20", "NDCG@20")


class ProgressPrinter:
    """A rich progress bar (epochs x steps, ETA) driven by the run's events; quiet with --json."""

    def __init__(self, quiet: bool):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        self.console = Console(stderr=True)
        self.quiet = quiet
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                                 TimeElapsedColumn(), TimeRemainingColumn(), console=self.console, transient=False)
        self.task = None
        self.started = False

    def __call__(self, event) -> None:
        if self.quiet:
            return
        d = event.data
        if event.kind == "run_started":
            self.console.print(f"run {d['run_id']}: {d['device']} (amp {d.get('amp')}), {d['num_params']:,} parameters, "
                               f"{d['steps_per_epoch']} steps/epoch")
            if d["epochs"]:
                self.progress.start()
                self.started = True
                self.task = self.progress.add_task("epoch 1", total=d["epochs"] * d["steps_per_epoch"], info="")
        elif event.kind == "step" and self.task is not None:
            done = (d["epoch"] - 1) * d["steps"] + d["step"]
            self.progress.update(self.task, completed=done, description=f"epoch {d['epoch']}",
                                 info=f"loss {d['loss']:.4f}  {d['samples_per_s']:.0f} seq/s")
        elif event.kind == "epoch_finished":
            m = d.get("metrics", {})
            shown = "  ".join(f"{k} {m[k]:.4f}" for k in SUMMARY_KEYS if k in m)
            loss = d.get("train_loss")
            msg = f"epoch {d['epoch']}: loss {loss:.4f}  {shown}  ({d['wall_time']:.1f}s, best {d['best_epoch']})" \
                if isinstance(loss, float) else f"validation: {shown}"
            (self.progress.console if self.started else self.console).print(msg)
        elif event.kind == "log":
            if not str(d.get("message", "")).startswith("test metrics by history"):
                (self.progress.console if self.started else self.console).print(d.get("message", ""))

    def close(self) -> None:
        if self.started:
            self.progress.stop()
