"""Ready-made experiments for ``workbench demo``: a small SASRec + softmax-CE baseline on the ``demo`` dataset,
and a multi-view variant (SASRec + multi-scale temporal + action views, attention fusion) to compare it with.

``save_demo_experiments(ws)`` stores both in the workspace's ``experiments``
table (overwriting earlier versions of the same names) and returns the name
of the one the composer should open first.
"""

from __future__ import annotations

import copy
from typing import Any

BASELINE = "demo-sasrec"
MULTI_VIEW = "demo-multiview"

_TRAINER = {"epochs": 8, "batch_size": 128, "lr": 0.002, "patience": 3, "monitor": "NDCG@10", "seed": 42,
            "device": "auto", "eval_batch_size": 512}


def baseline_config(dataset: str = "demo") -> dict[str, Any]:
    return {
        "name": BASELINE,
        "description": "SASRec (2 blocks, d=48) trained with full softmax cross-entropy",
        "dataset": dataset,
        "split": "loo",
        "model": {"dim": 48, "max_len": 50},
        "views": [{"type": "sasrec", "blocks": 2, "heads": 1, "dropout": 0.2}],
        "fusion": {"type": "identity"},
        "head": {"type": "softmax_ce"},
        "evaluators": [{"type": "ranking", "ks": [5, 10, 20], "metrics": ["HR", "NDCG", "MRR"]}],
        "trainer": dict(_TRAINER),
    }


def multiview_config(dataset: str = "demo") -> dict[str, Any]:
    c = copy.deepcopy(baseline_config(dataset))
    c["name"] = MULTI_VIEW
    c["description"] = "SASRec + multi-scale temporal + action views, attention fusion (per-view weights)"
    c["views"] = [{"type": "sasrec", "blocks": 2, "heads": 1, "dropout": 0.2},
                  {"type": "temporal"},
                  {"type": "action"}]
    c["fusion"] = {"type": "attention"}
    return c


def _installed(config: dict[str, Any]) -> bool:
    from workbench.plugins import get_registry

    reg = get_registry()
    wanted = [("view", v["type"]) for v in config["views"]] + [("fusion", config["fusion"]["type"]),
                                                             ("head", config["head"]["type"])]
    return all(name in reg.specs[kind] for kind, name in wanted)


def save_demo_experiments(ws, dataset: str = "demo") -> str:
    """Save the demo experiments whose plugins are installed; returns the name to open (the baseline)."""
    from workbench.store.experiments import save as save_experiment

    saved = []
    for config in (baseline_config(dataset), multiview_config(dataset)):
        if _installed(config):
            save_experiment(ws, config["name"], config)
            saved.append(config["name"])
    if not saved:
        raise RuntimeError("the demo needs the built-in sasrec view and softmax_ce head; are the built-in "
                           "plugins disabled (WORKBENCH_LOAD_PLUGINS)?")
    return saved[0]
