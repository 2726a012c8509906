"""Simulators: the built-in physics sources (and one bundled data set).

Each package or module here is one source, registered lazily by import path in
:data:`quanta.data.SOURCES` and created with ``quanta.data.load(name, **params)``:
``jets``, ``calorimeter``, ``pulses``, ``saxs``, ``tracks``, ``hzz``,
``sequences``, ``energy_calibration``, ``dynamics`` and ``digits``
(scikit-learn's handwritten digits). By convention a
source module also defines ``show(data)`` for ``quanta datasets show``.

Shared helpers used only by simulators: :mod:`~quanta.simulators.parallel`
(chunked generation on worker processes), :mod:`~quanta.simulators.progress`
(its progress display) and :mod:`~quanta.simulators.cache` (on-disk cache of
generated data). Imports point one way: simulators import from
:mod:`quanta.data` (``Dataset``), never the reverse.
"""
