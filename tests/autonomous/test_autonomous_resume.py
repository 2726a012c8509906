"""An interrupted campaign resumes from its log with the same points, features and map errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from quanta.autonomous import run_campaign
from quanta.errors import UserError

pytest.importorskip("botorch")
pytestmark = pytest.mark.usefixtures("one_thread")

#: 8 Sobol points, then batches of 4: an interruption after 14 measurements is mid-batch
CONFIG = {"budget": {"measurements": 20}, "error": {"grid": 15, "every": 5},
          "gp": {"initial": 8, "batch": 4, "candidates": 128}}


class Interrupted(Exception):
    """Stands for a kill of the process."""


def _same(resumed, whole):
    assert len(resumed.measurements) == len(whole.measurements)
    np.testing.assert_array_equal(resumed.points, whole.points)
    assert [m.feature for m in resumed.measurements] == [m.feature for m in whole.measurements]
    assert [m.sigma for m in resumed.measurements] == [m.sigma for m in whole.measurements]
    np.testing.assert_array_equal(resumed.errors, whole.errors)


@pytest.mark.parametrize("strategy", ["gp", "random"])
def test_a_campaign_interrupted_mid_batch_resumes_as_if_never_stopped(tmp_path, strategy):
    whole = run_campaign(CONFIG, strategy=strategy, seed=3)

    def dies(campaign, measurement):
        if measurement.index == 13:
            raise Interrupted

    log = tmp_path / "measurements.jsonl"
    with pytest.raises(Interrupted):
        run_campaign(CONFIG, strategy=strategy, seed=3, log=log, callback=dies)
    assert len(log.read_text().splitlines()) == 1 + 14  # settings + every measurement made
    seen = []
    resumed = run_campaign(CONFIG, strategy=strategy, seed=3, log=log, resume=True,
                           callback=lambda campaign, m: seen.append(m.index))
    _same(resumed, whole)
    assert seen == list(range(20))  # the logged ones are replayed, not measured again
    assert len(log.read_text().splitlines()) == 1 + 20


def test_a_log_torn_by_a_kill_mid_line_resumes(tmp_path):
    log = tmp_path / "measurements.jsonl"
    whole = run_campaign(CONFIG, strategy="gp", seed=1, log=log)
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:12]) + "\n" + lines[12][: len(lines[12]) // 2])
    resumed = run_campaign(CONFIG, strategy="gp", seed=1, log=log, resume=True)
    _same(resumed, whole)


def test_resuming_with_other_settings_is_refused_in_one_line(tmp_path):
    log = tmp_path / "measurements.jsonl"
    run_campaign({**CONFIG, "budget": {"measurements": 8}}, strategy="gp", seed=0, log=log)
    changed = {**CONFIG, "budget": {"measurements": 8}, "beamline": {"exposure_s": 2.0}}
    with pytest.raises(UserError, match=r"^log: .* was written with beamline.exposure_s=1.0, "
                                        r"not 2.0; resume with the same settings") as error:
        run_campaign(changed, strategy="gp", seed=0, log=log, resume=True)
    assert "\n" not in str(error.value)
    with pytest.raises(UserError, match="was written with strategy='gp', not 'random'"):
        run_campaign({**CONFIG, "budget": {"measurements": 8}}, strategy="random", seed=0,
                     log=log, resume=True)
    with pytest.raises(UserError, match="already exists; pass resume=True"):
        run_campaign(CONFIG, strategy="gp", seed=0, log=log)
    record = json.loads(log.read_text().splitlines()[1])
    assert {"point", "feature", "sigma", "exposure_s", "seconds", "elapsed_s"} <= set(record)
