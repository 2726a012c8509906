"""Scoring with exported files: ONNX Runtime behind the estimator surface ``quanta predict`` uses.

``quanta predict --engine onnx`` loads each method's ``model.onnx`` (written
by ``quanta export``, checked against the folder's manifest) instead of its
PyTorch or scikit-learn files, and scores the same inputs with it: the file
holds the standardisation, the task's scores and the target scaling itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from quanta.errors import UserError
from quanta.export import ONNX_FILE


class ExportedScorer:
    """An exported file run by ONNX Runtime: ``predict``, ``predict_with_uncertainty`` of a Dataset.

    Args:
        path: the ONNX file.
        batch_size: rows scored per call of the runtime.
    """

    def __init__(self, path: str | Path, batch_size: int = 8192):
        from quanta.export.onnx_network import require_onnx, session

        require_onnx()
        self.path = Path(path)
        self.batch_size = batch_size
        try:
            self.runner = session(self.path)
        except Exception as error:  # onnxruntime raises its own types for a damaged file
            raise UserError(
                f"{self.path}: not a readable ONNX model ({type(error).__name__})"
            ) from None
        self.inputs = [item.name for item in self.runner.get_inputs()]
        self.outputs = [item.name for item in self.runner.get_outputs()]

    def predict(self, data: Any) -> np.ndarray:
        """Scores of every row of ``data`` (the file's first output)."""
        return self.predict_with_uncertainty(data)[0]

    def predict_with_uncertainty(self, data: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Scores and, when the file has an ``uncertainty`` output, their standard deviations."""
        from quanta.export.onnx_network import run_session

        missing = [name for name in self.inputs if name not in data.arrays]
        if missing:
            raise UserError(
                f"{self.path}: needs the input arrays {', '.join(missing)}, which the "
                f"data do not hold (they hold {', '.join(data.arrays)})"
            )
        parts: list[list[np.ndarray]] = [[] for _ in self.outputs]
        for start in range(0, len(data), self.batch_size):
            rows = {
                name: data.arrays[name][start : start + self.batch_size] for name in self.inputs
            }
            for part, value in zip(parts, run_session(self.runner, rows), strict=True):
                part.append(value)
        joined = [np.concatenate(part) for part in parts]
        sigma = joined[self.outputs.index("uncertainty")] if "uncertainty" in self.outputs else None
        return joined[0], sigma


def load_exported(run: Any, names: list[str]) -> dict[str, ExportedScorer]:
    """``{method: scorer}`` from each method's exported file in the run directory ``run``."""
    scorers = {}
    for name in names:
        folder = run.method(name)
        if not (folder / ONNX_FILE).is_file():
            raise UserError(
                f"{folder / ONNX_FILE}: method '{name}' has not been exported; run "
                f"quanta export {run.path} --method {name} first"
            )
        scorers[name] = ExportedScorer(folder.verified(ONNX_FILE))
    return scorers


__all__ = ["ExportedScorer", "load_exported"]
