"""The default experiment's physics: both methods separate top jets from QCD jets."""

from __future__ import annotations

import yaml

from quanta.config import default_experiment_path
from quanta.experiment import run_experiment


def test_both_methods_reach_auc_090_on_jet_features(tmp_path):
    config = yaml.safe_load(default_experiment_path().read_text())
    config["data"]["size"] = 3000
    config["methods"][1]["train"]["progress"] = False
    run = run_experiment(config, out=tmp_path, verbose=False)
    for name in ("bdt", "mlp"):
        test = run.metrics[name]["test"]
        # measured at this size and seed: bdt 0.984, mlp 0.983
        assert test["auc"] >= 0.90, (name, test)
        assert test["rejection_at_0.5"] > 10, (name, test)
