"""Amazon Musical Instruments 5-core -> RecBole atomic files whose item text holds no held-out review.

    .venv/bin/python bench/seeded/amazon_mi.py write ../shared/datasets/amazon-musical-instruments-5core/\
reviews_Musical_Instruments_5.json.gz /tmp/amazon-mi
    .venv/bin/workbench -w WS data import /tmp/amazon-mi/amazon-mi.inter --name amazon-mi
    .venv/bin/python bench/seeded/amazon_mi.py check /tmp/amazon-mi WS amazon-mi

``write``: ``amazon-mi.inter`` (user, item, rating, unixReviewTime; each user's reviews in time order, ties in
file order, which the importer keeps) and ``amazon-mi.item`` (one text per item). There are no product titles in
this file (no metadata), so an item's text is built from its reviews, and **only from training reviews**: under
leave-one-out every user's last review is the test target and the second last the validation target, so those
two reviews of every user are left out of every item's text; what remains is exactly the set of events the
models train on. The text is the item's training-review summaries ("; "-joined, oldest first), then their review
texts; the sentence encoder reads its first 256 word pieces. It is stored in the ``title`` column of the .item
file because that is the field the RecBole reader maps to the item title (the text view: ``fields = ["title"]``).

``check``: after the import, load the dataset, take the LOO split of the workspace and verify that every
validation and test (user, item) event of the split is one that ``write`` held out of the texts, and that
every other event is a training review (so the texts come from exactly the training events).
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path

SPACE = re.compile(r"\s+")


def reviews(path: str) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    for k, r in enumerate(rows):
        r["_line"] = k
    return sorted(rows, key=lambda r: (r["reviewerID"], r["unixReviewTime"], r["_line"]))


def held_out(rows: list[dict]) -> set[tuple[str, str]]:
    """(user, item) of every user's last two reviews in time order (LOO test and validation targets)."""
    by_user: dict[str, list[dict]] = {}
    for r in rows:
        by_user.setdefault(r["reviewerID"], []).append(r)
    out = set()
    for seq in by_user.values():
        if len(seq) >= 3:
            out |= {(r["reviewerID"], r["asin"]) for r in seq[-2:]}
    return out


def clean(text: str) -> str:
    return SPACE.sub(" ", text or "").strip()


def write(src: str, out_dir: str) -> None:
    rows = reviews(src)
    hidden = held_out(rows)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "amazon-mi.inter").open("w", encoding="utf-8") as fh:
        fh.write("user_id:token\titem_id:token\trating:float\ttimestamp:float\n")
        for r in rows:
            fh.write(f"{r['reviewerID']}\t{r['asin']}\t{r['overall']}\t{r['unixReviewTime']}\n")
    train: dict[str, list[dict]] = {}
    for r in sorted(rows, key=lambda r: (r["unixReviewTime"], r["_line"])):
        if (r["reviewerID"], r["asin"]) not in hidden:
            train.setdefault(r["asin"], []).append(r)
    items = sorted({r["asin"] for r in rows})
    with (out / "amazon-mi.item").open("w", encoding="utf-8") as fh:
        fh.write("item_id:token\ttitle:token\n")
        for item in items:
            revs = train.get(item, [])
            text = "; ".join(clean(r["summary"]) for r in revs if clean(r["summary"]))
            body = " ".join(clean(r.get("reviewText", "")) for r in revs)
            fh.write(f"{item}\t{clean(text + '. ' + body) if revs else ''}\n")
    print(f"{len(rows)} reviews, {len({r['reviewerID'] for r in rows})} users, {len(items)} items; "
          f"{len(hidden)} held-out reviews left out of the item texts; "
          f"{sum(1 for i in items if not train.get(i))} items without training text -> {out}")


def check(out_dir: str, ws_path: str, name: str) -> None:
    from workbench.data.dataset import leave_one_out, load_dataset
    from workbench.store import open_workspace
    hidden = set()
    with (Path(out_dir) / "amazon-mi.inter").open(encoding="utf-8") as fh:
        next(fh)
        by_user: dict[str, list[str]] = {}
        for line in fh:
            user, item, _rating, _t = line.rstrip("\n").split("\t")
            by_user.setdefault(user, []).append(item)
    for user, seq in by_user.items():
        if len(seq) >= 3:
            hidden |= {(user, i) for i in seq[-2:]}
    with open_workspace(ws_path) as ws:
        ds = load_dataset(ws, name)
    split = leave_one_out(ds)
    held = set()
    for users, pos in ((split.valid_users, split.valid_pos), (split.test_users, split.test_pos)):
        held |= {(ds.user_raw_ids[u], ds.item_raw_ids[ds.items[p]]) for u, p in zip(users, pos)}
    assert held == hidden, f"split held-out events differ from the texts' held-out set: {len(held ^ hidden)}"
    print(f"ok: the {len(held)} validation/test events of the LOO split are exactly the reviews left out of the "
          f"item texts ({ds.n_users} users, {ds.n_items} items)")


if __name__ == "__main__":
    {"write": write, "check": check}[sys.argv[1]](*sys.argv[2:])
