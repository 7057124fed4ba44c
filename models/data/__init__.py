"""The virtual light stage: procedural subjects rendered one-light-at-a-time (OLAT), procedural
and captured HDR environment maps, backgrounds that are views of the same environment, and the
paired data (composite → relit target) built from them.

Conventions shared by every module here (same as :mod:`relight_video.lighting`): directions use
x = right, y = up, z = towards the camera; the camera looks along −z. A light direction points
from the surface towards the light. Equirectangular maps are ``(H, 2H, 3)`` float32 linear
radiance, row 0 = straight up, the centre column = −z (what the camera sees behind the subject),
the left/right edges (the seam) = +z (behind the camera, the light that falls on the subject's
front); the column index grows to the right as seen by the camera. See :mod:`models.data.sphere`.
"""
