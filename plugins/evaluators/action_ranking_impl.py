"""Per-action ranking metrics (options in :mod:`.action_ranking`).

For each configured action type A: the users whose held-out event's action is A
(``Rankings.target_actions``), and over them the ranking metrics of
:class:`RankingEvaluator` named ``A_<metric>@K``, plus ``A_num_users``. An action type
the data does not have gives ``A_num_users = 0`` and no metrics; rankings without
actions (a dataset without action types) give nothing.
"""

from __future__ import annotations

import numpy as np

from workbench.kinds import Rankings
from workbench_plugins.evaluators._base_impl import CutoffEvaluator
from workbench_plugins.evaluators.action_ranking import ActionRankingOptions
from workbench_plugins.evaluators.ranking import RankingOptions
from workbench_plugins.evaluators.ranking_impl import RankingEvaluator


class ActionRankingEvaluator(CutoffEvaluator):
    name = "action_ranking"
    options_class = ActionRankingOptions

    def __init__(self, options=None):
        super().__init__(options)
        self._ranking = RankingEvaluator(RankingOptions(ks=list(self.options.ks), metrics=list(self.options.metrics)))

    @property
    def max_k(self) -> int:
        return 0  # only the target rank is needed

    def evaluate(self, rankings: Rankings) -> dict[str, float]:
        actions = getattr(rankings, "target_actions", None)
        names = list(getattr(rankings, "action_names", ()) or ())
        if actions is None or not names:
            return {}
        actions = np.asarray(actions)
        prefix = "sampled_" if rankings.sampled else ""
        out: dict[str, float] = {}
        for action in self.options.actions:
            mask = actions == names.index(action) + 1 if action in names else np.zeros(len(actions), dtype=bool)
            out[f"{prefix}{action}_num_users"] = float(mask.sum())
            if not mask.any():
                continue
            sub = Rankings(target_rank=np.asarray(rankings.target_rank)[mask], topk=np.asarray(rankings.topk)[mask],
                           targets=np.asarray(rankings.targets)[mask],
                           num_candidates=np.asarray(rankings.num_candidates)[mask],
                           item_popularity=rankings.item_popularity,
                           history_length=np.asarray(rankings.history_length)[mask], sampled=rankings.sampled)
            for name, value in self._ranking.evaluate(sub).items():
                out[f"{prefix}{action}_{name.removeprefix('sampled_')}"] = value
        return out
