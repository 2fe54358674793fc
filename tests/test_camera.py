import math

import cv2
import numpy as np
import pytest

from acoustic_camera import AcamError, Camera


def _rot(rx, ry, rz):
    r, _ = cv2.Rodrigues(np.array([rx, ry, rz], dtype=np.float64))
    return r


def test_defaults_are_documented_values():
    c = Camera()
    assert (c.width, c.height) == (640, 480)
    assert c.fx == pytest.approx(554.2563, rel=1e-5) and c.fx == c.fy
    assert (c.cx, c.cy) == (319.5, 239.5)
    # the image's left edge is 30 degrees off axis: 60 degrees horizontal field of view
    _, d = c.rays(np.array([-0.5, c.cy]))
    assert math.degrees(math.atan2(-d[0], d[2])) == pytest.approx(30.0, abs=1e-6)
    np.testing.assert_allclose(c.position, 0)


def test_projection_matches_opencv_with_distortion_and_pose():
    rng = np.random.default_rng(1)
    cam = Camera(fx=520, fy=515, cx=322, cy=236, distortion=[-0.12, 0.05, 0.001, -0.002, 0.01],
                 rotation=_rot(0.02, -0.05, 0.01), translation=[0.03, -0.12, 0.01])
    pts = np.c_[rng.uniform(-1.5, 1.5, (50, 2)), rng.uniform(1.5, 6, 50)]
    uv, front = cam.project(pts)
    rvec, _ = cv2.Rodrigues(cam.rotation)
    ref, _ = cv2.projectPoints(pts, rvec, cam.translation, cam.matrix, cam.distortion)
    assert front.all()
    np.testing.assert_allclose(uv, ref[:, 0], atol=1e-6)


def test_pixel_ray_round_trip():
    cam = Camera(distortion=[-0.1, 0.02, 0, 0, 0], rotation=_rot(0.0, 0.1, 0.0), translation=[0.1, 0.0, 0.0])
    uv = np.stack(np.meshgrid(np.linspace(0, 639, 9), np.linspace(0, 479, 7)), -1).reshape(-1, 2)
    pts = cam.backproject(uv, 3.0)
    back, front = cam.project(pts)
    assert front.all()
    np.testing.assert_allclose(back, uv, atol=1e-4)
    # depth is along the optical axis
    pc = pts @ cam.rotation.T + cam.translation
    np.testing.assert_allclose(pc[:, 2], 3.0)


def test_points_behind_camera_and_in_image():
    cam = Camera()
    uv, front = cam.project(np.array([[0, 0, -1.0], [0, 0, 2.0]]))
    assert not front[0] and front[1] and np.isnan(uv[0]).all()
    np.testing.assert_allclose(uv[1], [319.5, 239.5])
    assert cam.in_image(np.array([[-0.4, 0], [639.4, 479.4], [639.6, 0]])).tolist() == [True, True, False]


def test_invalid_camera_parameters():
    with pytest.raises(AcamError, match="rotation"):
        Camera(rotation=np.ones((3, 3)))
    with pytest.raises(AcamError, match="distortion"):
        Camera(distortion=np.zeros(8))
    c = Camera.with_fov(90, 320, 240)
    assert c.fx == pytest.approx(160) and Camera.from_dict(c.to_dict()).fx == c.fx
