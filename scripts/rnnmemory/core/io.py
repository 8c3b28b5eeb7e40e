"""Files that appear whole or not at all, and loaders that name the file they choke on."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block ends
    without error. A killed process leaves at most a hidden ``.tmp`` file, never a truncated
    file under the real name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # as open() would; mkstemp's 0600 hides results
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(data: dict, path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=False)
        f.write("\n")


def read_json(path) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: corrupt JSON ({err}); delete it and rerun to rebuild") from err


PER_SEED = ("x_train", "y_train", "x_test", "y_test", "baseline_loss", "null_loss")


def save_cell_datasets(datasets: list[dict], seeds: list[int], path) -> None:
    """Every seed's dataset of one (task, seq_len) in one file: the per-seed arrays stacked on
    a leading seed axis, the shared scalars (loss kind, classes) once."""
    stacked = {name: np.stack([d[name] for d in datasets]) for name in PER_SEED}
    shared = {k: v for k, v in datasets[0].items() if k not in PER_SEED}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, seeds=np.asarray(seeds), **stacked, **shared)


def load_cell_datasets(path) -> tuple[list[int], list[dict]]:
    """The seeds and their datasets (dicts as ``tasks.make_dataset`` returns them) of a file
    written by ``save_cell_datasets``; a damaged file is named in the error."""
    try:
        with np.load(path, allow_pickle=False) as data:
            loaded = {name: data[name] for name in data.files}
    except Exception as err:  # zipfile, OSError, ValueError: all mean a damaged file
        raise ValueError(
            f"{path}: unreadable dataset ({type(err).__name__}: {err}); delete it and rerun"
        ) from err
    seeds = loaded.pop("seeds").tolist()
    shared = {k: v.item() for k, v in loaded.items() if k not in PER_SEED}
    datasets = [
        {**shared, **{name: _scalar(loaded[name][k]) for name in PER_SEED}}
        for k in range(len(seeds))
    ]
    return seeds, datasets


def _scalar(value):
    return value.item() if value.ndim == 0 else value


def log_to(path):
    """Send this process's stderr (warnings, and the traceback if the job fails) to the rule's
    log, line-buffered so a user can follow it; returns the file for the job's own lines.
    Left open on purpose: a traceback is printed after the script's code has ended."""
    log = open(path, "w", buffering=1)
    sys.stderr = log
    return log
