"""The detector: a steel/scintillator sampling calorimeter and its effective material constants.

Each sampling layer is ``ABSORBER_CM`` of iron followed by ``ACTIVE_CM`` of
plastic scintillator (polystyrene), read out in square tiles (cells); the
layers are stacked along the beam (z) and the particle enters at normal
incidence near the centre of the front face. Iron is the absorber of most
hadron calorimeters (CALICE AHCAL, CMS HCAL, ATLAS TileCal): its radiation
length is short enough to contain electromagnetic showers in ~30 layers and
its interaction length short enough that the same stack is ~4.7 interaction
lengths deep, so pion showers are mostly contained too.

Material constants are from the Particle Data Group's tables of atomic and
nuclear properties; the effective constants of the layered mixture follow
Grindhammer & Peters (hep-ex/0001020, section 3): mass-fraction weights
``w_i = d_i rho_i / sum(d rho)``, ``1/X0 = sum(w_i / X0_i)``,
``1/R_M = sum(w_i E_c,i / X0_i) / E_s`` and ``E_c = X0 sum(w_i E_c,i / X0_i)``
(all in g/cm^2), ``F_S = X0_eff / (d_absorber + d_active)`` and the
electron-to-mip response ratio ``e/mip = 1 / (1 + 0.007 (Z_absorber - Z_active))``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

ABSORBER_CM = 2.5  # iron per layer
ACTIVE_CM = 0.5  # scintillator per layer
FACE_CM = 48.0  # width of the square front face (the images span it)
SCALE_ENERGY_MEV = 21.2  # E_s = m_e c^2 sqrt(4 pi / alpha), the multiple-scattering energy


@dataclass(frozen=True)
class Material:
    """A pure material's constants (PDG): density g/cm^3, X0 and lambda_I in g/cm^2, E_c in MeV."""

    name: str
    z: float  # (effective) atomic number
    density: float
    radiation_length: float
    interaction_length: float
    critical_energy: float  # for electrons, Rossi's definition as tabulated by the PDG
    mip_dedx: float  # minimum ionisation, MeV cm^2/g


IRON = Material("iron", 26.0, 7.874, 13.84, 132.1, 21.68, 1.451)
# mass-weighted Z of C8H8; the PDG's polystyrene scintillator
POLYSTYRENE = Material("polystyrene", 5.6, 1.060, 43.79, 81.7, 93.11, 1.936)


@dataclass(frozen=True)
class Calorimeter:
    """A stack of ``layers`` identical absorber + active layers, read out in ``pixels x pixels`` cells.

    Lengths in cm, energies in GeV unless a name says otherwise.
    """

    layers: int = 30
    pixels: int = 32
    absorber: Material = IRON
    active: Material = POLYSTYRENE
    absorber_cm: float = ABSORBER_CM
    active_cm: float = ACTIVE_CM
    face_cm: float = FACE_CM

    # -- the layered mixture -------------------------------------------------
    @property
    def layer_cm(self) -> float:
        return self.absorber_cm + self.active_cm

    @property
    def depth_cm(self) -> float:
        return self.layers * self.layer_cm

    @property
    def cell_cm(self) -> float:
        return self.face_cm / self.pixels

    @cached_property
    def _weights(self) -> tuple[float, float]:
        grams = (self.absorber_cm * self.absorber.density, self.active_cm * self.active.density)
        return grams[0] / sum(grams), grams[1] / sum(grams)

    @property
    def density(self) -> float:
        """Mean density of a layer, g/cm^3."""
        return (self.absorber_cm * self.absorber.density + self.active_cm * self.active.density) / self.layer_cm

    @property
    def z_eff(self) -> float:
        w1, w2 = self._weights
        return w1 * self.absorber.z + w2 * self.active.z

    @property
    def radiation_length_cm(self) -> float:
        """Effective radiation length X0 of the mixture (2.09 cm for the default stack)."""
        w1, w2 = self._weights
        grams = 1.0 / (w1 / self.absorber.radiation_length + w2 / self.active.radiation_length)
        return grams / self.density

    @property
    def interaction_length_cm(self) -> float:
        """Effective nuclear interaction length lambda_I (19.2 cm for the default stack)."""
        return self.layer_cm / (self.absorber_cm * self.absorber.density / self.absorber.interaction_length
                                + self.active_cm * self.active.density / self.active.interaction_length)

    @property
    def _ec_over_x0(self) -> float:
        w1, w2 = self._weights
        return (w1 * self.absorber.critical_energy / self.absorber.radiation_length
                + w2 * self.active.critical_energy / self.active.radiation_length)

    @property
    def moliere_radius_cm(self) -> float:
        """Effective Moliere radius R_M (1.99 cm for the default stack)."""
        return SCALE_ENERGY_MEV / self._ec_over_x0 / self.density

    @property
    def critical_energy(self) -> float:
        """Effective critical energy E_c in GeV (0.0223 for the default stack)."""
        return self.radiation_length_cm * self.density * self._ec_over_x0 / 1000.0

    @property
    def sampling_frequency(self) -> float:
        """GFlash's F_S = X0_eff / layer thickness (0.70: a layer is 1.44 X0)."""
        return self.radiation_length_cm / self.layer_cm

    @property
    def e_over_mip(self) -> float:
        """Response to electrons relative to minimum-ionising particles (0.875)."""
        return 1.0 / (1.0 + 0.007 * (self.absorber.z - self.active.z))

    @property
    def mip_loss(self) -> float:
        """Energy a minimum-ionising particle loses crossing one layer, GeV (0.030)."""
        return (self.absorber_cm * self.absorber.density * self.absorber.mip_dedx
                + self.active_cm * self.active.density * self.active.mip_dedx) / 1000.0

    @property
    def mip(self) -> float:
        """Signal of a minimum-ionising particle in one cell, GeV at the electromagnetic scale (0.034).

        Cells are calibrated so that an electron's signals sum to its energy;
        a MIP deposits relatively more in the scintillator than a shower
        does (e/mip < 1), so its signal is its loss divided by e/mip.
        """
        return self.mip_loss / self.e_over_mip

    # -- cells ---------------------------------------------------------------
    def layer_edges_cm(self):
        """Depths of the layer boundaries, ``float64[layers + 1]``."""
        import numpy as np

        return np.arange(self.layers + 1) * self.layer_cm
