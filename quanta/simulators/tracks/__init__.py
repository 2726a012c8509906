"""Charged-particle tracks in a barrel tracker: hits, hit graphs, track parameters.

The public entry point is :func:`tracks`. Files: ``helix`` (the helix and its
crossing with a layer, circle fit), ``simulate`` (particles, hits, noise),
``graph`` (candidate edges, their window, features and labels), ``views``
(the four views), ``display`` (the figure of ``show``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from quanta.data.dataset import Dataset
from quanta.registry import bad_param, checked
from quanta.simulators.cache import cached

TRACKML_RADII = (0.032, 0.072, 0.116, 0.172, 0.26, 0.36, 0.50, 0.66, 0.82, 1.02)  # m, TrackML barrel
SIMULATION_VERSION = "1"  # change when the simulation changes: it keys the cache

MULTIPLICITY = "two integers (low, high) with 1 <= low <= high <= 1000"
RADII = "at least 3 increasing radii in metres > 0"
Count = Annotated[int, Field(ge=1, le=1000)]
Multiplicity = Annotated[tuple[Count, Count], Field(description=MULTIPLICITY)]
Radii = Annotated[tuple[Annotated[float, Field(gt=0)], ...], Field(min_length=3, description=RADII)]
Resolution = Annotated[float, Field(ge=0, lt=0.01, description="a resolution in metres in [0, 0.01)")]


@checked
def tracks(
    view: Literal["hits", "graph", "edges", "parameters"] = "graph",
    target: Literal["pt", "qpt", "charge"] = "pt",
    size: Annotated[int, Field(ge=1, description="an integer >= 1 (events)")] = 2000,
    seed: Annotated[int, Field(description="an integer")] = 1,
    tracks_per_event: Multiplicity = (10, 40),
    pt_min: Annotated[float, Field(gt=0, description="a transverse momentum in GeV > 0")] = 0.5,
    pt_max: float = 10.0,
    eta_max: Annotated[float, Field(gt=0, le=5, description="a pseudorapidity in (0, 5]")] = 1.0,
    field: Annotated[float, Field(gt=0, description="a magnetic field in tesla > 0")] = 2.0,
    layer_radii: Radii = TRACKML_RADII,
    half_length: Annotated[float, Field(gt=0, description="a length in metres > 0")] = 1.5,
    resolution_rphi: Resolution = 5e-5,
    resolution_z: Resolution = 1.5e-4,
    hit_efficiency: Annotated[float, Field(gt=0, le=1, description="a probability in (0, 1]")] = 0.98,
    noise_hits: Annotated[int, Field(ge=0, description="an integer >= 0")] = 40,
    vertex_sigma_z: Annotated[float, Field(ge=0, description="a length in metres >= 0")] = 0.05,
    max_edges: Annotated[int, Field(ge=0, description="an integer >= 0 (0 = automatic)")] = 0,
) -> Dataset:
    """Charged-particle tracks in a solenoid barrel detector: hits, hit graphs with edge labels, track parameters

    Track finding as in the TrackML challenge and the HEP.TrkX / Exa.TrkX
    graph-network pipelines: charged particles from the collision point curl
    on helices in the solenoid's field and leave hits on the cylindrical
    layers of a silicon tracker; the task is to connect the hits of each
    particle (edge classification on a hit graph) and to measure its momentum
    from the curvature.

    What is simulated:
        Per event ``tracks_per_event = (low, high)`` particles (uniform count),
        each with charge +-1, pT log-uniform in [pt_min, pt_max] GeV (a
        falling spectrum, dN/dpT ~ 1/pT), eta uniform in [-eta_max, eta_max],
        phi uniform, from a vertex spread by 15 um in x, y and
        ``vertex_sigma_z`` in z. In a uniform field ``field`` (T) along z each
        moves on a helix of transverse radius R = pT / (0.3 B) (m); a hit is
        where it first crosses a layer (radii ``layer_radii``, default the
        TrackML barrel, 3.2 to 102 cm; |z| < ``half_length``). Each layer fires
        with probability ``hit_efficiency``; the hit is smeared along the
        cylinder by ``resolution_rphi`` in r*phi and ``resolution_z`` in z
        (Gaussian). ``noise_hits`` noise hits per event land uniformly on
        random layers. No multiple scattering, energy loss, secondaries or
        endcaps: the helix is exact, and particles whose 2R is below a layer's
        radius (loopers) stop leaving hits there. Lengths in metres.

    Views (``x`` float32; H = high * L + noise_hits hit slots, L layers;
    hits ordered by layer then azimuth, padding zeros with mask False):
        ``hits`` - ``x[N, H, 6]`` per hit x, y, z, r (m), phi (rad), layer
            (0 innermost); ``mask`` bool[N, H]; ``y`` int64[N, H] 1 for a
            particle's hit, 0 for noise (and padding); ``particle`` int64[N, H]
            the particle's index in its event (-1 noise); ``n_tracks`` int64[N].
        ``graph`` - nodes ``x``, ``mask``, ``particle`` as in ``hits``; candidate
            edges (hit pairs on adjacent layers inside the window of
            :mod:`quanta.simulators.tracks.graph`: azimuthal slope and beam-line
            intercept compatible with a track above pt_min from the luminous
            region; it keeps > 99.9 % of the true edges) as ``edge_index``
            int64[N, E, 2] (inner, outer hit slot), ``edge_mask`` bool[N, E],
            ``edge_features`` float32[N, E, 8] (d_r, d_phi, d_z, z0, phi_slope,
            d_eta, r_inner, z_inner) and ``y`` float32[N, E] = 1 where both hits
            belong to the same particle (consecutive layers), else 0;
            ``n_edges`` int64[N]. E = ``max_edges``, or with 0 the largest
            count rounded up to a multiple of 64.
        ``edges`` - one row per candidate edge, pooled over events: ``x[M, 8]``
            the edge features, ``y`` int64[M] (1 "true", 0 "fake"), ``event``
            and ``edge_index`` (hit slots in the hits view). For trees and MLPs.
        ``parameters`` - one row per particle with >= 3 hits: ``x[T, L, 6]``
            its hits by layer, x, y, z, r, phi and phi_rel (phi minus the
            innermost hit's phi); ``mask`` bool[T, L]; ``y`` by ``target``:
            ``"pt"`` float32 GeV, ``"qpt"`` float32 q/pT in 1/GeV, ``"charge"``
            int64 (0 "negative", 1 "positive"); truth arrays pt, charge, eta,
            phi, vz, event.

    Args:
        view: which representation ``x`` holds (see Views).
        target: what ``y`` holds in the parameters view; the other views
            have a fixed ``y`` and accept only the default.
        size: number of events (>= 1); the edges and parameters views have
            one row per edge or track instead.
        seed: seeds every random number (the data are identical for a seed).
        tracks_per_event: (low, high) particles per event, 1 <= low <= high.
        pt_min, pt_max: transverse momentum range in GeV, 0 < pt_min < pt_max.
        eta_max: largest |pseudorapidity| (> 0; 1.0 keeps tracks in the barrel).
        field: solenoid field in tesla (> 0; 2 T like ATLAS, CMS has 3.8 T).
        layer_radii: layer radii in metres, increasing, at least 3 layers.
        half_length: barrel half-length in metres.
        resolution_rphi, resolution_z: hit resolution in metres (50 um and
            150 um by default, pixel-like; 0 for exact hits).
        hit_efficiency: probability that a crossed layer records a hit, in (0, 1].
        noise_hits: noise hits per event (>= 0).
        vertex_sigma_z: Gaussian spread of the vertex along the beam in metres.
        max_edges: edge slots per event in the graph view (0: automatic).

    Generation is vectorised NumPy, about 4,000 events (100,000 tracks) per
    second on one core, so it runs in this process; the events are cached per
    physics parameters in ``$QUANTA_CACHE`` (default ``~/.cache/quanta``) and the
    views are computed from the cached hits (the graph of 2,000 events in
    about a second).

    References:
        S. Farrell et al., "Novel deep learning methods for track
        reconstruction", arXiv:1810.06111 (HEP.TrkX).
        X. Ju et al., "Performance of a geometric deep learning pipeline for
        HL-LHC particle tracking", Eur. Phys. J. C 81 (2021) 876,
        arXiv:2103.06995 (Exa.TrkX).
        S. Amrouche et al., "The Tracking Machine Learning challenge: accuracy
        phase", arXiv:1904.06778 (TrackML detector layout).
        R. L. Workman et al. (PDG), Review of Particle Physics, sections
        "Passage of particles through matter" and "Particle detectors" (helix
        parametrisation; Gluckstern's momentum resolution formula).
    """
    problems = [
        ("target", target, target == "pt" or view == "parameters",
         "'pt' (the default) unless view is 'parameters'; the other views have a fixed y"),
        ("tracks_per_event", tracks_per_event, tracks_per_event[0] <= tracks_per_event[1], MULTIPLICITY),
        ("pt_max", pt_max, pt_min < pt_max < 1e5, f"a momentum in GeV above pt_min = {pt_min} and below 1e5"),
        ("layer_radii", layer_radii, all(b > a for a, b in zip(layer_radii[:-1], layer_radii[1:], strict=True)),
         RADII),
    ]
    for name, value, ok, allowed in problems:
        if not ok:
            raise bad_param("tracks", name, allowed, value)
    layer_radii = tuple(float(r) for r in layer_radii)
    from quanta.simulators.tracks import graph, views
    from quanta.simulators.tracks.simulate import Detector, Particles, simulate

    particles = Particles((int(tracks_per_event[0]), int(tracks_per_event[1])), float(pt_min), float(pt_max),
                          float(eta_max), float(vertex_sigma_z))
    detector = Detector(layer_radii, float(half_length), float(field), float(resolution_rphi),
                        float(resolution_z), float(hit_efficiency), int(noise_hits))
    physics = {"version": SIMULATION_VERSION, "size": int(size), "seed": int(seed),
               **{k: v for k, v in vars(particles).items()}, **{k: v for k, v in vars(detector).items()}}
    raw = cached("tracks", physics, lambda: simulate(size, seed, particles, detector))
    window = graph.windows(layer_radii, field, pt_min, eta_max, vertex_sigma_z, resolution_rphi, resolution_z)

    classes = None
    if view == "hits":
        arrays, names, classes = views.hits_view(raw), list(views.HIT_FEATURE_NAMES), ["noise", "particle"]
    elif view == "graph":
        arrays, names = views.graph_view(raw, window, max_edges), list(views.HIT_FEATURE_NAMES)
    elif view == "edges":
        arrays, names, classes = views.edges_view(raw, window), list(graph.EDGE_FEATURE_NAMES), ["fake", "true"]
    else:
        arrays, names = views.parameters_view(raw, len(layer_radii)), list(views.TRACK_HIT_FEATURE_NAMES)
        if target == "pt":
            arrays["y"] = arrays["pt"]
        elif target == "qpt":
            arrays["y"] = (arrays["charge"] / arrays["pt"]).astype(np.float32)
        else:
            arrays["y"], classes = (arrays["charge"] > 0).astype(np.int64), ["negative", "positive"]
    info: dict[str, Any] = {
        "view": view, "target": target, "size": size, "seed": seed, "tracks_per_event": list(tracks_per_event),
        "pt_min": pt_min, "pt_max": pt_max, "eta_max": eta_max, "field": field, "layer_radii": list(layer_radii),
        "half_length": half_length, "resolution_rphi": resolution_rphi, "resolution_z": resolution_z,
        "hit_efficiency": hit_efficiency, "noise_hits": noise_hits, "vertex_sigma_z": vertex_sigma_z,
        "max_edges": max_edges, "simulation": SIMULATION_VERSION,
    }
    return Dataset(arrays=arrays, name="tracks", feature_names=names, classes=classes, info=info)


from quanta.simulators.tracks.display import show  # noqa: E402  (the source module's figure, by convention)

__all__ = ["tracks", "show"]
