"""Picture and sound stay together: variable frame rates, clips that start late, audio tracks,
timecode."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from conftest import mux_video, synthetic_greenscreen, write_clip

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
    info = io.probe(clip)
    assert info.frame_times is None and info.start == pytest.approx(0, abs=1e-3)


def test_variable_frame_rate_keeps_every_frame_time(tmp_path, background_png):
    src = write_clip(tmp_path / "vfr.mp4", n=len(VFR_TIMES), times=VFR_TIMES, fps=Fraction(30))
    times = io.probe(src).frame_times
    assert times is not None
    np.testing.assert_allclose(times, VFR_TIMES, atol=1e-3)
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
        ("side.mov", "pcm_s16le", "5.1(side)", "o.mp4", "aac", 6),
        ("cinema.mov", "pcm_s16le", "7.1", "o.mp4", "aac", 6),  # 7.1 → 5.1, not stereo
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


def test_interlaced_stream_is_never_variable_rate(tmp_path):
    """Broadcast streams can carry one field per packet: two packet times per frame, which read
    as frame times would play the clip at double speed."""
    from test_io import interlaced_clip

    assert io.probe(interlaced_clip(tmp_path / "i.mp4")).frame_times is None


# ----------------------------------------------------------------------------- a beep to sync to


def beep_clip(path, *, n=48, fps=24, beep_at=1.0, audio_codec="aac", audio_start=0.0):
    """``n`` frames (a keyframe every 12, no B-frames) and a mono track that is silent but for
    a 0.1 s 1 kHz beep at ``beep_at`` s on the video's clock; the track starts ``audio_start``
    s after the first frame."""
    frames = [synthetic_greenscreen(64, 48, i / 5)[0] for i in range(n)]
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        vs.options = {"x264-params": "keyint=12:min-keyint=12:scenecut=0:bframes=0"}
        aus = c.add_stream(audio_codec, rate=48000)
        aus.layout = "mono"
        first, total = round(audio_start * 48000), round(48000 * n / fps)
        x = np.zeros(total, np.float32)
        b = round(beep_at * 48000)
        x[b : b + 4800] = 0.5 * np.sin(np.arange(4800) / 48000 * 2 * np.pi * 1000)
        to_codec = av.AudioResampler(format=aus.format.name, layout="mono", rate=48000)
        for k in range(first, total, 1024):
            af = av.AudioFrame.from_ndarray(
                x[None, k : k + 1024].copy(), format="fltp", layout="mono"
            )
            af.sample_rate, af.pts = 48000, k
            for rf in to_codec.resample(af):
                for p in aus.encode(rf):
                    c.mux(p)
        for p in aus.encode(None):
            c.mux(p)
        mux_video(c, vs, [av.VideoFrame.from_ndarray(f, format="rgb24") for f in frames])
    return path


def beep_delay(path) -> float:
    """When the beep sounds, in seconds after the first frame that is shown."""
    with av.open(str(path)) as c:
        shown = next(c.decode(video=0)).time
    with av.open(str(path)) as c:
        for f in c.decode(audio=0):
            x = np.abs(f.to_ndarray().astype(np.float64)).max(0)
            loud = np.flatnonzero(x > (0.05 if x.max() <= 1.5 else 1500))
            if len(loud):
                return f.time + loud[0] / f.sample_rate - shown
    raise AssertionError(f"no beep in {path}")


def remux(src, dst, *, drop_video_packets=0, shift=0.0):
    """Copy ``src`` to ``dst`` without re-encoding: drop the first video packets (a cut that
    does not start on a keyframe) and the audio before them, or shift every timestamp ``shift``
    s earlier (MP4 then hides the frames before 0 behind an edit list)."""
    cut_at = drop_video_packets / 24
    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        out = {s.index: o.add_stream_from_template(s) for s in i.streams}
        seen = 0
        for p in i.demux():
            if p.dts is None:
                continue
            if p.stream.type == "video":
                seen += 1
                if seen <= drop_video_packets:
                    continue
            elif float(p.pts * p.time_base) < cut_at:
                continue
            if shift:
                step = round(shift / p.time_base)
                p.pts, p.dts = p.pts - step, p.dts - step
            p.stream = out[p.stream.index]
            o.mux(p)
    return dst


def test_reencoded_audio_keeps_its_offset(tmp_path, background_png):
    # PCM in MOV, starting 0.5 s after the picture; MP4 cannot hold PCM, so it is re-encoded
    src = beep_clip(tmp_path / "a.mov", audio_codec="pcm_s16le", audio_start=0.5)
    assert beep_delay(src) == pytest.approx(1.0, abs=0.005)
    out = run(src, tmp_path / "out.mp4", tmp_path, background_png)
    assert audio_streams(out)[0]["codec"] == "aac"
    assert beep_delay(out) == pytest.approx(1.0, abs=0.01)


def test_clip_cut_before_a_keyframe_stays_in_sync(tmp_path, background_png):
    # cut at packet 5: frames 5-11 cannot be decoded, the first shown is frame 12 (0.5 s)
    src = remux(beep_clip(tmp_path / "b.mkv"), tmp_path / "cut.mkv", drop_video_packets=5)
    info = io.probe(src)
    assert info.num_frames == 36 == len(list(io.read_frames(src)))
    assert beep_delay(src) == pytest.approx(0.5, abs=0.01)
    out = run(src, tmp_path / "out.mp4", tmp_path, background_png)
    assert io.probe(out).num_frames == 36
    assert beep_delay(out) == pytest.approx(0.5, abs=0.01)


def test_edit_list_trimmed_clip_counts_the_frames_it_shows(tmp_path, background_png):
    src = remux(beep_clip(tmp_path / "b.mkv"), tmp_path / "trimmed.mp4", shift=0.5)
    assert io.probe(src).num_frames == 36 == len(list(io.read_frames(src)))
    out = run(src, tmp_path / "out.mp4", tmp_path, background_png)
    assert io.probe(out).num_frames == 36
    assert beep_delay(out) == pytest.approx(0.5, abs=0.01)


def test_low_light_phone_clip_keeps_its_frame_times(tmp_path, background_png):
    # 30 fps, then 8 fps once the light drops: most gaps are short, the average rate is low
    times = [i / 30 for i in range(24)] + [0.8 + (k + 1) / 8 for k in range(8)]
    src = write_clip(tmp_path / "low.mp4", n=len(times), times=times, fps=Fraction(30))
    assert io.probe(src).frame_times is not None
    out = run(src, tmp_path / "out.mp4", tmp_path, background_png)
    np.testing.assert_allclose(frame_times(out), times, atol=1e-3)
