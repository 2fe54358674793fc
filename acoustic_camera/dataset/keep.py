"""The training copy of a session: what the models read and nothing else.

A simulated DualCam session holds 128 channels of float32 audio (6.3 MB/s) and gzip'd raw
video; the models read microphone 0, the video frames and the acoustic file. The copy keeps
microphone 0 (its geometry, gaps and ground truth too) and the video as JPEG (``/video/jpeg``),
and records in its metadata what was dropped and the SHA-256 of the full audio, so the copy
still names the recording its acoustic file was made from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..array.geometry import ArrayGeometry
from ..io.atomic import atomic_output
from ..io.session import SessionWriter, open_session

_NOT_METADATA = ("software_version", "created_utc", "capture_stats")


def training_copy(session_path, out_path, *, channel: int = 0, jpeg_quality: int = 90, overwrite: bool = False,
                  full_sha256: str | None = None) -> Path:
    """Write ``out_path``: microphone ``channel`` of the session and its video as JPEG."""
    out_path = Path(out_path)
    with open_session(session_path) as s, atomic_output(out_path, overwrite=overwrite, inputs=(session_path,)) as tmp:
        g = s.geometry
        geom = ArrayGeometry(g.positions[[channel]], (g.names[channel],), g.bad[[channel]], g.name)
        meta = {k: v for k, v in s.metadata.items() if k not in _NOT_METADATA}
        meta["reduced"] = {"kept_channels": [channel], "of_channels": s.n_channels, "video": f"jpeg q{jpeg_quality}",
                           "time_data_sha256": full_sha256 or s.time_data_sha256(),
                           "why": "a training copy (acam dataset make --keep training): the array audio was dropped "
                                  "after beamforming"}
        t = s.truth
        with SessionWriter(tmp, sample_freq=s.sample_freq, geometry=geom, camera=s.camera, video_fps=s.video_fps,
                           metadata=meta, source_labels=t.labels if t is not None else None,
                           truth_attrs=t.window if t is not None else None, video_format="jpeg",
                           jpeg_quality=jpeg_quality) as w:
            step = 65536
            for a in range(0, s.n_samples, step):
                w.write_audio(s.audio(a, a + step, channel=channel)[:, None])
            for start, length in s.audio_gaps:
                w.write_gap(int(start), int(length))
            for k0 in range(0, s.n_frames, 48):
                k1 = min(s.n_frames, k0 + 48)
                truth = None if t is None else {k: np.asarray(getattr(t, k))[k0:k1]
                                                 for k in ("position", "pixel", "visible", "active", "level_db")}
                w.write_frames(s.frames(k0, k1), s.frame_sample_index[k0:k1], truth)
    return out_path
