"""H -> ZZ* -> 4 leptons against the q qbar -> ZZ -> 4 leptons continuum, from Pythia 8.

The public entry point is :func:`hzz`. Files: ``generate`` (Pythia settings,
seeded chunks, workers), ``leptons`` (dressing and smearing), ``selection``
(acceptance, Z1/Z2 pairing, mass cuts), ``angles`` (the five decay angles),
``views`` (the features table), ``display`` (the figure of ``show``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from quanta.data.dataset import Dataset
from quanta.registry import bad_param, checked
from quanta.simulators.cache import cached

FEATURES_VERSION = "1"  # change when the features view changes: it keys its cache


PEAK = "(the Higgs peak at 125 GeV must be inside the window)"


@checked
def hzz(
    view: Literal["features", "leptons"] = "features",
    target: Literal["class", "m4l"] = "class",
    size: Annotated[int, Field(ge=2, description="an integer >= 2 (events in total, half of them Higgs)")] = 10_000,
    seed: Annotated[int, Field(description="an integer")] = 1,
    sqrt_s: Literal[13, 14] = 13,
    m4l_min: Annotated[float, Field(ge=0, lt=124.0, description=f"a mass in GeV in [0, 124) {PEAK}")] = 70.0,
    m4l_max: Annotated[float, Field(gt=126.0, le=6000.0, description=f"a mass in GeV in (126, 6000] {PEAK}")] = 1000.0,
    pt_resolution: Annotated[float, Field(ge=0, le=0.5, description="a relative resolution in [0, 0.5]")] = 0.02,
    workers: Annotated[int, Field(ge=0, description="an integer >= 0 (0 = all cores)")] = 0,
    progress: bool = True,
) -> Dataset:
    """H -> ZZ* -> 4 leptons vs q qbar -> ZZ -> 4 leptons from Pythia 8, with acceptance and smearing

    The "golden channel" of the Higgs discovery (ATLAS and CMS, 2012): a Higgs
    boson of 125 GeV decays to a Z and an off-shell Z*, each to an electron or
    muon pair, and appears as a narrow peak in the four-lepton mass m_4l above
    the irreducible background of Z boson pairs from q qbar annihilation,
    which is broad and mostly above the on-shell threshold 2 m_Z ~ 182 GeV.
    Apart from m_4l, the Z masses and the five decay angles separate the two:
    the Higgs is a scalar, the continuum is produced forward.

    What is simulated:
        pp collisions at ``sqrt_s`` TeV with Pythia 8.3 (Monash tune). Signal:
        gg -> H, m_H = 125 GeV, H -> ZZ*. Background: f fbar -> gamma*/Z
        gamma*/Z (``WeakDoubleBoson:ffbar2gmZgmZ``, with gamma*/Z
        interference), its boson-pair mass generated in [0.9 m4l_min - 5,
        1.1 m4l_max + 5] GeV; gg -> ZZ and single-Z -> 4l are not included.
        Every Z and gamma* decays to e+e- or mu+mu-. Initial- and final-state
        radiation on; multiple parton interactions and hadronisation off (only
        the leptons are used, and this makes generation several times faster).
        Final-state photons within Delta R < 0.1 of a lepton are added back to
        it (dressed leptons). Detector: the lepton pT is smeared with a
        Gaussian of relative width ``pt_resolution``; directions are exact;
        leptons are massless.

    Selection (ATLAS/CMS 2012 style): all four leptons within acceptance
    (electrons pT > 7 GeV, |eta| < 2.5; muons pT > 5 GeV, |eta| < 2.7;
    events with fewer are dropped), leading lepton pT > 20 GeV, second > 10
    GeV; Z1 = the same-flavour opposite-sign pair closest to m_Z = 91.19 GeV,
    Z2 = the other pair (SFOS too); 40 < m_Z1 < 120 GeV, 12 < m_Z2 < 120 GeV;
    ``m4l_min <= m_4l < m4l_max``. The defaults keep the whole spectrum, where
    m_4l alone separates the classes well; ``m4l_min=115, m4l_max=135`` keeps
    the signal region, where the background looks like the signal in m_4l and
    a classifier must use the Z2 mass and the angles (the MELA problem).

    Targets:
        ``target="class"``: ``y`` int64, 0 "zz" (background), 1 "higgs"
            (signal); ``size // 2`` Higgs events and the rest ZZ, rows shuffled.
        ``target="m4l"``: ``y`` float32 = the measured m_4l (GeV), to be
            regressed from the leptons (``view="leptons"`` only, since the
            features contain m_4l).
        Every view also carries ``m4l`` float32[N] and ``label`` int64[N].

    Views (``x`` is float32):
        ``features`` - ``x[N, 10]``: m4l, mZ1, mZ2 (GeV); cos_theta_star,
            phi1, cos_theta1, cos_theta2, phi (radians; the decay angles of
            Gao et al. 2010, see ``quanta.simulators.hzz.angles``); pt4l (GeV) and
            y4l, the transverse momentum and rapidity of the 4l system.
        ``leptons`` - ``x[N, 4, 5]``: per lepton pT (GeV), eta, phi (radians),
            charge (+-1) and flavour (0 electron, 1 muon), sorted by decreasing
            pT; ``mask`` bool[N, 4] is all True (every kept event has four
            leptons; the mask lets set models take the view as is).

    Args:
        view: which representation ``x`` holds (see Views).
        target: what ``y`` holds (see Targets).
        size: total number of selected events (>= 2).
        seed: seeds Pythia and the smearing (per class and chunk) and the row shuffle.
        sqrt_s: the LHC collision energy in TeV, 13 (Run 2) or 14 (design).
        m4l_min, m4l_max: the four-lepton mass window in GeV; must contain 125.
        pt_resolution: relative Gaussian pT resolution of every lepton
            (0.02: 2 %, roughly the experiments' for electrons and muons of
            tens of GeV), in [0, 0.5].
        workers: generation processes; 0 uses every available core. The result
            does not depend on it.
        progress: show a progress bar (plain lines when stdout is not a terminal).

    Generation is cached per (seed, size, sqrt_s, window, resolution, generator
    version) in ``$QUANTA_CACHE`` (default ``~/.cache/quanta``); views and
    targets are computed from the cached leptons.

    References:
        ATLAS Collaboration, Phys. Lett. B 716 (2012) 1, arXiv:1207.7214.
        CMS Collaboration, Phys. Lett. B 716 (2012) 30, arXiv:1207.7235.
        Y. Gao et al., "Spin determination of single-produced resonances at
        hadron colliders", Phys. Rev. D 81 (2010) 075022, arXiv:1001.3396.
        C. Bierlich et al., "A comprehensive guide to the physics and usage of
        PYTHIA 8.3", SciPost Phys. Codeb. 8 (2022), arXiv:2203.11601.
    """
    if target == "m4l" and view == "features":
        raise bad_param("hzz", "target", "'class' with view 'features' (the features contain m4l; regress m4l "
                        "from view 'leptons')", target)
    from quanta.simulators.hzz import generate
    from quanta.simulators.hzz.views import FEATURE_NAMES, LEPTON_FEATURE_NAMES, features

    physics = {"version": generate.GENERATOR_VERSION, "seed": int(seed), "size": int(size),
               "sqrt_s": int(sqrt_s), "m4l_min": float(m4l_min), "m4l_max": float(m4l_max),
               "pt_resolution": float(pt_resolution)}

    def build_raw() -> dict[str, np.ndarray]:
        return generate.simulate(size, seed, sqrt_s, m4l_min, m4l_max, pt_resolution,
                                 workers=workers, progress=progress)

    raw = cached("hzz", physics, build_raw)
    table = cached("hzz-features", {**physics, "features": FEATURES_VERSION},
                   lambda: {"x": features(raw["leptons"])})["x"]
    m4l = table[:, FEATURE_NAMES.index("m4l")]
    label = raw["y"].astype(np.int64)
    arrays: dict[str, np.ndarray] = {"m4l": m4l, "label": label}
    if view == "features":
        arrays["x"], names = table, list(FEATURE_NAMES)
    else:
        arrays["x"], names = raw["leptons"].astype(np.float32), list(LEPTON_FEATURE_NAMES)
        arrays["mask"] = np.ones(raw["leptons"].shape[:2], dtype=bool)
    arrays["y"] = label if target == "class" else m4l
    info: dict[str, Any] = {"view": view, "target": target, "size": size, "seed": seed, "sqrt_s": sqrt_s,
                            "m4l_min": m4l_min, "m4l_max": m4l_max, "pt_resolution": pt_resolution,
                            "workers": workers, "progress": progress,
                            "generator": generate.GENERATOR_VERSION}
    return Dataset(arrays=arrays, name="hzz", feature_names=names,
                   classes=["zz", "higgs"] if target == "class" else None, info=info)


from quanta.simulators.hzz.display import show  # noqa: E402  (the source module's figure, by convention)

__all__ = ["hzz", "show"]
