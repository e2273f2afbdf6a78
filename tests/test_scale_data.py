"""Data at scale: the synthetic generator, the streaming CSV reader's checks, the columnar cache."""

from __future__ import annotations

import gzip
import hashlib
import json

import numpy as np
import pytest

from workbench.data.formats import make_reader
from workbench.kinds import MAX_ERRORS, ReaderError
from workbench.options import ConfigError


def read_csv(path, **options):
    reader, _ = make_reader("csv", options)
    return reader.read(path)


# ------------------------------------------------------------------ generator
def test_generator_is_deterministic_and_has_the_requested_shape(tmp_path):
    from workbench.data.synthetic import SyntheticSpec, write_csv

    spec = SyntheticSpec(events=30_000, users=400, items=900, seed=3, chunk_events=7_000)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert write_csv(spec, a) == 30_000
    write_csv(spec, b)
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    lines = a.read_text().splitlines()
    assert lines[0] == "user_id,item_id,timestamp,action" and len(lines) == 30_001
    rows = [ln.split(",") for ln in lines[1:]]
    users = np.array([int(r[0]) for r in rows])
    items = np.array([int(r[1]) for r in rows])
    ts = np.array([int(r[2]) for r in rows])
    assert set(users.tolist()) == set(range(1, 401))                   # every user has an event
    assert items.min() >= 1 and items.max() <= 900
    assert {r[3] for r in rows} == {"view", "click", "cart", "purchase"}
    same_user = users[1:] == users[:-1]
    assert (ts[1:][same_user] > ts[:-1][same_user]).all()             # each user's events in time order
    counts = np.sort(np.bincount(items, minlength=901)[1:])[::-1]
    assert counts[:9].sum() > 0.1 * len(rows)                          # power law: 1 % of items, > 10 % of events
    assert write_csv(SyntheticSpec(events=30_000, users=400, items=900, seed=4), tmp_path / "c.csv") == 30_000
    assert (tmp_path / "c.csv").read_bytes() != a.read_bytes()


def test_generate_cli_writes_a_file_that_imports_without_a_map(wb_home, run_workbench, tmp_path):
    out = tmp_path / "syn.csv"
    gen = run_workbench("data", "generate", "--events", "5000", "--users", "100", "--items", "300",
                        "--out", out, check=True)
    assert "5,000 events" in gen.stdout and out.exists()
    imp = json.loads(run_workbench("-w", "lab", "data", "import", out, "--name", "syn", "--json", check=True).stdout)
    assert imp["n_interactions"] == 5000 and imp["n_users"] == 100 and imp["has_timestamps"]
    bad = run_workbench("data", "generate", "--events", "10", "--users", "100", "--items", "300")
    assert bad.returncode != 0 and "at least --users" in bad.stderr


# ------------------------------------------------------------------ reader checks
def test_nan_inf_and_absurd_timestamps_are_rejected_naming_line_and_field(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("user,item,ts\n1,10,100\n1,11,nan\n2,10,inf\n2,12,1e300\n3,10,-1e12\n3,11,1700000000123\n")
    with pytest.raises(ReaderError) as e:
        read_csv(path)
    err = e.value
    assert [(x.line, x.field) for x in err.errors] == [(3, "ts"), (4, "ts"), (5, "ts"), (6, "ts")]
    assert "finite" in err.errors[0].message and "out of range" in err.errors[2].message
    assert err.total_errors == 4 and str(err).startswith(f"{path}, line 3, field 'ts'")
    assert "and 3 more bad lines" in str(err)
    path.write_text("user,item,ts\n1,10,100\n1,11,1700000000123\n")      # milliseconds are fine
    assert list(read_csv(path).timestamps) == [100.0, 1700000000123.0]


def test_every_bad_line_is_collected_up_to_the_limit_and_long_values_are_cut(tmp_path):
    path = tmp_path / "log.csv"
    rows = ["user_id,item_id,timestamp"]
    for k in range(200):
        rows.append(f"u{k},i{k},{k}" if k % 2 else f"u{k},,{k}")          # 100 rows with an empty item
    rows.append("u1,i1," + "x" * 5_000_000)                                # a 5 MB field
    rows.append("u1,i1")                                                   # a short row
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(ReaderError) as e:
        read_csv(path)
    err = e.value
    assert err.total_errors == 102 and len(err.errors) == MAX_ERRORS
    assert (err.errors[0].line, err.errors[0].field, err.errors[0].message) == (2, "item_id", "empty id")
    assert [x.line for x in err.errors[:3]] == [2, 4, 6]
    assert len(str(err)) < 500 and all(len(line) < 500 for line in err.lines())
    assert err.lines()[-1].startswith("... 52 more bad lines")
    big = tmp_path / "big.csv"
    big.write_text("user,item,time\nu1,i1," + "x" * 5_000_000 + "\n")
    with pytest.raises(ReaderError) as e:
        read_csv(big)
    assert len(str(e.value)) < 500 and "5,000,000 characters" in str(e.value)


def test_common_header_names_map_themselves_and_ambiguous_ones_ask(tmp_path):
    cases = {
        "visitorid,itemid,event,timestamp\n": ("1", "7", ["view"]),
        "userId,movieId,rating,timestamp\n": ("1", "7", None),
        "user_id,product_id,behavior,date\n": ("1", "7", ["view"]),
        "user,item,event_type,time\n": ("1", "7", ["view"]),
    }
    for header, (user, item, action) in cases.items():
        path = tmp_path / "h.csv"
        third = "4.5" if "rating" in header else "view"
        path.write_text(header + f"{user},{item},{third},2024-01-02\n")
        if "rating" in header:
            assert read_csv(path).values.tolist() == [4.5]
        raw = read_csv(path)
        assert list(raw.users) == [user] and list(raw.items) == [item]
        assert (list(raw.actions) if raw.actions is not None else None) == action
    amb = tmp_path / "amb.csv"
    amb.write_text("user_id,item_id,time,timestamp\n1,2,3,4\n")
    with pytest.raises(ConfigError, match="ambiguous header.*time or timestamp"):
        read_csv(amb)
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ConfigError, match="--map"):
        read_csv(unknown)


def test_quoted_fields_gz_and_crlf_read_like_plain_ones(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("user,item,time,action\n1,10,5,view\n2,11,6,buy\n")
    quoted = tmp_path / "quoted.csv"
    quoted.write_bytes(b'user,item,time,action\r\n1,10,5,view\r\n"2","11",6,"b\r\nuy"\r\n2,,7,view\r\n')
    raw = read_csv(plain)
    with pytest.raises(ReaderError) as e:          # the quoted newline counts: the empty item is on line 5
        read_csv(quoted)
    assert (e.value.line, e.value.field) == (5, "item")
    packed = tmp_path / "plain.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    again = read_csv(packed, delimiter=",")
    assert list(again.users) == list(raw.users) and list(again.timestamps) == list(raw.timestamps)


def test_bad_import_leaves_the_workspace_byte_identical_and_lists_bad_lines(wb_home, run_workbench, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("user,item,timestamp\n1,1,1\n1,2,2\n2,1,3\n")
    run_workbench("-w", "lab", "data", "import", good, "--name", "g", check=True)
    db = wb_home / "lab.db"
    before = db.read_bytes()
    files_before = sorted(p.name for p in (wb_home / "lab.files").rglob("*"))
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,timestamp\n1,1,1\n1,2,nan\n2,,3\n3,3,1e300\n")
    proc = run_workbench("-w", "lab", "data", "import", bad, "--name", "b")
    assert proc.returncode != 0
    err = proc.stderr.splitlines()
    assert err[0].startswith("Error: ") and "line 3, field 'timestamp'" in err[0] and "2 more bad lines" in err[0]
    assert any("line 4, field 'item'" in ln for ln in err[1:]) and any("line 5" in ln for ln in err[1:])
    assert db.read_bytes() == before
    assert sorted(p.name for p in (wb_home / "lab.files").rglob("*")) == files_before


# ------------------------------------------------------------------ columnar cache
def test_load_from_the_column_cache_equals_the_database_and_is_rebuilt_when_missing(tmp_path):
    import shutil

    from workbench.data import columns
    from workbench.data.dataset import _interactions_from_db, load_dataset
    from workbench.data.demo import DemoSpec, import_demo
    from workbench.store import datasets
    from workbench.store.workspace import open_workspace

    with open_workspace(tmp_path / "w.db", create=True) as ws:
        import_demo(ws, DemoSpec(users=60, items=80))
        meta = datasets.require(ws, "demo")
        folder = columns.cache_dir(ws, meta["fingerprint"])
        assert (folder / "meta.json").is_file()                   # written at import
        ds = load_dataset(ws, "demo")
        assert isinstance(ds.items, np.memmap) and not ds.items.flags.writeable
        ref, names = _interactions_from_db(ws.db, meta)
        assert names == ds.action_names
        for a in columns.ARRAYS:
            assert np.array_equal(ref[a], getattr(ds, {"items": "items", "offsets": "offsets",
                                                       "timestamps": "timestamps", "actions": "actions"}[a]))
        shutil.rmtree(folder)                                     # missing: loaded from the db and rebuilt
        again = load_dataset(ws, "demo")
        assert np.array_equal(again.items, ds.items) and (folder / "meta.json").is_file()
        info = json.loads((folder / "meta.json").read_text())    # not matching the dataset row: not used
        info["n_interactions"] += 1
        (folder / "meta.json").write_text(json.dumps(info))
        assert columns.read_cache(ws, meta) is None
        assert np.array_equal(load_dataset(ws, "demo").items, ds.items)
        assert columns.read_cache(ws, meta) is not None           # rewritten
