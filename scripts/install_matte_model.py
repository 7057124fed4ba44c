"""Install the person-matte model (MediaPipe Selfie Segmentation, Apache-2.0) for ``--matte person``.

Runs ``pip download mediapipe==0.10.21 --no-deps`` into a temporary folder (or takes a wheel you
already have), keeps only ``selfie_segmentation.tflite``, its landscape variant and the licence,
checks their SHA-256 and writes them to ``$XDG_DATA_HOME/relight-video`` (default
``~/.local/share/relight-video``)::

    python scripts/install_matte_model.py
    python scripts/install_matte_model.py --wheel mediapipe-0.10.21-cp311-...whl --dest DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from relight_video.errors import InputError
from relight_video.person_matte import install_model, user_model_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=None, help=f"default: {user_model_dir()}")
    parser.add_argument("--wheel", type=Path, default=None, help="a downloaded mediapipe wheel")
    args = parser.parse_args(argv)
    try:
        path = install_model(dest_dir=args.dest, wheel=args.wheel)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
