"""Top-quark vs QCD jets simulated with Pythia 8 and clustered with FastJet.

The public entry point is :func:`jets`. Files: ``generate`` (Pythia settings,
seeded chunks, parallel workers), ``detector`` (Delphes-like tracks, towers and
particle flow, optional), ``clustering`` (event record -> leading anti-kt jet),
``matching`` (top containment), ``substructure`` (N-subjettiness and friends),
``views`` (features, constituents), ``images`` (jet images), ``mixtures`` (mixed samples
of known signal fraction, for weak supervision),
``trees`` (kt clustering trees), and the shared ``quanta.simulators.parallel`` (workers) and
``quanta.simulators.progress`` (display).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from quanta.data.dataset import Dataset
from quanta.registry import bad_param, checked
from quanta.simulators.cache import cached

VIEWS = ("features", "constituents", "image", "tree")
FEATURES_VERSION = "1"  # change when the features view changes: it keys its cache


@checked
def jets(
    view: Literal["features", "constituents", "image", "tree"] = "features",
    size: Annotated[int, Field(ge=2, description="an integer >= 2 (jets in total, half of them top)")] = 10_000,
    seed: Annotated[int, Field(description="an integer")] = 1,
    pt_min: Annotated[float, Field(gt=0, description="a jet pT in GeV > 0")] = 550.0,
    pt_max: float = 650.0,
    n_constituents: Annotated[int, Field(ge=1, description="an integer >= 1")] = 100,
    image_pixels: Annotated[int, Field(ge=4, description="an integer >= 4")] = 40,
    workers: Annotated[int, Field(ge=0, description="an integer >= 0 (0 = all cores)")] = 0,
    progress: bool = True,
    detector: Literal["none", "delphes_atlas", "delphes_cms"] = "none",
    mixtures: list[float] | None = None,
) -> Dataset:
    """Top-quark vs QCD jets from Pythia 8 + FastJet (anti-kt R=0.8); views features, constituents, image, tree

    The standard benchmark of jet tagging: is a large-radius jet the decay of a
    boosted top quark (t -> b W -> b q q', three hard prongs and a mass near
    173 GeV) or a light-quark or gluon jet from QCD (one prong, a mass from
    radiation only)? Modelled on the public top-tagging reference sample
    (Kasieczka, Plehn et al., "The Machine Learning Landscape of Top Taggers",
    SciPost Phys. 7 (2019) 014, arXiv:1902.09914), at particle level.

    What is simulated:
        pp collisions at 14 TeV with Pythia 8.3 (Monash tune; ISR, FSR and
        hadronisation on; multiple parton interactions and pile-up off, as in
        the reference sample; particles with c*tau > 10 mm stable). Top class:
        gg/qqbar -> ttbar with both W forced to quarks. QCD class: all 2 -> 2
        QCD processes (``HardQCD:all``). The hard-process pT is generated in
        [0.75 pt_min, 1.2 pt_max] for speed; this drops the ~15-20 % of jets in
        the window that a softer hard process plus hard ISR would have given.
        All visible final-state particles (no neutrinos) with |eta| < 2.5 are
        clustered with anti-kt, R = 0.8 (FastJet). Per event the leading jet
        is kept if |eta| < 2 and pt_min <= pT < pt_max. A top jet is kept only
        if a top quark and its three decay quarks (b, and the q q' of the W)
        all lie within Delta R < 0.8 of the jet axis; QCD jets need no
        matching. Energies and momenta in GeV; eta is pseudorapidity.

    Classes: ``y = 0`` "qcd", ``y = 1`` "top"; ``size // 2`` top jets and the
    rest QCD, rows shuffled with ``seed``.

    Views (``x`` is float32 in every view):
        ``features`` - ``x[N, 14]``, one row of observables per jet:
            jet_pt, jet_eta, jet_mass (GeV; eta of the jet axis);
            n_constituents (particles in the jet);
            tau1, tau2, tau3 - N-subjettiness (beta = 1, axes = exclusive-kt
            subjets, normalised by sum pT * R), small tau_N when N prongs
            describe the jet; tau21 = tau2/tau1, tau32 = tau3/tau2 (tops: small
            tau32);
            girth - pT-weighted mean Delta R of the constituents from the axis;
            pt_d - sqrt(sum pT_i^2) / sum pT_i;
            leading_pt_fraction - pT of the hardest constituent / jet pT;
            c2, d2 - energy-correlation ratios (beta = 1), small for two-prong jets.
        ``constituents`` - ``x[N, P, 7]`` and ``mask`` bool[N, P], P =
            n_constituents hardest particles, pT-ordered: delta_eta, delta_phi
            (wrapped to [-pi, pi)) from the jet axis, log pT, log E,
            log(pT / pT_jet), log(E / E_jet), delta_R. Padding is zeros with
            mask False. Also ``p4`` float32[N, P, 4]: each constituent's
            four-momentum (E, px, py, pz) in GeV in the lab frame (zeros where
            padded), for Lorentz-structured networks and pairwise features.
        ``image`` - ``x[N, 1, H, W]``, H = W = image_pixels: pT-weighted image
            over [-0.8, 0.8]^2 in (eta', phi') after centring on the pT centroid,
            rotating the principal axis vertical and flipping the harder halves
            to positive eta' and phi' (the last rows and columns); pixels sum to 1.
        ``tree`` - the P = n_constituents hardest constituents reclustered with
            kt into one binary tree per jet (arXiv:1702.00748), M = 2P - 1 node
            slots, children before parents, the root at slot 2n - 2 for n
            leaves: ``x[N, M, 8]`` node features (the constituents view's seven
            and log(1 + mass/GeV)), ``mask`` bool[N, M], ``children``
            int64[N, M, 2] (-1: none), ``level`` int64[N, M] (0 for leaves,
            -1 padding), ``p4`` float32[N, M, 4]; see ``trees``.

    Args:
        view: which representation ``x`` holds (see Views).
        size: total number of jets (>= 2).
        seed: seeds Pythia (per class and chunk) and the row shuffle.
        pt_min, pt_max: jet pT window in GeV, ``0 < pt_min < pt_max``.
        n_constituents: constituents kept per jet in the constituents and tree views (>= 1).
        image_pixels: image side in pixels in the image view (>= 4).
        workers: generation processes; 0 uses every available core. The result
            does not depend on it.
        progress: show a progress bar (plain lines when stdout is not a terminal).
        detector: ``none`` clusters the particles (particle level, as above);
            ``delphes_atlas`` or ``delphes_cms`` first pass each event through a
            Delphes-like detector (tracks with the field's low-pT cut, efficiency
            and pT smearing; ECAL/HCAL towers with the card's granularity and
            resolution; particle flow into tracks, photons and neutral hadrons)
            and cluster its e-flow objects, as in the public sample; the jet
            selection and top matching are unchanged (see ``detector``).
        mixtures: signal fractions of mixed samples for weak supervision
            (``[0.2, 0.8]``: CWoLa's two mixtures), or none. Every jet is dealt
            into one of K equal-size mixtures, mixture k holding exactly
            ``round(f_k m)`` top jets; ``m`` is the largest size the two classes
            allow, and the jets left over are dropped (none when the fractions
            average to 1/2 and ``size`` is even: 0.2 and 0.8 keep all). The jets
            keep their true ``y`` (to evaluate only) and gain ``mixture`` int64[N]
            (0..K-1) and ``signal_fraction`` float32[N] (their mixture's); see
            ``mixtures`` (seeded by ``seed``).

    Generation is cached per (seed, size, pt window, detector, generator version) in
    ``$QUANTA_CACHE`` (default ``~/.cache/quanta``); views are computed from the
    cached jets, so switching views never re-runs Pythia.

    References:
        T. Sjostrand et al., "A comprehensive guide to the physics and usage of
        PYTHIA 8.3", SciPost Phys. Codeb. 8 (2022), arXiv:2203.11601.
        M. Cacciari, G. Salam, G. Soyez, "The anti-kt jet clustering algorithm",
        JHEP 04 (2008) 063, arXiv:0802.1189; "FastJet user manual", arXiv:1111.6097.
        G. Kasieczka et al., arXiv:1902.09914 (reference sample and matching).
        J. Thaler, K. Van Tilburg, arXiv:1011.2268 (N-subjettiness).
        H. Qu, L. Gouskos, arXiv:1902.08570 (ParticleNet constituent inputs).
    """
    if not pt_max > pt_min:
        raise bad_param("jets", "pt_max", f"a jet pT in GeV above pt_min = {pt_min}", pt_max)
    if mixtures is not None:  # before any jet is simulated
        from quanta.simulators.jets.mixtures import check_fractions

        mixtures = check_fractions(mixtures)
    from quanta.simulators.jets import generate

    physics = {"version": generate.GENERATOR_VERSION, "seed": int(seed), "size": int(size),
               "pt_min": float(pt_min), "pt_max": float(pt_max)}
    if detector != "none":  # particle level keeps the key it always had
        physics["detector"] = detector

    def build_raw() -> dict[str, np.ndarray]:
        return generate.simulate(size, seed, pt_min, pt_max, workers=workers, progress=progress,
                                 detector=detector)

    raw = cached("jets", physics, build_raw)
    info: dict[str, Any] = {"view": view, "size": size, "seed": seed, "pt_min": pt_min, "pt_max": pt_max,
                            "n_constituents": n_constituents, "image_pixels": image_pixels,
                            "workers": workers, "progress": progress, "detector": detector,
                            "generator": generate.GENERATOR_VERSION}
    arrays: dict[str, np.ndarray] = {"y": raw["y"].astype(np.int64)}
    if view == "features":
        from quanta.simulators.jets.views import FEATURE_NAMES, features

        arrays["x"] = cached("jets-features", {**physics, "features": FEATURES_VERSION},
                             lambda: {"x": features(raw)})["x"]
        names = list(FEATURE_NAMES)
    elif view == "constituents":
        from quanta.simulators.jets.views import (
            CONSTITUENT_FEATURE_NAMES,
            constituents,
            four_momenta,
        )

        arrays["x"], arrays["mask"] = constituents(raw, n_constituents)
        arrays["p4"] = four_momenta(raw, n_constituents)
        names = list(CONSTITUENT_FEATURE_NAMES)
    elif view == "tree":
        from quanta.simulators.jets.trees import TREE_FEATURE_NAMES, TREES_VERSION, trees

        arrays.update(cached("jets-trees", {**physics, "trees": TREES_VERSION,
                                            "n_constituents": int(n_constituents)},
                             lambda: trees(raw, n_constituents)))
        names = list(TREE_FEATURE_NAMES)
    else:
        from quanta.simulators.jets.images import jet_images
        from quanta.simulators.jets.views import stored_mask

        jet = raw["jet"].astype(np.float64)
        arrays["x"] = jet_images(raw["constituents"], stored_mask(raw), jet[:, 1], jet[:, 2], image_pixels)
        names = ["pt_fraction"]
    if mixtures is not None:
        arrays = _mixed(arrays, mixtures, seed)
        info["mixtures"] = [float(f) for f in mixtures]
        info["kept_in_mixtures"] = len(arrays["y"])
    return Dataset(arrays=arrays, name="jets", feature_names=names, classes=["qcd", "top"], info=info)


def _mixed(arrays: dict[str, np.ndarray], fractions: list[float], seed: int) -> dict[str, np.ndarray]:
    """The jets dealt into mixtures of signal ``fractions``: the rows kept, with their mixture."""
    from quanta.simulators.jets.mixtures import FRACTION, MIXTURE, mixed

    rows, mixture = mixed(arrays["y"], fractions, seed)
    kept = {name: value[rows] for name, value in arrays.items()}
    kept[MIXTURE] = mixture
    kept[FRACTION] = np.asarray(fractions, dtype=np.float32)[mixture]
    return kept


from quanta.simulators.jets.display import show  # noqa: E402  (the source module's figure, by convention)

__all__ = ["jets", "show"]
