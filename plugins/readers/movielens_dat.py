"""MovieLens ``.dat`` files (ML-1M, ML-10M): ``UserID::MovieID::Rating::Timestamp``.

Reads a folder holding ``ratings.dat`` (or the path of the ratings file itself)
and, when present next to it, ``movies.dat`` (``MovieID::Title::Genres``, latin-1
in the official ML-1M release), ``users.dat`` (``UserID::Gender::Age::Occupation::Zip``)
and ``tags.dat`` (``UserID::MovieID::Tag::Timestamp``, ML-10M).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.kinds import DatasetReader, PluginSpec, RawDataset, ReaderError
from workbench.options import option

from workbench_plugins.readers import _common as c

# ML-1M README: occupation codes
OCCUPATIONS = [
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student", "customer service",
    "doctor/health care", "executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer",
    "programmer", "retired", "sales/marketing", "scientist", "self-employed", "technician/engineer",
    "tradesman/craftsman", "unemployed", "writer",
]
AGE_BANDS = {"1": "Under 18", "18": "18-24", "25": "25-34", "35": "35-44", "45": "45-49", "50": "50-55", "56": "56+"}


@dataclass
class MovieLensDatOptions:
    side_files: bool = option(True, help="Read movies.dat / users.dat / tags.dat next to ratings.dat")


def _ratings_path(path: Path) -> Path | None:
    path = Path(path)
    if path.is_dir():
        p = path / "ratings.dat"
        return p if p.is_file() else None
    return path if path.is_file() else None


class MovieLensDatReader(DatasetReader):
    name = "movielens_dat"

    def detect(self, path: Path) -> float:
        p = _ratings_path(path)
        if p is None:
            return 0.0
        rows = [r for r in c.lines(c.sniff(p))[:-1] if r.strip()][:20]
        if rows and all(len(r.split("::")) == 4 for r in rows):
            return 0.95 if p.name == "ratings.dat" else 0.85
        return 0.0

    def read(self, path: Path) -> RawDataset:
        rpath = _ratings_path(path)
        if rpath is None:
            raise ReaderError(path, None, None, "no ratings.dat here (expected a MovieLens .dat folder or file)")
        fields = ("UserID", "MovieID", "Rating", "Timestamp")
        cols = c.table(c.lines(c.read_text(rpath)), "::", rpath, fields,
                       numeric_ids=("UserID", "MovieID"), floats=("Rating", "Timestamp"))
        raw = RawDataset(users=cols["UserID"], items=cols["MovieID"], values=cols["Rating"],
                         timestamps=cols["Timestamp"], source_files=[c.source_file(rpath)])
        opts = self.options or MovieLensDatOptions()
        if opts.side_files:
            folder = rpath.parent
            tags = _read_tags(folder / "tags.dat", raw) if (folder / "tags.dat").is_file() else {}
            if (folder / "movies.dat").is_file():
                raw.item_info = _read_movies(folder / "movies.dat", tags)
                raw.source_files.append(c.source_file(folder / "movies.dat"))
            if (folder / "users.dat").is_file():
                raw.user_info = _read_users(folder / "users.dat")
                raw.source_files.append(c.source_file(folder / "users.dat"))
        return raw


def _read_movies(path: Path, tags: dict[str, list[str]]) -> dict[str, dict]:
    info = {}
    rows = c.lines(c.read_text(path, ("utf-8", "latin-1")))
    for line, parts in c.split_rows(rows, "::", path, ("MovieID", "Title", "Genres")):
        mid = c.as_id(parts[0], path, line, "MovieID")
        cats = [g for g in parts[2].split("|") if g and g != "(no genres listed)"]
        t = tags.get(mid, [])
        info[mid] = {"title": parts[1], "categories": cats, "text": c.item_text(parts[1], cats, t),
                     "extra": {"tags": t} if t else {}}
    return info


def _read_users(path: Path) -> dict[str, dict]:
    info = {}
    rows = c.lines(c.read_text(path, ("utf-8", "latin-1")))
    for line, parts in c.split_rows(rows, "::", path, ("UserID", "Gender", "Age", "Occupation", "Zip-code")):
        uid = c.as_id(parts[0], path, line, "UserID")
        occ = parts[3].strip()
        info[uid] = {
            "gender": parts[1], "age": AGE_BANDS.get(parts[2], parts[2]),
            "occupation": OCCUPATIONS[int(occ)] if occ.isdigit() and int(occ) < len(OCCUPATIONS) else occ,
            "zip": parts[4],
        }
    return info


def _read_tags(path: Path, raw: RawDataset) -> dict[str, list[str]]:
    raw.source_files.append(c.source_file(path))
    out: dict[str, list[str]] = {}
    rows = c.lines(c.read_text(path, ("utf-8", "latin-1")))
    for _line, parts in c.split_rows(rows, "::", path, ("UserID", "MovieID", "Tag", "Timestamp")):
        c.add_tag(out, parts[1].strip(), parts[2])
    return out




SPECS = [PluginSpec(
    name="movielens_dat", kind="reader", factory="workbench_plugins.readers.movielens_dat:MovieLensDatReader",
    options=MovieLensDatOptions,
    description="MovieLens ML-1M/ML-10M '::' files (ratings.dat + movies.dat/users.dat/tags.dat)")]
