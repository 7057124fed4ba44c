"""Physics of the virtual light stage: OLAT linearity, one-light maps, furnace test."""

from __future__ import annotations

import numpy as np
import pytest

from models.data.envmaps import (
    Environment,
    env_integral,
    light_weights,
    rotate_env,
    sample_environment,
    to_equirect,
    voronoi_cells,
)
from models.data.render import cached_olat, load_stack, relight, render_olat, stack_path
from models.data.scene_outdoor import sample_outdoor
from models.data.sphere import fibonacci_sphere, pixel_solid_angles
from models.data.subjects import sample_subject


@pytest.fixture(scope="module")
def subject():
    return sample_subject(np.random.default_rng(3))


@pytest.fixture(scope="module")
def stack(subject):
    return render_olat(subject, 32, fibonacci_sphere(16))


class Ball:
    """A grey Lambertian sphere (no specular): the furnace-test scene."""

    subject_id = "ball"
    bounds = (np.full(3, -1, np.float32), np.ones(3, np.float32))

    def sdf(self, x, y, z):
        return np.sqrt(x * x + y * y + z * z) - 0.6

    def material(self, x, y, z):
        n = x.size
        zero = np.zeros(n, np.float32)
        return np.full((n, 3), 0.5, np.float32), zero + 0.5, zero, zero


def test_one_light_map_equals_direct_render(subject, stack):
    dirs = stack.light_dirs
    light = 5
    env = np.zeros((32, 64, 3), np.float32)
    env[voronoi_cells(32, dirs) == light] = (2.0, 1.0, 0.5)
    w = light_weights(env, dirs)
    assert np.count_nonzero(w.sum(1)) == 1 and w[light].sum() > 0
    relit = relight(stack.olat, w)
    direct = render_olat(subject, 32, dirs[light : light + 1]).olat[0] * w[light]
    assert relit.max() > 0.01
    np.testing.assert_allclose(relit, direct, rtol=1e-5, atol=1e-6)


def test_doubling_the_map_doubles_the_image(stack):
    env = to_equirect(sample_environment(np.random.default_rng(1), ("outdoor",)), 16)
    once = relight(stack.olat, light_weights(env, stack.light_dirs))
    twice = relight(stack.olat, light_weights(2 * env, stack.light_dirs))
    assert once.max() > 0
    np.testing.assert_allclose(twice, 2 * once, rtol=1e-5, atol=1e-7)


def test_weights_integrate_the_map():
    dirs = fibonacci_sphere(64)
    uniform = np.ones((32, 64, 3), np.float32)
    w = light_weights(uniform, dirs)
    np.testing.assert_allclose(w.sum(0), 4 * np.pi, rtol=1e-6)
    # Fibonacci cells have near-equal areas
    assert np.abs(w[:, 0] / (4 * np.pi / 64) - 1).max() < 0.25
    env = to_equirect(sample_environment(np.random.default_rng(2), ("indoor",)), 16)
    np.testing.assert_allclose(light_weights(env, dirs).sum(0), env_integral(env), rtol=1e-5)


def test_furnace_white_sphere_in_uniform_light_shows_its_albedo():
    # ∫ ρ/π · cos dω over the hemisphere = ρ: every unshadowed pixel of a convex Lambertian
    # ball lit by a uniform map of radiance 1 has radiance ρ = 0.5
    st = render_olat(Ball(), 48, 64)
    img = relight(st.olat, light_weights(np.ones((32, 64, 3), np.float32), st.light_dirs))
    inside = st.mask > 0.5
    assert inside.sum() > 300
    assert np.abs(img[inside] - 0.5).max() < 0.02


def test_mask_is_antialiased_and_matches_geometry():
    st = render_olat(Ball(), 64, 4)
    area = st.mask.sum() * (2 / 64) ** 2
    assert area == pytest.approx(np.pi * 0.6**2, rel=0.02)
    edge = (st.mask > 0.02) & (st.mask < 0.98)
    assert edge.sum() > 50  # partial coverage along the rim


def test_rotation_moves_the_map_and_keeps_energy():
    env = Environment(sample_outdoor(np.random.default_rng(4)))
    h = 16
    base = to_equirect(env, h)
    step = 360.0 / (2 * h)
    turned = to_equirect(env.rotated(3 * step), h)
    rolled = rotate_env(base, 3 * step)
    rel = np.abs(turned - rolled) / (np.abs(rolled) + 1e-3)
    assert np.median(rel) < 1e-3
    frac = rotate_env(base, 17.3)
    np.testing.assert_allclose(env_integral(frac), env_integral(base), rtol=1e-5)
    assert pixel_solid_angles(h).sum() * 2 * h == pytest.approx(4 * np.pi)


def test_stack_cache_roundtrip(tmp_path, subject):
    st = cached_olat(subject, 24, 8, tmp_path)
    path = stack_path(tmp_path, subject, 24, 8)
    assert path.is_file()
    again = load_stack(path)
    np.testing.assert_allclose(again.olat, st.olat, rtol=1e-3, atol=1e-4)  # float16 storage
    np.testing.assert_array_equal(again.mask, st.mask)
    assert cached_olat(subject, 24, 8, tmp_path).olat.shape == (8, 24, 24, 3)


def test_subject_geometry_and_materials(subject):
    x, y, z = (np.array([v], np.float32) for v in subject.head_center)
    assert subject.sdf(x, y, z)[0] < 0  # inside the head
    assert subject.sdf(*(np.array([v], np.float32) for v in (0.0, 1.2, 0.6)))[0] > 0
    st = render_olat(subject, 32, 4)
    assert 0.2 < st.mask.mean() < 0.7
    covered = st.mask > 0.5
    assert (st.albedo[covered] > 0).all() and (st.albedo <= 1).all()
    assert np.allclose(np.linalg.norm(st.normal[covered], axis=-1), 1, atol=1e-2)
