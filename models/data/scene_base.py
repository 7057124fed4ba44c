"""What an environment scene provides, and the small bright sources (sun, bulbs) it may hold.

A scene returns linear radiance for unit directions seen from the subject's position
(:meth:`EnvScene.radiance`). Sources whose angular size can be below a map pixel (the sun is
0.27° in radius) are kept apart as :class:`Source` objects: they are added to equirectangular
maps by energy-exact splatting (:func:`models.data.envmaps.to_equirect`) and drawn as
anti-aliased discs in perspective views (:func:`draw_sources`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Source:
    """A disc-shaped emitter seen from the origin.

    ``direction`` ``(3,)`` unit vector towards it; ``irradiance`` ``(3,)`` linear RGB it
    delivers at normal incidence (W/m² in scene units); ``radius`` its angular radius (rad).
    """

    direction: tuple[float, float, float]
    irradiance: tuple[float, float, float]
    radius: float


class EnvScene(Protocol):
    kind: str

    def radiance(self, d: np.ndarray, pix: float = 0.0) -> np.ndarray:
        """Linear radiance ``(N, 3)`` float32 for unit directions ``d (N, 3)``, without the
        :meth:`sources`; ``pix`` is the angular size of the pixel (rad) a direction stands for,
        used to filter fine textures."""
        ...

    def sources(self) -> list[Source]: ...

    def describe(self) -> dict: ...


def draw_sources(d: np.ndarray, sources: list[Source], pix: float) -> np.ndarray:
    """Radiance ``(N, 3)`` of the source discs along directions ``d (N, 3)``, each disc of
    uniform radiance ``E / (π r²)`` with a one-pixel anti-aliased edge (``pix`` rad)."""
    out = np.zeros((d.shape[0], 3), np.float32)
    for s in sources:
        r = max(s.radius, 1e-4)
        ang = np.arccos(np.clip(d @ np.asarray(s.direction, np.float32), -1.0, 1.0))
        cover = np.clip((r - ang) / max(pix, 1e-6) + 0.5, 0.0, 1.0)
        if pix > r:  # the disc is smaller than a pixel: spread it, keeping its energy
            cover = cover * (r / pix) ** 2
        out += cover[:, None] * (np.asarray(s.irradiance, np.float32) / (np.pi * r * r))
    return out
