"""Importing real datasets into a real SQLite workspace: counts, side info, atomicity, round trip."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from workbench.data.dataset import load_dataset, make_split
from workbench.data.importer import DatasetExists, import_path, import_raw, remove_dataset
from workbench.kinds import RawDataset
from workbench.store import open_workspace

DATA = Path(__file__).resolve().parent / "data"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def ws(tmp_path):
    w = open_workspace(tmp_path / "ws.db", create=True)
    yield w
    w.close()


def test_ml1m_sasrec_with_item_text(ws, shared_datasets):
    ml1m = shared_datasets / "ml-1m"
    s = import_path(ws, ml1m / "ml-1m.txt.gz", name="ml1m",
                    reader_options={"item_text": str(ml1m / "ml-1m_sas_items.tsv")})
    assert (s.n_users, s.n_items, s.n_interactions) == (6040, 3416, 999_611)
    assert s.format == "sasrec" and not s.has_timestamps
    ds = load_dataset(ws, "ml1m")
    assert (ds.n_users, ds.n_items, len(ds.items)) == (6040, 3416, 999_611)
    assert ds.item_raw_ids[1] == "1" and ds.item_titles[1] == "Raiders of the Lost Ark (1981)"
    assert ds.item_categories[1] == ["Action", "Adventure"]
    assert all(ds.item_titles[1:])  # every SASRec item got a title
    # ids are the SASRec ids (sorted raw ids), the first user's sequence starts 1, 2, 3
    assert ds.sequence(1)[:3].tolist() == [1, 2, 3]
    row = ws.db.execute("SELECT options, source_files FROM datasets WHERE name='ml1m'").fetchone()
    options, sources = json.loads(row[0]), json.loads(row[1])
    assert options["split"] == "loo" and options["id_order"] == "sorted_raw_id"
    assert options["reader_options"]["item_text"].endswith("ml-1m_sas_items.tsv")
    assert [Path(s["path"]).name for s in sources] == ["ml-1m.txt.gz", "ml-1m_sas_items.tsv"]


def test_ml100k_times_titles_genres_attributes(ws, shared_datasets):
    s = import_path(ws, shared_datasets / "ml-100k")
    assert s.name == "ml-100k" and (s.n_users, s.n_items, s.n_interactions) == (943, 1682, 100_000)
    ds = load_dataset(ws, "ml-100k")
    assert ds.has_timestamps
    for u in (1, 500, 943):
        assert np.all(np.diff(ds.timestamps[ds.offsets[u]:ds.offsets[u + 1]]) >= 0)
    toy = ds.item_raw_ids.index("1")
    assert ds.item_titles[toy] == "Toy Story (1995)"
    assert ds.item_categories[toy] == ["Animation", "Children's", "Comedy"]
    assert "Comedy" in ds.item_texts[toy]
    assert ds.user_attributes[ds.user_raw_ids.index("1")] == {
        "age": 24, "gender": "M", "occupation": "technician", "zip": "85711"}
    split = make_split(ds, "temporal", valid_frac=0.1, test_frac=0.1)
    assert len(split.test_users) > 0


def test_ml_latest_small_tags_become_text_and_unrated_movies_are_not_items(ws, shared_datasets):
    s = import_path(ws, shared_datasets / "ml-latest-small", name="latest")
    assert (s.n_users, s.n_items, s.n_interactions) == (671, 9066, 100_004)
    n_items = ws.db.execute("SELECT COUNT(*) FROM items WHERE dataset_id = ?", [s.id]).fetchone()[0]
    assert n_items == 9066  # movies.csv has 9,125; only rated ones get ids
    text = ws.db.execute("SELECT text FROM items WHERE dataset_id = ? AND raw_id = '339'", [s.id]).fetchone()[0]
    assert text.startswith("While You Were Sleeping (1995)") and "sandra 'boring' bullock" in text


def test_recbole_and_generic_csv_fixtures(ws):
    rb = import_path(ws, DATA / "recbole", name="rb")
    assert (rb.n_users, rb.n_items, rb.n_interactions) == (3, 3, 7)  # i99 is never rated
    ds = load_dataset(ws, "rb")
    u3 = ds.user_raw_ids.index("u3")
    # u3: i10@110, then i20@120 and i30@120 tie -> file order (i20 first)
    assert [ds.item_raw_ids[i] for i in ds.sequence(u3)] == ["i10", "i20", "i30"]
    assert ds.user_attributes[u3] == {"age": 51.0, "gender": "F"}
    gen = import_path(ws, DATA / "generic" / "events.csv", name="shop",
                      reader_options={"map": "user=customer,item=product,time=when,action=event"})
    ds = load_dataset(ws, "shop")
    assert (gen.n_users, gen.n_items, gen.n_interactions) == (2, 3, 6)
    assert ds.action_names == ["cart", "purchase", "view"]
    c7 = ds.user_raw_ids.index("c7")
    names = [ds.action_names[a - 1] for a in ds.actions[ds.offsets[c7]:ds.offsets[c7 + 1]]]
    assert names == ["view", "view", "purchase"]


def test_same_input_same_fingerprint_and_replace(ws, shared_datasets):
    a = import_path(ws, shared_datasets / "ml-100k", name="a", preprocess_opts={"kcore_users": 5})
    b = import_path(ws, shared_datasets / "ml-100k", name="b", preprocess_opts={"kcore_users": 5})
    assert a.fingerprint == b.fingerprint
    with pytest.raises(DatasetExists, match="already exists"):
        import_path(ws, DATA / "recbole", name="a")
    c = import_path(ws, DATA / "recbole", name="a", replace=True)
    assert c.n_interactions == 7 and c.fingerprint != a.fingerprint
    assert ws.db.execute("SELECT COUNT(*) FROM interactions").fetchone()[0] == 100_007
    assert remove_dataset(ws, "a") and not remove_dataset(ws, "a")
    assert ws.db.execute("SELECT COUNT(*) FROM interactions").fetchone()[0] == 100_000
    assert ws.db.execute("SELECT COUNT(*) FROM items WHERE dataset_id = ?", [c.id]).fetchone()[0] == 0


def test_a_failure_inside_the_write_transaction_leaves_the_file_byte_for_byte_unchanged(tmp_path):
    path = tmp_path / "ws.db"
    with open_workspace(path, create=True) as w:
        import_path(w, DATA / "recbole", name="rb")
    before = sha(path)
    # The interactions are written before the users; an attribute JSON cannot encode makes the
    # write fail half-way through the transaction, which must roll back completely.
    bad = RawDataset(users=["1", "2"], items=["1", "1"], timestamps=[1.0, 2.0],
                     user_info={"2": {"when": object()}})
    with open_workspace(path) as w:
        with pytest.raises(TypeError):
            import_raw(w, bad, name="half", fmt="test")
        assert [r["name"] for r in w.db.query("SELECT name FROM datasets")] == ["rb"]
        assert w.db.execute("SELECT COUNT(*) FROM interactions").fetchone()[0] == 7
        assert w.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert sha(path) == before


def test_cli_import_of_malformed_files_leaves_the_workspace_unchanged(tmp_path, wb_home, run_workbench):
    ws_path = wb_home / "main.db"
    ok = run_workbench("-w", ws_path, "data", "import", DATA / "recbole", "--name", "rb")
    assert ok.returncode == 0, ok.stderr
    before = sha(ws_path)
    cases = [
        ("ratings_columns.dat", "line 3"),
        ("ratings_userid.dat", "line 2, field 'UserID'"),
        ("ratings_time.dat", "line 3, field 'Timestamp'"),
        ("ratings_encoding.dat", "line 3"),
    ]
    for fixture, where in cases:
        proc = run_workbench("-w", ws_path, "data", "import", DATA / "malformed" / fixture,
                             "--format", "movielens_dat", "--name", "bad")
        assert proc.returncode != 0
        assert fixture in proc.stderr and where in proc.stderr, proc.stderr
        assert sha(ws_path) == before, f"{fixture} changed the workspace"
    # and a failed import into a workspace that does not exist yet creates nothing
    proc = run_workbench("-w", wb_home / "fresh.db", "data", "import", DATA / "malformed" / "sasrec_item.txt",
                         "--format", "sasrec")
    assert proc.returncode != 0 and "line 3, field 'item'" in proc.stderr
    assert not (wb_home / "fresh.db").exists()
