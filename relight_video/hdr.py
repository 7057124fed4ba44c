"""HDR footage (phones record HLG by default) → the SDR BT.709 frames the pipeline works in.

Decoding a BT.2100 clip as if it were SDR shows its signal with the wrong curve and primaries:
flat, washed-out and desaturated. Frames are instead converted through display light:

1. signal → display luminance: HLG's inverse OETF and its OOTF at a 1000 cd/m² nominal peak
   (system gamma 1.2), or PQ's EOTF (absolute cd/m²); ITU-R BT.2100-2, Table 5 and Table 4;
2. HDR reference white (203 cd/m², ITU-R BT.2408-7) becomes SDR white (1.0);
3. BT.2020 primaries → BT.709 (the matrix of ITU-R BT.2087-0 for linear light);
4. highlights above ``KNEE`` roll off (Reinhard) towards 1 on luminance, so skies and lamps
   keep some gradation instead of clipping, and hues are kept;
5. the BT.1886 display curve inverted (gamma 2.4), as SDR BT.709 video is shown.
"""

from __future__ import annotations

import functools

import numpy as np

# HLG (BT.2100): inverse OETF constants
_A, _B, _C = 0.17883277, 0.28466892, 0.55991073
HLG_PEAK = 1000.0  # cd/m², the nominal display the HLG OOTF is evaluated for
HLG_GAMMA = 1.2  # system gamma at 1000 cd/m²
# PQ (SMPTE ST 2084 / BT.2100)
_M1, _M2 = 2610 / 16384, 2523 / 4096 * 128
_C1, _C2, _C3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
REFERENCE_WHITE = 203.0  # cd/m², HDR reference (diffuse) white → SDR 1.0
KNEE = 0.8  # SDR-relative luminance above which highlights are compressed
BT2020_TO_BT709 = np.array(
    [[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]],
    np.float32,
)
_LUMA_2020 = np.array([0.2627, 0.6780, 0.0593], np.float32)
_LUMA_709 = np.array([0.2126, 0.7152, 0.0722], np.float32)

TRANSFERS = {16: "pq", 18: "hlg"}  # AVCOL_TRC_SMPTE2084, AVCOL_TRC_ARIB_STD_B67


def hlg_inverse_oetf(signal: np.ndarray) -> np.ndarray:
    """HLG signal E' in [0, 1] → normalised scene light E in [0, 1]."""
    e = np.asarray(signal, np.float32)
    low = e * e / 3.0
    high = (np.exp((np.maximum(e, 0.5) - _C) / _A) + _B) / 12.0
    return np.where(e <= 0.5, low, high).astype(np.float32)


def pq_eotf(signal: np.ndarray) -> np.ndarray:
    """PQ signal in [0, 1] → display luminance in cd/m² (0 … 10000)."""
    p = np.power(np.clip(np.asarray(signal, np.float32), 0, 1), 1 / _M2)
    return 10000.0 * np.power(np.maximum(p - _C1, 0) / (_C2 - _C3 * p), 1 / _M1)


def _rolloff(y: np.ndarray) -> np.ndarray:
    """Identity up to ``KNEE``, then a Reinhard curve towards 1 (slope 1 at the knee): 2x
    reference white (406 cd/m²) → 0.97, 1000 cd/m² → 0.99, never quite 1."""
    span = 1.0 - KNEE
    t = np.maximum(y - KNEE, 0) / span
    return np.where(y <= KNEE, y, KNEE + span * t / (1 + t))


@functools.lru_cache(maxsize=4)
def _signal_lut(transfer: str) -> np.ndarray:
    """16-bit code → HLG scene light E (0..1), or PQ display light relative to reference white."""
    codes = np.arange(65536, dtype=np.float32) / 65535.0
    if transfer == "hlg":
        return hlg_inverse_oetf(codes)
    return (pq_eotf(codes) / REFERENCE_WHITE).astype(np.float32)


ENCODE_STEPS = 4096  # linear SDR light quantised this finely before the display curve (LUT)
_ENCODE_LUT = (np.power(np.arange(ENCODE_STEPS) / (ENCODE_STEPS - 1), 1 / 2.4) * 255 + 0.5).astype(
    np.uint8
)


def to_sdr(rgb: np.ndarray, transfer: str) -> np.ndarray:
    """``(H, W, 3)`` BT.2020 non-linear R'G'B' (uint16 full scale, or float in [0, 1]) with an
    ``hlg`` or ``pq`` signal → ``(H, W, 3) uint8`` SDR BT.709. Tables and OpenCV's 3x3
    transforms keep it to ~40 ms per 1080p frame on one core."""
    import cv2

    if transfer not in ("hlg", "pq"):
        raise ValueError(f"unknown HDR transfer {transfer!r} (hlg, pq)")
    if rgb.dtype == np.uint16:
        lin = _signal_lut(transfer)[rgb]
    else:
        e = np.asarray(rgb, np.float32)
        lin = hlg_inverse_oetf(e) if transfer == "hlg" else pq_eotf(e) / REFERENCE_WHITE
    lin = np.ascontiguousarray(lin, np.float32)
    if transfer == "hlg":  # OOTF: display light = peak · Y_s^(γ-1) · E, then / reference white
        ys = np.maximum(cv2.transform(lin, _LUMA_2020[None]), 1e-12)
        gain = cv2.pow(ys, HLG_GAMMA - 1.0) * np.float32(HLG_PEAK / REFERENCE_WHITE)
        lin *= gain[..., None]
    lin = cv2.transform(lin, BT2020_TO_BT709)
    np.maximum(lin, 0, out=lin)
    y = cv2.transform(lin, _LUMA_709[None])
    bright = y > KNEE  # usually a small part of the frame
    if bright.any():
        lin[bright] *= (_rolloff(y[bright]) / y[bright])[:, None]
    lin *= ENCODE_STEPS - 1
    lin += 0.5
    np.clip(lin, 0, ENCODE_STEPS - 1, out=lin)
    index = lin.astype(np.uint16)
    return _ENCODE_LUT[index]
