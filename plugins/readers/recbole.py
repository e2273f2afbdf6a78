"""RecBole atomic files: ``NAME.inter`` (+ ``NAME.item``, ``NAME.user``), tab-separated, typed headers.

Header fields are ``name:type`` with type in ``token``, ``token_seq``, ``float``,
``float_seq``. In ``.inter``: ``user_id`` and ``item_id`` are required;
``timestamp`` becomes the time, ``rating`` (or ``label``) the value, and
``action``/``behavior``/``event`` the action type. In ``.item`` a field named
like ``*title*``/``*name*`` becomes the title and ``genre``/``class``/``categories``
the categories (a ``token_seq`` is space-separated). Other fields go to ``extra``
(items) or the user's attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.kinds import DatasetReader, PluginSpec, RawDataset, ReaderError
from workbench.options import option

from workbench_plugins.readers import _common as c

TYPES = ("token", "token_seq", "float", "float_seq")


@dataclass
class RecBoleOptions:
    side_files: bool = option(True, help="Read NAME.item / NAME.user next to NAME.inter")


def _inter_path(path: Path) -> Path | None:
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*.inter"))
        return found[0] if len(found) == 1 else None
    return path if path.is_file() and path.suffix == ".inter" else None


def _header(path: Path, first: str) -> tuple[list[str], list[str]]:
    names, types = [], []
    for col in first.split("\t"):
        name, sep, typ = col.strip().partition(":")
        if not sep or typ not in TYPES:
            raise ReaderError(path, 1, name or col, f"header field {col!r} must be name:type with type in {TYPES}")
        names.append(name)
        types.append(typ)
    return names, types


class RecBoleReader(DatasetReader):
    name = "recbole"

    def detect(self, path: Path) -> float:
        p = _inter_path(path)
        if p is None:
            return 0.0
        head = c.lines(c.sniff(p, 1024))[:1]
        return 0.95 if head and "user_id:" in head[0] and "item_id:" in head[0] else 0.0

    def read(self, path: Path) -> RawDataset:
        ipath = _inter_path(path)
        if ipath is None:
            raise ReaderError(path, None, None, "expected one NAME.inter file (RecBole atomic format)")
        rows = c.lines(c.read_text(ipath))
        if not rows:
            raise ReaderError(ipath, 1, None, "empty file (expected a typed header row)")
        names, types = _header(ipath, rows[0])
        col = {n: k for k, n in enumerate(names)}
        for need in ("user_id", "item_id"):
            if need not in col:
                raise ReaderError(ipath, 1, need, f"the header has no {need} field (fields: {', '.join(names)})")
        t_col = col.get("timestamp")
        v_col = next((col[n] for n in ("rating", "label", "value") if n in col), None)
        a_col = next((col[n] for n in ("action", "behavior", "event", "behaviour") if n in col), None)
        float_cols = tuple(names[k] for k in (t_col, v_col) if k is not None)
        cols = c.table(rows[1:], "\t", ipath, tuple(names), first_line=2, ids=("user_id", "item_id"),
                       floats=float_cols)
        raw = RawDataset(
            users=cols["user_id"], items=cols["item_id"],
            timestamps=cols[names[t_col]] if t_col is not None else None,
            values=cols[names[v_col]] if v_col is not None else None,
            actions=[a.strip() for a in cols[names[a_col]]] if a_col is not None else None,
            source_files=[c.source_file(ipath)])
        opts = self.options or RecBoleOptions()
        stem = ipath.with_suffix("")
        if opts.side_files and stem.with_suffix(".item").is_file():
            raw.item_info = _read_items(stem.with_suffix(".item"))
            raw.source_files.append(c.source_file(stem.with_suffix(".item")))
        if opts.side_files and stem.with_suffix(".user").is_file():
            raw.user_info = _read_users(stem.with_suffix(".user"))
            raw.source_files.append(c.source_file(stem.with_suffix(".user")))
        return raw


def _records(path: Path, id_field: str):
    rows = c.lines(c.read_text(path, ("utf-8", "latin-1")))
    if not rows:
        raise ReaderError(path, 1, None, "empty file (expected a typed header row)")
    names, types = _header(path, rows[0])
    if id_field not in names:
        raise ReaderError(path, 1, id_field, f"the header has no {id_field} field")
    for line, parts in c.split_rows(rows[1:], "\t", path, tuple(names), first_line=2):
        rec = {}
        for name, typ, value in zip(names, types, parts):
            if typ == "float":
                rec[name] = c.as_float(value, path, line, name) if value.strip() else None
            elif typ == "float_seq":
                rec[name] = [c.as_float(v, path, line, name) for v in value.split()]
            elif typ == "token_seq":
                rec[name] = value.split()
            else:
                rec[name] = value.strip()
        yield line, c.as_id(parts[names.index(id_field)], path, line, id_field), rec


def _read_items(path: Path) -> dict[str, dict]:
    info = {}
    for _line, iid, rec in _records(path, "item_id"):
        rec.pop("item_id")
        tkey = next((k for k in rec if "title" in k.lower()), None) or next(
            (k for k in rec if "name" in k.lower()), None)
        title = rec.pop(tkey) if tkey else ""
        title = " ".join(title) if isinstance(title, list) else str(title)
        ckey = next((k for k in rec if k.lower() in ("genre", "genres", "class", "categories", "category")), None)
        cats = rec.pop(ckey) if ckey else []
        cats = cats if isinstance(cats, list) else [cats] if cats else []
        info[iid] = {"title": title, "categories": cats, "text": c.item_text(title, cats), "extra": rec}
    return info


def _read_users(path: Path) -> dict[str, dict]:
    info = {}
    for _line, uid, rec in _records(path, "user_id"):
        rec.pop("user_id")
        info[uid] = rec
    return info


SPECS = [PluginSpec(
    name="recbole", kind="reader", factory="workbench_plugins.readers.recbole:RecBoleReader",
    options=RecBoleOptions, description="RecBole atomic files (.inter + .item/.user with typed headers)")]
