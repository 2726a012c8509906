"""sasmodels on the CPU: compiled model kernels, evaluated sample by sample.

sasmodels writes each form factor once in C and runs it through OpenCL, CUDA
or a shared library compiled with the system C compiler (its "DLL" engine).
quanta always uses the DLL engine (``platform="dll"``, double precision): it
needs no GPU driver, gives the same numbers everywhere, and one compiled model
is reused for every sample. Compiled libraries go to ``<quanta cache>/sasmodels``
(unless ``$SAS_DLL_PATH`` is set), so nothing is written to the home folder
when ``$QUANTA_CACHE`` points elsewhere.

One kernel evaluates one parameter set on all q at once, with the
polydispersity integral done in C; the Python cost per call is ~0.05 ms,
so a loop over samples is cheap next to the orientation averages of
cylinders and ellipsoids (a few ms each).

Reference: sasmodels, https://github.com/SasView/sasmodels (SasView project).
"""

from __future__ import annotations

import os
import shutil

import numpy as np

from quanta.errors import UserError
from quanta.simulators.saxs.shapes import SHAPES, sasmodels_parameters

PD_POINTS = 15  # quadrature points of the size distribution: within 1 % of 35 points at 10 % width
PD_SIGMAS = 3.0  # the distribution is integrated over +-3 widths

_models: dict[str, object] = {}  # shape name -> loaded sasmodels KernelModel (one per process)


def sasmodels_version() -> str:
    """The installed sasmodels version; a one-line error naming the package if it is missing."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sasmodels")
    except PackageNotFoundError:
        raise UserError("saxs: the data source needs the sasmodels package; install it with "
                        "pip install 'sasmodels>=1.1,<2'") from None


def load_model(name: str):
    """The compiled sasmodels model of shape ``name`` (compiled once, then loaded from disk)."""
    if name in _models:
        return _models[name]
    from sasmodels import core, kerneldll

    from quanta.simulators.cache import cache_dir

    if "SAS_DLL_PATH" not in os.environ:
        kerneldll.SAS_DLL_PATH = str(cache_dir() / "sasmodels")
    try:
        model = core.load_model(SHAPES[name].model, dtype="double", platform="dll")
    except (RuntimeError, OSError) as error:
        compiler = os.environ.get("CC", "cc")
        found = "found" if shutil.which(compiler) else "not found"
        raise UserError(f"saxs: sasmodels could not compile model '{SHAPES[name].model}' with the C compiler "
                        f"'{compiler}' ({found}); install gcc or clang, or set $CC "
                        f"({str(error).splitlines()[0]})") from None
    _models[name] = model
    return model


def evaluate(name: str, parameters: np.ndarray, q: np.ndarray, polydispersity: float,
             distribution: str) -> np.ndarray:
    """Unit-volume-fraction, background-free I(q) in cm^-1 of each row of ``parameters``.

    Args:
        name: the shape (a key of :data:`SHAPES`).
        parameters: float64[n, 9] rows in ``PARAMETER_NAMES`` order.
        q: float64[Q] scattering vector magnitudes in 1/A (orientation-averaged model).
        polydispersity: relative width sigma/R of the main-radius distribution (0: monodisperse).
        distribution: ``"schulz"`` or ``"gaussian"``.

    Returns:
        float64[n, Q].
    """
    from sasmodels.direct_model import call_kernel

    kernel = load_model(name).make_kernel([q])
    main = SHAPES[name].main_radius
    dispersity = {f"{main}_pd": polydispersity, f"{main}_pd_n": PD_POINTS if polydispersity > 0 else 0,
                  f"{main}_pd_nsigma": PD_SIGMAS, f"{main}_pd_type": distribution}
    out = np.empty((len(parameters), len(q)))
    try:
        for i, row in enumerate(parameters):
            out[i] = call_kernel(kernel, {**sasmodels_parameters(name, row), **dispersity})
    finally:
        kernel.release()
    return out
