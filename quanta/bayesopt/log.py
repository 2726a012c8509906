"""The evaluation log: one JSON line per evaluation, so an interrupted optimisation resumes.

The first line holds the settings that decide the points (dimension, box,
seed, acquisition, batch size, direction, noise, beta); each later line one
evaluation with its step, its point, its value and the step's record. Lines are
flushed and synced as they are written, so a kill loses at most the
evaluation in progress; a torn last line (the kill came mid-write) is dropped
on reading.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from quanta.errors import UserError


def read_log(path: Path, settings: dict[str, Any]) -> list[dict[str, Any]]:
    """The logged evaluations, after checking the log was written with the same ``settings``."""
    if not path.is_file():
        raise UserError(
            f"log: {path} does not exist; there is nothing to resume (drop resume=True)"
        )
    lines = path.read_text().splitlines()
    records = []
    for number, line in enumerate(lines, 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):  # torn by a kill mid-write
                break
            raise UserError(f"log: {path} line {number} is not JSON; the log is damaged") from None
    if not records or records[0].get("kind") != "settings":
        raise UserError(f"log: {path} does not start with the optimisation's settings")
    logged = records[0]["settings"]
    for key, value in settings.items():
        if logged.get(key) != value:
            raise UserError(
                f"log: {path} was written with {key}={logged.get(key)!r}, not {value!r}; "
                "resume with the same settings or start a new log"
            )
    return [r for r in records[1:] if r.get("kind") == "evaluation"]


class EvaluationLog:
    """Appends evaluations to a JSON-lines file (nothing when ``path`` is None)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def start(self, settings: dict[str, Any]) -> None:
        """Write the settings line of a new log (refusing to overwrite an old one)."""
        if self.path is None:
            return
        if self.path.exists():
            raise UserError(
                f"log: {self.path} already exists; pass resume=True to continue it, or another log"
            )
        self._append({"kind": "settings", "settings": settings})

    def evaluation(self, record: dict[str, Any]) -> None:
        """Append one evaluation."""
        if self.path is not None:
            self._append({"kind": "evaluation", **record})

    def _append(self, record: dict[str, Any]) -> None:
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
