"""relight-video: lighting-aware harmonization of filmed subjects into new backgrounds.

Nothing heavy is imported here; see ``relight_video.harmonize`` for the Python API.
"""

__version__ = "0.1.0"
