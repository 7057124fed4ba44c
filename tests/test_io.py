from fractions import Fraction

import numpy as np
import pytest
from conftest import leftovers, mux_video, write_clip

from relight_video import io
from relight_video.errors import InputError


def _audio_seconds(path) -> float:
    import av

    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        total = sum(p.duration or 0 for p in c.demux(s) if p.dts is not None)
        return float(total * s.time_base)


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv"])
def test_round_trip_keeps_frames_fps_size_audio(tmp_path, suffix):
    src = write_clip(tmp_path / "src.mp4", n=15, size=(64, 48), fps=Fraction(30000, 1001))
    info = io.probe(src)
    out = tmp_path / f"out{suffix}"
    with io.VideoWriter(out, info.fps, info.width, info.height, audio_from=src) as w:
        for frame in io.read_frames(src):
            w.write(frame)
    got = io.probe(out)
    assert (got.width, got.height, got.num_frames) == (64, 48, 15)
    assert got.fps == Fraction(30000, 1001)
    assert got.has_audio
    assert abs(_audio_seconds(out) - _audio_seconds(src)) < 0.05
    frames = list(io.read_frames(out))
    assert len(frames) == 15
    # lossy but close: the first frame survives the round trip
    first = next(io.read_frames(src))
    assert np.abs(frames[0].astype(int) - first.astype(int)).mean() < 6
    assert leftovers(tmp_path) == []


def test_decord_and_pyav_agree(clip):
    pytest.importorskip("decord")
    a = list(io.read_frames(clip, backend="decord"))
    b = list(io.read_frames(clip, backend="pyav"))
    assert len(a) == len(b) == io.probe(clip).num_frames
    assert np.abs(a[3].astype(int) - b[3].astype(int)).mean() < 2


def test_prores_4444_alpha_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (40, 56, 4), dtype=np.uint8)
    rgba[..., 3] = np.linspace(0, 255, 56, dtype=np.uint8)[None, :]
    out = tmp_path / "fg.mov"
    with io.VideoWriter(out, 25, 56, 40, alpha=True) as w:
        for _ in range(6):
            w.write(rgba)
    info = io.probe(out)
    assert info.has_alpha and info.num_frames == 6
    # every frame: a threaded prores_ks encode once corrupted alpha rows at random
    for back in io.read_frames(out, alpha=True):
        assert back.shape == (40, 56, 4)
        assert np.abs(back[..., 3].astype(int) - rgba[..., 3]).max() <= 1  # 10-bit alpha
        assert np.abs(back[..., :3].astype(int) - rgba[..., :3]).mean() < 3


def test_png_sequence_output_with_audio_sidecar(tmp_path, clip):
    info = io.probe(clip)
    out = tmp_path / "seq"
    with io.VideoWriter(out, info.fps, info.width, info.height, audio_from=clip) as w:
        for frame in io.read_frames(clip):
            w.write(frame)
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == info.num_frames
    assert io.read_image(pngs[0]).shape == (info.height, info.width, 3)
    assert abs(_audio_seconds(out / "audio.mka") - _audio_seconds(clip)) < 0.05


def _write_seq(path, clip, n=None):
    info = io.probe(clip)
    with io.VideoWriter(path, info.fps, info.width, info.height, audio_from=clip) as w:
        for i, frame in enumerate(io.read_frames(clip)):
            if n is not None and i == n:
                break
            w.write(frame)


def test_frame_pattern_adds_frames_beside_other_files(tmp_path, clip):
    """``shots/relit_%04d.png`` into a folder that holds the source and notes: only the
    pattern's frames (and its audio sidecar) are written; a shorter re-render leaves none of
    the old frames behind; nothing else in the folder is touched."""
    shots = tmp_path / "shots"
    shots.mkdir()
    (shots / "notes.txt").write_text("keep me")
    (shots / "plate_0001.png").write_bytes(b"not ours")
    _write_seq(shots / "relit_%04d.png", clip)
    n = io.probe(clip).num_frames
    assert len(list(shots.glob("relit_*.png"))) == n and (shots / "relit_audio.mka").is_file()
    _write_seq(shots / "relit_%04d.png", clip, n=3)
    assert sorted(p.name for p in shots.glob("relit_*.png")) == [
        f"relit_{i:04d}.png" for i in range(3)
    ]
    assert (shots / "notes.txt").read_text() == "keep me"
    assert (shots / "plate_0001.png").read_bytes() == b"not ours"
    assert leftovers(tmp_path) == []


def test_folder_output_never_replaces_a_folder_of_other_files(tmp_path, clip):
    out = tmp_path / "renders"
    out.mkdir()
    (out / "edit.mov").write_bytes(b"footage")
    with pytest.raises(InputError, match="holds other files"):
        _write_seq(out, clip)
    assert (out / "edit.mov").read_bytes() == b"footage"
    # a previous render of this tool is replaced
    _write_seq(tmp_path / "seq", clip)
    _write_seq(tmp_path / "seq", clip, n=2)
    assert sorted(p.name for p in (tmp_path / "seq").iterdir()) == [
        "000000.png",
        "000001.png",
        "audio.mka",
    ]


def test_odd_size_is_padded_to_even(tmp_path):
    out = tmp_path / "odd.mp4"
    with io.VideoWriter(out, 24, 33, 21) as w:
        for _ in range(2):
            w.write(np.full((21, 33, 3), 90, np.uint8))
    info = io.probe(out)
    assert (info.width, info.height) == (34, 22)
    assert info.num_frames == 2


def test_writer_exception_leaves_nothing(tmp_path):
    out = tmp_path / "x.mp4"
    with pytest.raises(RuntimeError), io.VideoWriter(out, 24, 32, 32) as w:
        w.write(np.zeros((32, 32, 3), np.uint8))
        raise RuntimeError("boom")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "content,message",
    [(None, "file not found"), (b"", "empty file"), (b"\x00garbage" * 100, "cannot read video")],
)
def test_probe_bad_files(tmp_path, content, message):
    path = tmp_path / "bad.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        io.probe(path)


def test_missing_output_folder(tmp_path):
    with pytest.raises(InputError, match="output folder does not exist"):
        io.VideoWriter(tmp_path / "nope" / "x.mp4", 24, 32, 32)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_display_rotation_is_applied_on_decode(tmp_path, rotation):
    """Phone clips store frames sideways plus a display rotation: frames come out upright."""
    import cv2

    coded = np.zeros((48, 64, 3), np.uint8)
    coded[:16, :24] = 255  # a white block in the coded frame's top-left corner
    path = write_clip(tmp_path / "phone.mp4", [coded] * 3, audio=False, rotation=rotation)
    info = io.probe(path)
    assert info.rotation == rotation
    assert (info.width, info.height) == ((48, 64) if rotation % 180 else (64, 48))
    code = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}
    want = cv2.rotate(coded, code[rotation])
    for frame in io.read_frames(path):
        assert frame.shape == (info.height, info.width, 3)
        white = frame.mean(2) > 128
        assert (white == (want.mean(2) > 128)).mean() > 0.98  # the block sits where it shows


def test_unrotated_clip_has_rotation_zero(clip):
    assert io.probe(clip).rotation == 0


def test_image_sequence_is_read_in_frame_order_and_sizes_are_checked(tmp_path):
    """Unpadded numbers (``f2`` before ``f10``) are frame order; a frame of another size is
    one clear error, not a crash later on."""
    seq = tmp_path / "seq"
    seq.mkdir()
    for i in range(12):
        io.write_image(seq / f"f{i}.png", np.full((8, 10, 3), i * 20, np.uint8))
    assert [int(f[0, 0, 0]) // 20 for f in io.read_frames(seq)] == list(range(12))
    io.write_image(seq / "f12.png", np.zeros((9, 10, 3), np.uint8))
    with pytest.raises(InputError, match="is 10x9, the sequence's first frame 10x8"):
        list(io.read_frames(seq))


def test_jpeg_exif_orientation_is_applied(tmp_path):
    """A phone photo stored landscape with EXIF orientation 6 (rotate 90° clockwise) reads
    upright, the way viewers show it."""
    from PIL import Image

    stored = np.zeros((40, 60, 3), np.uint8)
    stored[:10, :10] = 255  # top-left of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "photo.jpg", exif=exif, quality=95)
    img = io.read_image(tmp_path / "photo.jpg")
    assert img.shape == (60, 40, 3)
    assert img[:10, -10:].mean() > 200 and img[:10, :10].mean() < 50  # now top-right


def test_rgba_mask_with_opaque_alpha_uses_its_luma():
    from relight_video.matte import alpha_from_image

    mask = np.zeros((4, 4, 4), np.uint8)
    mask[..., 3] = 255
    mask[:2, :, :3] = 255  # white-on-black, saved with an opaque alpha channel
    assert alpha_from_image(mask)[:2].min() == 1.0 and alpha_from_image(mask)[2:].max() == 0.0
    mask[..., 3] = 0
    mask[:, :2, 3] = 255  # a real alpha channel wins
    assert alpha_from_image(mask)[:, :2].min() == 1.0 and alpha_from_image(mask)[:, 2:].max() == 0


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_output_is_bt709_tagged_and_reads_back_true(tmp_path, suffix):
    """H.264 outputs carry BT.709 tags (what players assume for HD) and are encoded with that
    matrix, so a saturated colour comes back as written, not shifted by a 601/709 mix-up."""
    import av

    colour = np.zeros((64, 64, 3), np.uint8)
    colour[...] = (200, 60, 40)
    out = tmp_path / f"c{suffix}"
    with io.VideoWriter(out, 24, 64, 64) as w:
        for _ in range(3):
            w.write(colour)
    with av.open(str(out)) as c:
        frame = next(c.decode(video=0))
        assert int(frame.colorspace) == 1 and int(frame.color_range) == 1  # BT.709, video range
        # read the way a player does for tagged 709: explicit 709 matrix
        rgb = frame.reformat(format="rgb24", src_colorspace=1).to_ndarray()
    assert np.abs(rgb[32, 32].astype(int) - (200, 60, 40)).max() <= 3
    assert np.abs(next(io.read_frames(out))[32, 32].astype(int) - (200, 60, 40)).max() <= 3


def test_prores_output_is_tagged_with_the_matrix_it_was_encoded_with(tmp_path):
    """ProRes is encoded with FFmpeg's BT.601 matrix; untagged, HD players would assume 709."""
    import av

    colour = np.zeros((64, 64, 4), np.uint8)
    colour[...] = (200, 60, 40, 255)
    out = tmp_path / "c.mov"
    with io.VideoWriter(out, 24, 64, 64, alpha=True) as w:
        for _ in range(3):
            w.write(colour)
    with av.open(str(out)) as c:
        cc = c.streams.video[0].codec_context
        assert int(cc.colorspace) in (5, 6) and int(cc.color_range) == 1  # BT.601, video range
        assert int(cc.color_primaries) == 1 and int(cc.color_trc) == 1  # sRGB's: BT.709
        frame = next(c.decode(video=0))
        rgb = frame.reformat(format="rgba", src_colorspace=int(cc.colorspace)).to_ndarray()
    assert np.abs(rgb[32, 32].astype(int) - (200, 60, 40, 255)).max() <= 2


def test_webm_vp9_alpha_is_read(tmp_path):
    """VP9 WebM (browser / After Effects exports) stores alpha beside the picture; FFmpeg's
    own VP9 decoder drops it, libvpx's keeps it."""
    import av

    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[..., 1] = 200
    rgba[10:30, 10:40, 3] = 255
    path = tmp_path / "a.webm"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libvpx-vp9", rate=24)
        s.width, s.height, s.pix_fmt = 64, 48, "yuva420p"
        mux_video(c, s, [av.VideoFrame.from_ndarray(rgba, format="rgba") for _ in range(3)])
    assert io.probe(path).has_alpha
    frames = list(io.read_frames(path, alpha=True))
    assert len(frames) == 3
    a = frames[0][..., 3]
    assert a[15:25, 15:35].min() > 245 and a[35:, 45:].max() < 10
    assert next(io.read_frames(path)).shape == (48, 64, 3)


def interlaced_clip(path, n: int = 8):
    """1080i-style H.264: each frame weaves two fields 1/50 s apart, a bright bar moving 6 px
    per field, so moving edges comb."""
    import av

    h, w = 64, 96

    def field_image(t):
        img = np.full((h, w, 3), 40, np.uint8)
        x = 10 + 6 * t
        img[:, x : x + 20] = 220
        return img

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.codec_context.flags |= av.codec.context.Flags.interlaced_dct
        s.codec_context.flags |= av.codec.context.Flags.interlaced_me
        s.options = {"x264-params": "tff=1", "crf": "10"}
        frames = []
        for k in range(n):
            img = field_image(2 * k)
            img[1::2] = field_image(2 * k + 1)[1::2]  # bottom field: the later instant
            frames.append(av.VideoFrame.from_ndarray(img, format="rgb24"))
        mux_video(c, s, frames)
    return path


def combing(frame: np.ndarray) -> float:
    """Mean vertical second difference: large where alternate rows disagree (comb teeth)."""
    g = frame.astype(np.float32).mean(-1)
    return float(np.abs(2 * g[1:-1] - g[:-2] - g[2:]).mean())


def test_interlaced_clip_is_deinterlaced_frame_for_frame(tmp_path):
    path = interlaced_clip(tmp_path / "i.mp4")
    info = io.probe(path)
    assert info.interlaced and info.num_frames == 8
    frames = list(io.read_frames(path))
    assert len(frames) == 8 and frames[0].shape == (64, 96, 3)
    import av

    with av.open(str(path)) as c:  # what decoding without deinterlacing shows
        woven = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    before = np.mean([combing(f) for f in woven[1:-1]])
    after = np.mean([combing(f) for f in frames[1:-1]])
    assert after < 0.35 * before, (before, after)
    assert not io.probe(write_clip(tmp_path / "p.mp4", n=3)).interlaced
