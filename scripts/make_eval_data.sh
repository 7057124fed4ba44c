#!/usr/bin/env bash
# Build the evaluation data the README's results use, on a fresh machine: the held-out test sets
# (data/eval64, data/eval_hdri), the sets for choosing a bundle (data/val64, data/val_hdri), the
# synthetic clip of the temporal table (data/clip) and the photo stage's photos (data/photos).
# Each is built under a temporary name and renamed when complete, and skipped when its folder
# exists. Run from the project root with the venv active; the
# HDRI sets need Blender's studio-light HDRIs (Debian/Ubuntu: apt-get install blender-data), the
# photos the [matte,footage] extras and `relight-video fetch-matte-model`.
#
#   scripts/make_eval_data.sh        # about 4½ minutes on two CPU cores (measured 3 min 30 s
#                                      for the four sets, 47 s for the clip)
set -euo pipefail
HDRIS=/usr/share/blender/datafiles/studiolights/world
if [ ! -f "$HDRIS/city.exr" ]; then
  echo "error: Blender's HDRIs are not in $HDRIS (apt-get install blender-data)" >&2
  exit 1
fi
build() {  # build DIR COMMAND...: run COMMAND with {} standing for a temporary folder beside
  # DIR, then rename it to DIR, so an interrupted run leaves no DIR that looks complete
  local dir=$1 tmp arg
  shift
  if [ -e "$dir" ]; then
    echo "$dir: exists, kept"
    return
  fi
  echo "$dir: building"
  tmp="$(dirname "$dir")/.$(basename "$dir").partial"
  rm -rf "$tmp"
  local cmd=()
  for arg in "$@"; do
    if [ "$arg" = "{}" ]; then cmd+=("$tmp"); else cmd+=("$arg"); fi
  done
  "${cmd[@]}"
  mv "$tmp" "$dir"
}
mkdir -p data
build data/eval64 relight-video synth pairs {} --n 64 --size 128 --seed 20261125 --fractions 1,0,0
build data/eval_hdri relight-video synth pairs {} --n 64 --size 128 --seed 20261126 \
  --fractions 1,0,0 --env-kinds hdri --hdri-split val
build data/val64 relight-video synth pairs {} --n 64 --size 128 --seed 20261207 --fractions 1,0,0
build data/val_hdri relight-video synth pairs {} --n 64 --size 128 --seed 20261208 \
  --fractions 1,0,0 --env-kinds hdri --hdri-split val
build data/clip relight-video synth clip {} --frames 48 --size 128 --seed 7
build data/photos python scripts/make_stage3_photos.py {}
