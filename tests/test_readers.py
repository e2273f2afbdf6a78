"""Reader plugins on real dataset files (../shared/datasets) and on small fixtures we wrote."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from workbench.data.formats import detect_format, make_reader
from workbench.kinds import ReaderError
from workbench.options import ConfigError
from workbench.plugins import get_registry

DATA = Path(__file__).resolve().parent / "data"


def read(fmt: str, path, **options):
    reader, _ = make_reader(fmt, options)
    return reader.read(Path(path))


def test_every_builtin_reader_is_registered_through_the_plugin_registry():
    names = set(get_registry().names("reader"))
    assert {"sasrec", "movielens_dat", "movielens_100k", "movielens_csv", "recbole", "csv"} <= names


def test_sasrec_reads_ml1m_lines_and_item_text(shared_datasets):
    ml1m = shared_datasets / "ml-1m"
    raw = read("sasrec", ml1m / "ml-1m.txt.gz", item_text=str(ml1m / "ml-1m_sas_items.tsv"))
    assert len(raw.users) == len(raw.items) == 999_611
    assert len(set(raw.users)) == 6040 and len(set(raw.items)) == 3416
    assert raw.timestamps is None
    assert raw.users[:3] == ["1", "1", "1"] and raw.items[:3] == ["1", "2", "3"]
    raiders = raw.item_info["1"]
    assert raiders["title"] == "Raiders of the Lost Ark (1981)"
    assert raiders["categories"] == ["Action", "Adventure"]
    assert "Raiders of the Lost Ark" in raiders["text"] and "Adventure" in raiders["text"]
    assert raiders["extra"] == {"movie_id": "1198"}
    assert [Path(s.path).name for s in raw.source_files] == ["ml-1m.txt.gz", "ml-1m_sas_items.tsv"]
    assert all(len(s.sha256) == 64 and s.size > 0 for s in raw.source_files)


def test_movielens_100k_has_times_titles_genres_and_user_attributes(shared_datasets):
    raw = read("movielens_100k", shared_datasets / "ml-100k")
    assert len(raw.users) == 100_000 and len(set(raw.users)) == 943 and len(set(raw.items)) == 1682
    assert raw.timestamps[:2] == [881250949.0, 891717742.0] and raw.values[:2] == [3.0, 3.0]
    assert raw.item_info["1"]["title"] == "Toy Story (1995)"
    assert raw.item_info["1"]["categories"] == ["Animation", "Children's", "Comedy"]
    assert raw.user_info["1"] == {"age": 24, "gender": "M", "occupation": "technician", "zip": "85711"}


def test_movielens_latest_csv_tags_become_item_text(shared_datasets):
    raw = read("movielens_csv", shared_datasets / "ml-latest-small")
    assert len(raw.users) == 100_004 and len(set(raw.users)) == 671 and len(set(raw.items)) == 9066
    assert len(raw.item_info) == 9125  # side file covers unrated movies too; the importer drops those
    assert raw.values[0] == 2.5 and raw.timestamps[0] == 1260759144.0
    sleeping = raw.item_info["339"]
    assert sleeping["categories"] == ["Comedy", "Romance"]
    assert "sandra 'boring' bullock" in sleeping["text"]
    # titles with commas are quoted in movies.csv and must come through whole
    assert any(", The (" in info["title"] for info in raw.item_info.values())


def test_movielens_dat_reads_latin1_movies_and_users(shared_datasets, tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    shutil.copy(shared_datasets / "ml-1m" / "movies.dat", folder)
    shutil.copy(shared_datasets / "ml-1m" / "users.dat", folder)
    (folder / "ratings.dat").write_text("1::73::5::978300760\n1::1::3::978300700\n2::1::4::978302000\n")
    assert detect_format(folder) == "movielens_dat"
    raw = read("movielens_dat", folder)
    assert raw.users == ["1", "1", "2"] and raw.items == ["73", "1", "1"]
    assert raw.values == [5.0, 3.0, 4.0] and raw.timestamps[1] == 978300700.0
    assert raw.item_info["73"]["title"] == "Misérables, Les (1995)"  # latin-1 decoded
    assert raw.item_info["1"]["categories"] == ["Animation", "Children's", "Comedy"]
    assert raw.user_info["1"] == {"gender": "F", "age": "Under 18", "occupation": "K-12 student", "zip": "48067"}
    assert len(raw.source_files) == 3


def test_recbole_atomic_files_with_typed_headers():
    raw = read("recbole", DATA / "recbole")
    assert raw.users == ["u1", "u1", "u2", "u2", "u3", "u3", "u3"]
    assert raw.timestamps == [100.0, 50.0, 200.0, 300.0, 120.0, 120.0, 110.0]
    assert raw.values[0] == 4.0
    assert raw.item_info["i10"]["title"] == "The Matrix"
    assert raw.item_info["i10"]["categories"] == ["Action", "Sci-Fi"]
    assert raw.item_info["i10"]["extra"] == {"release_year": "1999"}
    assert raw.user_info["u2"] == {"age": 35.0, "gender": "M"}


def test_generic_csv_with_column_map_parses_iso_times_actions_and_values():
    raw = read("csv", DATA / "generic" / "events.csv", map="user=customer,item=product,time=when,action=event")
    assert raw.users == ["c7", "c7", "c7", "c3", "c3", "c3"]
    assert raw.actions == ["view", "view", "purchase", "view", "view", "cart"]
    assert raw.timestamps[0] == 1704189600.0          # 2024-01-02T10:00:00Z
    assert raw.timestamps[3] == 1704099600.0          # naive times are UTC
    assert raw.timestamps[4] == 1704240000.0          # a plain date
    assert raw.values is None
    with pytest.raises(ReaderError) as e:  # an empty value cell is not a number
        read("csv", DATA / "generic" / "events.csv", map="user=customer,item=product,value=amount")
    assert e.value.line == 2 and e.value.field == "amount"


def test_generic_csv_map_errors_name_the_problem():
    with pytest.raises(ConfigError, match="missing item"):
        read("csv", DATA / "generic" / "events.csv", map="user=customer")
    with pytest.raises(ConfigError, match="unknown role 'colour'"):
        read("csv", DATA / "generic" / "events.csv", map="user=customer,item=product,colour=x")
    with pytest.raises(ReaderError, match="no column 'buyer'") as e:
        read("csv", DATA / "generic" / "events.csv", map="user=buyer,item=product")
    assert e.value.line == 1


def test_unknown_reader_option_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError, match=r"reader\.sasrec\.colour"):
        make_reader("sasrec", {"colour": "red"})
    with pytest.raises(ConfigError, match="unknown format 'parquet'"):
        make_reader("parquet", {})


@pytest.mark.parametrize("sub, expected", [
    ("ml-100k", "movielens_100k"),
    ("ml-latest-small", "movielens_csv"),
    ("ml-1m/ml-1m.txt.gz", "sasrec"),
    ("amazon-videogames-sasrec/Video.txt", "sasrec"),
])
def test_auto_detection_picks_the_right_reader(shared_datasets, sub, expected):
    assert detect_format(shared_datasets / sub) == expected


def test_auto_detection_of_fixtures():
    assert detect_format(DATA / "recbole") == "recbole"
    assert detect_format(DATA / "recbole" / "tiny.inter") == "recbole"
    assert detect_format(DATA / "generic" / "events.csv") == "csv"


def test_auto_detection_failure_lists_the_formats(tmp_path):
    odd = tmp_path / "notes.bin"
    odd.write_bytes(b"\x00\x01binary junk")
    with pytest.raises(ReaderError) as e:
        detect_format(odd)
    for name in ("sasrec", "movielens_100k", "recbole", "csv"):
        assert name in str(e.value)


def test_auto_detection_reports_ambiguity(tmp_path):
    # A folder holding both an ML-1M ratings.dat and an ML-100K u.data is ambiguous.
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "ratings.dat").write_text("1::2::3::4\n5::6::7::8\n")
    (folder / "u.data").write_text("1\t2\t3\t4\n5\t6\t7\t8\n")
    with pytest.raises(ReaderError, match="ambiguous format: .*movielens"):
        detect_format(folder)


@pytest.mark.parametrize("fixture, fmt, line, field, message", [
    ("ratings_columns.dat", "movielens_dat", 3, None, "expected 4 fields"),
    ("ratings_userid.dat", "movielens_dat", 2, "UserID", "integer id"),
    ("ratings_time.dat", "movielens_dat", 3, "Timestamp", "expected a number"),
    ("ratings_encoding.dat", "movielens_dat", 3, None, "unknown text encoding"),
    ("sasrec_item.txt", "sasrec", 3, "item", "integer id"),
    ("bad_time.inter", "recbole", 3, "timestamp", "expected a number"),
])
def test_malformed_rows_name_file_line_and_field(fixture, fmt, line, field, message):
    path = DATA / "malformed" / fixture
    with pytest.raises(ReaderError) as e:
        read(fmt, path, side_files=False) if fmt == "movielens_dat" else read(fmt, path)
    err = e.value
    assert Path(err.file).name == fixture and err.line == line and err.field == field
    assert message in str(err) and fixture in str(err) and f"line {line}" in str(err)


def test_malformed_csv_rating(tmp_path):
    folder = tmp_path / "latest"
    folder.mkdir()
    shutil.copy(DATA / "malformed" / "ratings_value.csv", folder / "ratings.csv")
    with pytest.raises(ReaderError) as e:
        read("movielens_csv", folder)
    assert (e.value.line, e.value.field) == (3, "rating")


def test_gzipped_sasrec_and_truncated_gzip(tmp_path):
    good = tmp_path / "seq.txt.gz"
    with gzip.open(good, "wt") as f:
        f.write("1 5\n1 6\n2 5\n")
    raw = read("sasrec", good)
    assert raw.users == ["1", "1", "2"] and raw.items == ["5", "6", "5"]
    bad = tmp_path / "cut.txt.gz"
    bad.write_bytes(good.read_bytes()[:-6])
    with pytest.raises(ReaderError, match="cannot read"):
        read("sasrec", bad)


def _both_paths(path: Path, **options):
    """The generic CSV reader's result with its pyarrow fast path and with its Python path only."""
    reader, _ = make_reader("csv", options)
    fast = reader.read(path)
    reader.fast = False
    return fast, reader.read(path)


def _same_raw(a, b):
    import numpy as np

    for role in ("users", "items", "actions"):
        x, y = getattr(a, role), getattr(b, role)
        assert (x is None) == (y is None)
        if x is not None:
            assert np.array_equal(x.codes, y.codes) and x.uniques == y.uniques, role
    for role in ("timestamps", "values"):
        x, y = getattr(a, role), getattr(b, role)
        assert (x is None) == (y is None)
        if x is not None:
            assert x.dtype == y.dtype and np.array_equal(x, y), role


PLAIN = ("user_id,item_id,timestamp,action\n"
         "u1,i9,1700000000,view\nu2,i3,1700000005.5,cart\n\nu1,i3,1700000010,view\nu3,i9,1e9,purchase\n")


@pytest.mark.parametrize("text, fast_path", [
    (PLAIN, True),
    (PLAIN.replace("u2,i3", " u2 ,i3"), False),                        # ids are stripped by the Python path
    (PLAIN.replace("i3,1700000005.5,cart", 'i3,1700000005.5," cart"'), False),   # quoted: csv unquotes
    (PLAIN.replace("1700000010", "2023-11-14T22:13:30"), False),        # ISO date
    (PLAIN.replace("1700000010", " 1700000010"), False),               # padded number
    (PLAIN.replace("1700000010", "1_700_000_010"), False),             # Python's float accepts it
    (PLAIN.replace("1700000010,view", "1700000010,"), True),           # an empty action is an action
    ("\ufeff" + PLAIN.replace("\n", "\r\n"), True),                    # BOM and CRLF
])
def test_generic_csv_fast_path_reads_exactly_what_the_python_path_reads(tmp_path, text, fast_path):
    from workbench_plugins.readers import _arrow_csv
    from workbench_plugins.readers.csv_generic import TIME_MAX, TIME_MIN

    path = tmp_path / "log.csv"
    path.write_text(text, encoding="utf-8", newline="")
    fast, slow = _both_paths(path)
    _same_raw(fast, slow)
    cols = {"user": 0, "item": 1, "time": 2, "action": 3}
    assert (_arrow_csv.read_columns(path, ",", 4, cols, (TIME_MIN, TIME_MAX)) is not None) == fast_path


def test_generic_csv_fast_path_equals_the_python_path_on_a_generated_log(tmp_path):
    from workbench.data.synthetic import SyntheticSpec, write_csv

    path = tmp_path / "syn.csv"
    write_csv(SyntheticSpec(events=60_000, users=700, items=3_000, chunk_events=20_000), path)
    _same_raw(*_both_paths(path))


@pytest.mark.parametrize("bad, line, field", [
    ("u2,i3,1700000005.5", 3, None),              # a short row
    ("u2,,1700000005.5,cart", 3, "item_id"),      # an empty id
    ("u2,i3,soon,cart", 3, "timestamp"),          # not a time
    ("u2,i3,nan,cart", 3, "timestamp"),           # parsed by pyarrow, out of range
])
def test_generic_csv_bad_rows_are_named_whichever_path_reads_first(tmp_path, bad, line, field):
    path = tmp_path / "log.csv"
    path.write_text(PLAIN.replace("u2,i3,1700000005.5,cart", bad), encoding="utf-8")
    with pytest.raises(ReaderError) as err:
        read("csv", path)
    assert err.value.line == line and err.value.field == field
