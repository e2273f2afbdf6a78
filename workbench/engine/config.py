"""Experiment configuration: TOML -> validated, fully resolved :class:`ExperimentConfig`.

Torch-free (the CLI and TUI import it at start-up). Every error is a
:class:`workbench.options.ConfigError` whose message starts with the full key
(``trainer.lr``, ``views[0].blocks``, ``head.type``). See docs/experiments.md.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench.options import ConfigError, option, parse_options

TOP_LEVEL_KEYS = ("name", "description", "dataset", "split", "model", "views", "fusion", "head",
                  "evaluators", "trainer", "evaluation", "init_from")


@dataclass
class ModelOptions:
    dim: int = option(64, help="width d shared by all views, the fusion and the head", min=1, max=16384)
    max_len: int = option(200, help="sequence window L (the latest L events)", min=1, max=100_000)
    tied: bool = option(True, help="score with the item table the views offer (tied embeddings)")


@dataclass
class SplitOptions:
    kind: str = option("loo", help="leave-one-out or global temporal split", choices=["loo", "temporal"])
    valid_frac: float = option(0.1, help="temporal split: validation share of time", min=0.0, max=0.5)
    test_frac: float = option(0.1, help="temporal split: test share of time", min=0.0, max=0.5)
    valid_users: int = option(0, help="loo: validate on this many random users only (0 = every user); the "
                              "others train on their second-last event (gSASRec / SASRec+ protocol)", min=0)
    valid_seed: int = option(0, help="loo: seed of the validation user sample")
    holdout_items: float = option(0.0, help="cold start: share of items held out of training entirely "
                                  "(test metrics then also given for users whose test item is one, cold_*)",
                                  min=0.0, max=0.9)
    holdout_users: float = option(0.0, help="new users: share of users held out of training entirely (their "
                                  "histories are read only at validation and test; test metrics then also "
                                  "given for them, new_*, and the others, known_*)", min=0.0, max=0.9)
    holdout_seed: int = option(0, help="cold start: seed of the held-out item and user draws")
    train_users: float = option(1.0, help="share of users whose training events train the model (the others "
                                "are still validated and tested, from their histories); e.g. 0.05 for a "
                                "few-user fine-tuning experiment", min=0.0, max=1.0)
    train_users_seed: int = option(0, help="seed of the training-user draw (train_users < 1)")


@dataclass
class TrainerOptions:
    epochs: int = option(200, help="maximum training epochs", min=0, max=100_000)
    batch_size: int = option(128, help="sequences per step", min=1, max=1_048_576)
    lr: float = option(1e-3, help="AdamW peak learning rate", min=0.0, max=10.0)
    weight_decay: float = option(0.0, help="AdamW weight decay", min=0.0)
    betas: list[float] = option(default_factory=lambda: [0.9, 0.98], help="AdamW betas")
    warmup_steps: int = option(0, help="linear warm-up steps", min=0)
    schedule: str = option("constant", help="LR after warm-up", choices=["constant", "cosine"])
    clip_norm: float = option(1.0, help="gradient clipping max norm (0 = off)", min=0.0)
    patience: int = option(10, help="early stopping: evaluations without improvement (0 = off)", min=0)
    monitor: str = option("NDCG@10", help="validation metric for early stopping and the best checkpoint")
    seed: int = option(42, help="global seed")
    device: str = option("auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps")
    eval_every: int = option(1, help="validate every N epochs", min=1)
    eval_batch_size: int = option(512, help="users per evaluation batch", min=1, max=1_048_576)
    amp: str = option("auto", help="autocast: auto (bf16 on CUDA, or CPU with native bf16), bf16, fp16 (float16 "
                      "with loss scaling, for GPUs without bf16), off", choices=["auto", "bf16", "fp16", "off"])
    train_windows: str = option("last", help="last: each user's latest max_len targets; all: every training "
                                "event is a target once per epoch (long histories give several windows)",
                                choices=["last", "all"])
    length_buckets: bool = option(False, help="batch sequences of similar length together and cut each batch "
                                  "to its longest sequence (less padding: faster steps)")
    threads: int = option(0, help="CPU threads for torch (0 = torch default)", min=0)
    sparse_tables: str = option("auto", help="embedding tables trained row-sparse (sparse gradients, lazy Adam "
                                "update of the rows a step read: a step's cost independent of the catalogue): "
                                "auto (tables of >= 200,000 rows, one process only), on (every table), off",
                                choices=["auto", "on", "off"])
    nproc: int = option(1, help="processes (ranks) training together with DistributedDataParallel, started "
                        "by torchrun (gloo on CPU, NCCL on CUDA); the global batch stays batch_size", min=1)
    # sequence augmentation and adversarial training: workbench/engine/augment.py, adversarial.py
    augment_crop: float = option(0.0, help="probability of cropping a training sequence to its latest "
                                 "augment_crop_min_ratio-100%", min=0.0, max=1.0)
    augment_crop_min_ratio: float = option(0.6, help="a cropped sequence keeps at least this share of its events",
                                           min=0.05, max=1.0)
    augment_mask: float = option(0.0, help="probability of dropping each training event's item from the input",
                                 min=0.0, max=0.9)
    augment_reorder: float = option(0.0, help="probability of shuffling a window of augment_reorder_ratio of a "
                                    "training sequence", min=0.0, max=1.0)
    augment_reorder_ratio: float = option(0.2, help="share of the events in the shuffled window", min=0.0, max=1.0)
    adversarial: str = option("off", help="perturb embedding lookups: fgm (L2-scaled gradient), fgsm (signed), "
                                          "pgd (projected steps)", choices=["off", "fgm", "fgsm", "pgd"])
    adversarial_epsilon: float = option(0.05, help="size of the embedding perturbation", min=0.0)
    adversarial_steps: int = option(3, help="PGD ascent steps", min=1, max=20)
    adversarial_weight: float = option(1.0, help="weight of the adversarial loss", min=0.0)


@dataclass
class EvaluationOptions:
    exclude_seen: bool = option(True, help="drop the user's history items from the ranking")
    mode: str = option("full", help="rank all items or the target + sampled negatives",
                       choices=["full", "sampled"])
    num_negatives: int = option(100, help="sampled mode: negatives per user", min=1)
    negative_sampling: str = option("uniform", help="sampled mode: how negatives are drawn",
                                    choices=["uniform", "popularity"])


@dataclass
class InitFromOptions:
    run: int = option(help="id of a stored run whose best weights warm-start this run", min=1)
    workspace: str = option("", help="workspace file (path or name) holding that run; empty: this workspace")
    items: str = option("auto", help="how item rows are matched: auto (raw ids when they name the same items, "
                                     "else titles), id, title, none (item tables left fresh)",
                        choices=["auto", "id", "title", "none"])
    unmatched: str = option("auto", help="item rows nothing matched: text (rebuilt from the source items nearest "
                                         "by item text), fresh; auto = text when the experiment has a text view",
                            choices=["auto", "text", "fresh"])
    neighbours: int = option(5, help="unmatched = text: source items averaged into each rebuilt row", min=1, max=100)


@dataclass
class PluginChoice:
    type: str
    options: Any
    where: str


@dataclass
class ExperimentConfig:
    name: str
    description: str
    dataset: str | None
    split: SplitOptions
    model: ModelOptions
    views: list[PluginChoice]
    fusion: PluginChoice
    head: PluginChoice
    evaluators: list[PluginChoice]
    trainer: TrainerOptions
    evaluation: EvaluationOptions
    init_from: InitFromOptions | None = None     # warm start (workbench/engine/transfer.py)

    def to_dict(self) -> dict[str, Any]:
        """The fully resolved config (every default filled in) as TOML-shaped plain data."""
        def plugin(p: PluginChoice) -> dict[str, Any]:
            return {"type": p.type, **(asdict(p.options) if p.options is not None else {})}
        return {
            "name": self.name, "description": self.description, "dataset": self.dataset,
            "split": asdict(self.split), "model": asdict(self.model),
            "views": [plugin(v) for v in self.views], "fusion": plugin(self.fusion),
            "head": plugin(self.head), "evaluators": [plugin(e) for e in self.evaluators],
            "trainer": asdict(self.trainer), "evaluation": asdict(self.evaluation),
            **({"init_from": asdict(self.init_from)} if self.init_from is not None else {}),
        }


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read an experiment file; a syntax error names the file (and line, as tomllib reports it)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such experiment file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line}: not UTF-8 text (byte 0x{e.object[e.start]:02x}); "
                          "save the experiment file as UTF-8") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not an experiment file") from None
    except PermissionError:
        raise ConfigError(f"{path}: cannot be read (permission denied)") from None


def _table(raw: dict, key: str) -> dict:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a table, got {type(value).__name__} {value!r}")
    return value


def _plugin(registry, kind: str, raw: Any, where: str) -> PluginChoice:
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table with a 'type' key, got {raw!r}")
    values = dict(raw)
    name = values.pop("type", None)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.type: required (one of: {', '.join(registry.names(kind)) or 'none installed'})")
    try:
        spec = registry.get(kind, name)
    except KeyError as e:
        raise ConfigError(f"{where}.type: {e.args[0]}") from None
    _check_factory(spec, where)
    return PluginChoice(name, parse_options(spec.options, values, where), where)


def _check_factory(spec, where: str) -> None:
    """The module a string factory names must be importable (checked without importing it, so
    no torch here): a plugin with a dangling factory is refused before any run row is written."""
    if not isinstance(spec.factory, str):
        return
    import importlib.util
    module = spec.factory.partition(":")[0]
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):   # a parent package missing, or an empty name
        found = False
    if not found:
        raise ConfigError(f"{where}.type: plugin {spec.name!r} cannot be loaded: its factory {spec.factory!r} "
                          f"names module {module!r}, which is not installed")


def parse_config(raw: dict[str, Any], *, registry=None) -> ExperimentConfig:
    """Validate a parsed TOML mapping against the installed plugins. Raises ConfigError naming the key."""
    if registry is None:
        from workbench.plugins import get_registry
        registry = get_registry()
    if not isinstance(raw, dict):
        raise ConfigError(f"experiment: expected a table, got {raw!r}")
    unknown = sorted(set(raw) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key (known: {', '.join(TOP_LEVEL_KEYS)})")
    name = raw.get("name", "experiment")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"name: expected a non-empty string, got {name!r}")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"description: expected a string, got {description!r}")
    dataset = raw.get("dataset")
    if dataset is not None and not isinstance(dataset, str):
        raise ConfigError(f"dataset: expected a dataset name, got {dataset!r}")
    split_raw = raw.get("split", "loo")
    split_raw = {"kind": split_raw} if isinstance(split_raw, str) else split_raw
    if not isinstance(split_raw, dict):
        raise ConfigError(f"split: expected 'loo', 'temporal' or a table, got {split_raw!r}")
    split = parse_options(SplitOptions, split_raw, "split")
    model = parse_options(ModelOptions, _table(raw, "model"), "model")
    trainer = parse_options(TrainerOptions, _table(raw, "trainer"), "trainer")
    evaluation = parse_options(EvaluationOptions, _table(raw, "evaluation"), "evaluation")
    if trainer.nproc > 1 and trainer.adversarial != "off":
        raise ConfigError("trainer.adversarial: not supported with trainer.nproc > 1 (its extra forward and "
                          "gradient passes are not synchronised by DistributedDataParallel)")
    if len(trainer.betas) != 2 or not all(0.0 <= b < 1.0 for b in trainer.betas):
        raise ConfigError(f"trainer.betas: expected two numbers in [0, 1), got {trainer.betas!r}")

    views_raw = raw.get("views", [])
    if isinstance(views_raw, dict):
        views_raw = [views_raw]
    if not isinstance(views_raw, list):
        raise ConfigError(f"views: expected an array of tables ([[views]]), got {views_raw!r}")
    views = [_plugin(registry, "view", v, f"views[{i}]") for i, v in enumerate(views_raw)]
    if "head" not in raw:
        raise ConfigError("head: required ([head] type = \"softmax_ce\" ...)")
    head = _plugin(registry, "head", raw["head"], "head")
    if "fusion" in raw:
        fusion = _plugin(registry, "fusion", raw["fusion"], "fusion")
    else:
        role = "fusion.one_view" if len(views) <= 1 else "fusion.views"
        default = registry.defaults(role)
        if not default:
            raise ConfigError(f"fusion: required (no installed fusion plugin is a default for {role!r}; "
                              f"installed: {', '.join(registry.names('fusion')) or 'none'})")
        fusion = _plugin(registry, "fusion", {"type": default[0]}, "fusion")
    ev_raw = raw.get("evaluators")
    if ev_raw is None:
        ev_raw = [{"type": n} for n in registry.defaults("evaluators")]
    if isinstance(ev_raw, dict):
        ev_raw = [ev_raw]
    if not isinstance(ev_raw, list):
        raise ConfigError(f"evaluators: expected an array of tables ([[evaluators]]), got {ev_raw!r}")
    evaluators = [_plugin(registry, "evaluator", e, f"evaluators[{i}]") for i, e in enumerate(ev_raw)]
    if not evaluators:
        raise ConfigError("evaluators: at least one evaluator is needed ([[evaluators]] type = \"ranking\")")
    if not views:
        trainable = getattr(registry.get("head", head.type), "trainable", None)
        if trainable is None:
            trainable = getattr(registry.get("head", head.type).load(), "trainable", True)
        if trainable:
            raise ConfigError(f"views: head {head.type!r} is trainable and needs at least one [[views]] table")
    init_from = _init_from(raw.get("init_from"))
    return ExperimentConfig(name, description, dataset, split, model, views, fusion, head, evaluators,
                            trainer, evaluation, init_from)


def _init_from(raw: Any) -> InitFromOptions | None:
    """``init_from = RUN_ID`` or ``[init_from] run = ... workspace = ... items = ...``; absent -> None."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, dict)):
        raise ConfigError(f"init_from: expected a run id or a table (run = ID, workspace = ..., items = ...), "
                          f"got {raw!r}")
    return parse_options(InitFromOptions, {"run": raw} if isinstance(raw, int) else raw, "init_from")


def apply_overrides(raw: dict[str, Any], *, dataset: str | None = None, device: str | None = None,
                    epochs: int | None = None, name: str | None = None, nproc: int | None = None) -> dict[str, Any]:
    """A copy of ``raw`` with command-line overrides applied (before validation)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    if dataset is not None:
        out["dataset"] = dataset
    if name is not None:
        out["name"] = name
    if device is not None or epochs is not None or nproc is not None:
        trainer = dict(out.get("trainer") or {})
        if nproc is not None:
            trainer["nproc"] = nproc
        if device is not None:
            trainer["device"] = device
        if epochs is not None:
            trainer["epochs"] = epochs
        out["trainer"] = trainer
    return out


def run_config(ws, run_id: int) -> tuple[dict, ExperimentConfig]:
    """(the stored ``runs`` row, its parsed resolved config) of run ``run_id``; KeyError
    (:class:`workbench.store.runs.RunNotFound`) when there is none."""
    import json

    from workbench.store import runs
    row = runs.require(ws, run_id)
    return row, parse_config(json.loads(row["config"]))
