"""Write ml-100k's item side information as a precomputed-feature file for the ``precomputed`` view.

Each of the 1,682 films gets a 20-number vector: its 19 genre flags from ``u.item`` plus its release
year (missing years get the median). This stands in for vectors "computed elsewhere" (image or audio
embeddings) in the ablation: the view reads them through the same ``path`` + ``ids_path`` files a user
would hand it. Rows are aligned by raw item id (``ids_path``), not by row order.

    .venv/bin/python bench/ml100k_item_vectors.py --out workspaces/ml100k_genres.npy
    # -> workspaces/ml100k_genres.npy (1682 x 20 float32) and workspaces/ml100k_genres.ids
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"


def item_vectors(u_item: Path) -> tuple[list[str], np.ndarray]:
    ids, rows = [], []
    for line in u_item.read_text(encoding="latin-1").splitlines():
        if not line.strip():
            continue
        parts = line.split("|")
        date = parts[2].strip()
        year = float(date[-4:]) if len(date) >= 4 and date[-4:].isdigit() else np.nan
        ids.append(parts[0].strip())
        rows.append([year, *(float(x) for x in parts[5:24])])
    matrix = np.asarray(rows, dtype=np.float32)
    years = matrix[:, 0]
    years[np.isnan(years)] = np.nanmedian(years)
    return ids, matrix


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--u-item", default=str(SHARED / "ml-100k" / "u.item"))
    p.add_argument("--out", default=str(ROOT / "workspaces" / "ml100k_genres.npy"))
    a = p.parse_args()
    ids, matrix = item_vectors(Path(a.u_item))
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, matrix)
    out.with_suffix(".ids").write_text("\n".join(ids) + "\n")
    print(f"wrote {out} ({matrix.shape[0]} x {matrix.shape[1]}) and {out.with_suffix('.ids')}")


if __name__ == "__main__":
    main()
