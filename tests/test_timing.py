"""Picture and sound stay together: variable frame rates, clips that start late, audio tracks,
timecode."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from conftest import write_clip

from relight_video import io
from relight_video.harmonize import harmonize_video


def frame_times(path) -> list[float]:
    with av.open(str(path)) as c:
        return [f.time for f in c.decode(video=0)]


def audio_streams(path) -> list[dict]:
    """Codec, channels and first-packet time (s) of each audio stream."""
    out = []
    with av.open(str(path)) as c:
        for s in c.streams.audio:
            first = next(p for p in c.demux(s) if p.pts is not None)
            out.append(
                {
                    "codec": s.codec_context.codec.canonical_name,
                    "channels": s.codec_context.layout.nb_channels,
                    "start": float(first.pts * first.time_base),
                }
            )
            c.seek(0)
    return out


def run(src, out, tmp_path, background_png):
    harmonize_video(src, background_png, out, engine="classical", key="green", progress=False)
    return out


# a phone clip's hiccups: steady 30 fps, a dropped stretch, a burst, steady again
VFR_TIMES = [i / 30 for i in range(8)] + [0.4 + i / 30 for i in range(6)] + [0.62, 0.64, 0.7]


def test_cfr_clip_has_no_frame_times(clip):
    timing = io.frame_timing(clip, Fraction(24))
    assert timing.times is None and timing.start == pytest.approx(0, abs=1e-3)


def test_variable_frame_rate_keeps_every_frame_time(tmp_path, background_png):
    src = write_clip(tmp_path / "vfr.mp4", n=len(VFR_TIMES), times=VFR_TIMES, fps=Fraction(30))
    timing = io.frame_timing(src, io.probe(src).fps)
    assert timing.times is not None
    np.testing.assert_allclose(timing.times, VFR_TIMES, atol=1e-3)
    out = run(src, tmp_path / "out.mp4", tmp_path, background_png)
    got = frame_times(out)
    # renumbering at the average rate would put frame 8 at ~0.37 s instead of 0.4 s
    np.testing.assert_allclose(got, VFR_TIMES, atol=1e-3)
    assert audio_streams(out)[0]["start"] == pytest.approx(0, abs=0.03)


def test_late_starting_clip_keeps_audio_with_the_first_frame(tmp_path, background_png):
    # camcorder and broadcast files (MPEG-TS, MXF) start their clock late, sound and picture
    src = write_clip(tmp_path / "cam.mkv", n=24, start=1.5)
    with av.open(str(src)) as c:
        video_start = float(c.streams.video[0].start_time * c.streams.video[0].time_base)
    assert video_start > 1.0
    (audio_in,) = audio_streams(src)
    lead = audio_in["start"] - video_start  # the source's own audio/video offset
    out = run(src, tmp_path / "out.mp4", tmp_path, background_png)
    assert frame_times(out)[0] == pytest.approx(0, abs=1e-3)
    (audio_out,) = audio_streams(out)
    assert audio_out["start"] == pytest.approx(max(lead, 0), abs=0.03), (lead, audio_out)


def test_late_starting_clip_to_png_folder_shifts_the_audio_sidecar(tmp_path, background_png):
    src = write_clip(tmp_path / "cam.mkv", n=12, start=1.5)
    out = run(src, tmp_path / "frames", tmp_path, background_png)
    (audio_out,) = audio_streams(out / "audio.mka")
    assert audio_out["start"] < 0.1, audio_out


@pytest.mark.parametrize(
    "source, codec, layout, output, want_codec, want_channels",
    [
        ("mp3.mkv", "libmp3lame", "stereo", "o.mp4", "mp3", 2),  # copied, not re-encoded
        ("be.mov", "pcm_s16be", "mono", "o.mov", "pcm_s16be", 1),  # copied into ProRes
        ("surround.mkv", "pcm_s16le", "5.1", "o.mp4", "aac", 6),  # re-encoded, still 5.1
    ],
)
def test_audio_codecs_and_layouts_survive(
    tmp_path, background_png, source, codec, layout, output, want_codec, want_channels
):
    src = write_clip(tmp_path / source, n=12, audio_codec=codec, layout=layout)
    out = run(src, tmp_path / output, tmp_path, background_png)
    (audio,) = audio_streams(out)
    assert (audio["codec"], audio["channels"]) == (want_codec, want_channels)


def test_every_audio_track_is_kept(tmp_path, background_png):
    src = write_clip(tmp_path / "two.mov", n=12, audio_tracks=2)
    out = run(src, tmp_path / "o.mp4", tmp_path, background_png)
    assert [a["codec"] for a in audio_streams(out)] == ["aac", "aac"]


@pytest.mark.parametrize("suffix", [".mov", ".mp4"])
def test_source_timecode_is_kept(tmp_path, background_png, suffix):
    """Editors conform a relit shot back into the cut by its timecode."""
    src = write_clip(tmp_path / f"a{suffix}", n=6, timecode="01:00:10:05")
    assert io.probe(src).timecode == "01:00:10:05"
    out = run(src, tmp_path / f"out{suffix}", tmp_path, background_png)
    assert io.probe(out).timecode == "01:00:10:05"
    plain = run(write_clip(tmp_path / "b.mp4", n=6), tmp_path / "o2.mp4", tmp_path, background_png)
    assert io.probe(plain).timecode is None


def test_field_packets_are_not_taken_for_variable_frame_times(tmp_path):
    """Broadcast streams can carry one field per packet: two packet times per frame, which read
    as frame times would play the clip at double speed."""
    src = write_clip(tmp_path / "fields.mkv", n=12, times=[i / 48 for i in range(12)])
    assert io.frame_timing(src, Fraction(24)).times is None
