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


def save_dataset(dataset: dict, path) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **dataset)


def load_dataset(path) -> dict:
    """A dataset written by ``save_dataset``, scalars back as Python values."""
    try:
        with np.load(path, allow_pickle=False) as data:
            loaded = {name: data[name] for name in data.files}
    except Exception as err:  # zipfile, OSError, ValueError: all mean a damaged file
        raise ValueError(
            f"{path}: unreadable dataset ({type(err).__name__}: {err}); delete it and rerun"
        ) from err
    for name, value in loaded.items():
        if value.ndim == 0:
            loaded[name] = value.item()
    return loaded


def log_to(path):
    """Send this process's stderr (warnings, and the traceback if the job fails) to the rule's
    log, line-buffered so a user can follow it; returns the file for the job's own lines.
    Left open on purpose: a traceback is printed after the script's code has ended."""
    log = open(path, "w", buffering=1)
    sys.stderr = log
    return log
