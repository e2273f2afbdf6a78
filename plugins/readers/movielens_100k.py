"""MovieLens 100K: ``u.data`` (user, item, rating, timestamp; tab-separated), ``u.item``, ``u.user``.

Reads the folder (or the path of ``u.data``). ``u.item`` is
``movie id | title | release date | video release date | IMDb URL | 19 genre flags``
(latin-1); genre names come from ``u.genre`` when present. ``u.user`` is
``user id | age | gender | occupation | zip``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.kinds import DatasetReader, PluginSpec, RawDataset, ReaderError
from workbench.options import option

from workbench_plugins.readers import _common as c

GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
          "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
          "War", "Western"]


@dataclass
class MovieLens100KOptions:
    side_files: bool = option(True, help="Read u.item / u.user / u.genre next to u.data")


def _data_path(path: Path) -> Path | None:
    path = Path(path)
    if path.is_dir():
        p = path / "u.data"
        return p if p.is_file() else None
    return path if path.is_file() and path.name.startswith("u") and path.suffix in (".data", "") else None


class MovieLens100KReader(DatasetReader):
    name = "movielens_100k"

    def detect(self, path: Path) -> float:
        p = _data_path(path)
        if p is None:
            return 0.0
        rows = [r for r in c.lines(c.sniff(p))[:-1] if r.strip()][:20]
        if rows and all(len(r.split("\t")) == 4 and r.split("\t")[0].isdigit() for r in rows):
            return 0.95 if p.name == "u.data" else 0.7
        return 0.0

    def read(self, path: Path) -> RawDataset:
        dpath = _data_path(path)
        if dpath is None:
            raise ReaderError(path, None, None, "no u.data here (expected the MovieLens 100K folder)")
        fields = ("user id", "item id", "rating", "timestamp")
        cols = c.table(c.lines(c.read_text(dpath)), "\t", dpath, fields,
                       numeric_ids=("user id", "item id"), floats=("rating", "timestamp"))
        raw = RawDataset(users=cols["user id"], items=cols["item id"], values=cols["rating"],
                         timestamps=cols["timestamp"], source_files=[c.source_file(dpath)])
        opts = self.options or MovieLens100KOptions()
        folder = dpath.parent
        if opts.side_files and (folder / "u.item").is_file():
            genres = _read_genres(folder / "u.genre", raw) if (folder / "u.genre").is_file() else GENRES
            raw.item_info = _read_items(folder / "u.item", genres)
            raw.source_files.append(c.source_file(folder / "u.item"))
        if opts.side_files and (folder / "u.user").is_file():
            raw.user_info = _read_users(folder / "u.user")
            raw.source_files.append(c.source_file(folder / "u.user"))
        return raw


def _read_genres(path: Path, raw: RawDataset) -> list[str]:
    raw.source_files.append(c.source_file(path))
    names: dict[int, str] = {}
    for line, parts in c.split_rows(c.lines(c.read_text(path, ("utf-8", "latin-1"))), "|", path, ("genre", "id")):
        names[int(c.as_float(parts[1], path, line, "id"))] = parts[0]
    return [names.get(k, GENRES[k] if k < len(GENRES) else str(k)) for k in range(max(names) + 1)] if names else GENRES


def _read_items(path: Path, genres: list[str]) -> dict[str, dict]:
    info = {}
    fields = ("movie id", "title", "release date", "video release date", "IMDb URL")
    for line, parts in c.split_rows(c.lines(c.read_text(path, ("utf-8", "latin-1"))), "|", path, fields,
                                    min_fields=5 + len(genres)):
        mid = c.as_id(parts[0], path, line, "movie id")
        flags = parts[5:5 + len(genres)]
        cats = [g for g, f in zip(genres, flags) if f.strip() == "1" and g != "unknown"]
        info[mid] = {"title": parts[1], "categories": cats, "text": c.item_text(parts[1], cats),
                     "extra": {"release_date": parts[2], "imdb_url": parts[4]}}
    return info


def _read_users(path: Path) -> dict[str, dict]:
    info = {}
    fields = ("user id", "age", "gender", "occupation", "zip code")
    for line, parts in c.split_rows(c.lines(c.read_text(path, ("utf-8", "latin-1"))), "|", path, fields):
        uid = c.as_id(parts[0], path, line, "user id")
        info[uid] = {"age": int(c.as_float(parts[1], path, line, "age")), "gender": parts[2],
                     "occupation": parts[3], "zip": parts[4]}
    return info


SPECS = [PluginSpec(
    name="movielens_100k", kind="reader", factory="workbench_plugins.readers.movielens_100k:MovieLens100KReader",
    options=MovieLens100KOptions,
    description="MovieLens 100K folder (u.data + u.item/u.user/u.genre)")]
