"""Plots (matplotlib, headless): the array and its beampattern; a pixel's spectrum over time.

Figures are made with matplotlib's object API (``Figure``), never through pyplot: no backend is
chosen and no global state is touched, so plotting from a program with its own GUI is safe.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..array.beampattern import U_MAX, beampattern, peak_sidelobe_level
from ..errors import AcamError
from ..framing import frame_windows
from ..io.acoustic import open_acoustic
from ..io.atomic import atomic_output, check_output
from ..io.session import open_session


def _figure(**kw):
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **kw)


def _save(fig, out, overwrite: bool) -> None:
    with atomic_output(out, overwrite=overwrite) as tmp:
        fig.savefig(tmp, dpi=110)


def plot_array(geometry, freqs, out: str | Path, db_floor: float = -30.0, overwrite: bool = False) -> None:
    """Layout (bad microphones marked) beside the broadside beampattern at each frequency over
    the steering region of the default camera, with its peak sidelobe level."""
    check_output(out, overwrite)
    n = len(freqs)
    fig = _figure(figsize=(3.6 * (n + 1), 3.8))
    axes = fig.subplots(1, n + 1)
    ax = axes[0]
    p, bad = geometry.positions, geometry.bad
    ax.scatter(p[~bad, 0], p[~bad, 1], s=12, c="tab:blue", label=f"{(~bad).sum()} good")
    if bad.any():
        ax.scatter(p[bad, 0], p[bad, 1], s=40, marker="x", c="tab:red", label=f"{bad.sum()} bad")
    ax.set_aspect("equal")
    ax.invert_yaxis()  # array frame: y down, as in the picture
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m, down)")
    ax.set_title(f"{geometry.name}: {geometry.n_mics} mics, aperture {geometry.aperture:.2f} m")
    ax.legend(loc="upper right", fontsize=7)
    u = np.linspace(-U_MAX, U_MAX, 301)
    uu, vv = np.meshgrid(u, u)
    good_xy = p[~bad]
    aperture = float(np.ptp(good_xy[:, 0]))
    for ax, f in zip(axes[1:], freqs):
        b = beampattern(good_xy, f, uu, vv)
        b[uu**2 + vv**2 > U_MAX**2] = np.nan
        im = ax.imshow(10 * np.log10(np.maximum(b, 1e-12)), extent=(-U_MAX, U_MAX, U_MAX, -U_MAX),
                       vmin=db_floor, vmax=0, cmap="inferno")
        psl = peak_sidelobe_level(good_xy, f, aperture=aperture)
        ax.set_title(f"{f:g} Hz: PSL {psl:.1f} dB")
        ax.set_xlabel("u")
        ax.set_ylabel("v")
    fig.colorbar(im, ax=axes[1:], shrink=0.8, label="beampattern (dB)")
    _save(fig, out, overwrite)


def plot_calibration(path, out: str | Path, overwrite: bool = False) -> None:
    """A calibration file's microphone gains against frequency: magnitude (dB) and phase
    (degrees) of every microphone over its band, the faulty ones drawn in colour and named
    with their fault; the camera and sync blocks summed up in the title."""
    from ..io.calibration import load_calibration

    check_output(out, overwrite, inputs=(path,))
    cal = load_calibration(path)
    mc = cal.microphones
    if mc is None:
        raise AcamError(f"{path}: microphones: expected a calibrated array (acam calibrate array), found none")
    sel = (mc.freqs >= mc.band[0]) & (mc.freqs <= mc.band[1])
    f = mc.freqs[sel] / 1000
    g = mc.gains[:, sel]
    fig = _figure(figsize=(11, 7))
    ax_mag, ax_ph = fig.subplots(2, 1, sharex=True)
    faulty = {ft.mic: ft for ft in mc.faults}
    for m in range(g.shape[0]):
        if m not in faulty:
            ax_mag.plot(f, 20 * np.log10(np.abs(g[m])), color="0.6", lw=0.5)
            ax_ph.plot(f, np.degrees(np.angle(g[m])), color="0.6", lw=0.5)
    colours = iter(["tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown", "tab:pink",
                    "tab:olive", "tab:cyan"] * 16)
    for m, ft in sorted(faulty.items()):
        c = next(colours)
        label = f"mic {m}: {ft.fault}{'' if ft.exclude else ' (kept)'}"
        if ft.exclude:  # its gain is not estimated: mark it along the top of the panels
            ax_mag.plot([], [], color=c, ls="--", label=label)
            continue
        ax_mag.plot(f, 20 * np.log10(np.abs(g[m])), color=c, lw=1.5, label=label)
        ax_ph.plot(f, np.degrees(np.angle(g[m])), color=c, lw=1.5)
    ax_mag.set_ylabel("gain (dB, median mic = 0)")
    ax_ph.set_ylabel("phase (degrees)")
    ax_ph.set_xlabel("frequency (kHz)")
    ax_ph.set_ylim(-180, 180)
    ax_mag.legend(fontsize=7, ncol=3, loc="lower left", title=f"{len(mc.faults)} faults, {len(mc.excluded)} excluded",
                  title_fontsize=7)
    extra = []
    if cal.camera is not None:
        extra.append(f"camera fx {cal.camera.fx:.1f} fy {cal.camera.fy:.1f} px, RMS {cal.camera.rms_px:.2f} px")
    if cal.sync is not None:
        extra.append(f"video {1000 * cal.sync.av_offset_s:.0f} ms after the sound")
    ax_mag.set_title(f"{Path(path).name}: {g.shape[0]} microphones, source at "
                     f"{np.round(mc.source_position, 2).tolist()} m" + ("; " + "; ".join(extra) if extra else ""))
    _save(fig, out, overwrite)


def plot_spectrum(session_path, out: str | Path, *, pixel=None, truth: bool = False, acoustic=None,
                  backend: str = "auto", batch: int = 24, overwrite: bool = False) -> None:
    """Spectrogram (dB) of one acoustic pixel (fixed ROW,COL, or following the first source's
    true pixel) over the session, beside the spectrogram of one microphone with the same
    frames, window and scaling."""
    from ..beamform.beamformer import Beamformer
    from ..beamform.spectra import gather_frames, spectra

    check_output(out, overwrite, inputs=(session_path, acoustic))
    with open_session(session_path) as s:
        bf = Beamformer(s.geometry, s.camera, s.sample_freq, backend=backend)
        rows, cols, nb = bf.volume_shape
        if truth:
            if s.truth is None:
                raise AcamError(f"{session_path}: --truth needs a simulated session with /truth")
            cells = [bf.grid.cell_of_pixel(uv) if np.all(np.isfinite(uv)) else (rows // 2, cols // 2) for uv in s.truth.pixel[:, 0]]
            what = f"true pixel of '{s.truth.labels[0]}'"
        else:
            r, c = pixel
            if not (0 <= r < rows and 0 <= c < cols):
                raise AcamError(f"--pixel {r},{c}: the acoustic image has rows 0..{rows - 1}, columns 0..{cols - 1}")
            cells = [(r, c)] * s.n_frames
            what = f"pixel ({r}, {c})"
        mic = int(np.flatnonzero(s.geometry.good)[0])
        pix = np.zeros((s.n_frames, nb), np.float32)
        one = np.zeros((s.n_frames, nb), np.float32)
        starts, _ = frame_windows(s.frame_sample_index, bf.nfft, s.n_samples)
        vf = None
        if acoustic is not None:
            vf = open_acoustic(acoustic, s)
            if vf.volumes is None:
                vf.close()
                raise AcamError(f"{acoustic}: /volumes: expected full volumes (acam beamform --features volumes), "
                                f"found only {', '.join(vf.features)}")
            if vf.volumes.shape[1:] != (rows, cols, nb):
                vf.close()
                raise AcamError(f"{acoustic}: /volumes: expected ({rows}, {cols}, {nb}) per frame as the default "
                                f"beamformer makes, found {vf.volumes.shape[1:]}")
        try:
            for k0 in range(0, s.n_frames, batch):
                k1 = min(s.n_frames, k0 + batch)
                frames = gather_frames(s.audio, starts[k0:k1], bf.nfft, s.n_samples, s.n_channels)
                vol = vf.volumes[k0:k1].astype(np.float32) if vf is not None else bf(frames)
                for i, k in enumerate(range(k0, k1)):
                    pix[k] = vol[i, cells[k][0], cells[k][1]]
                X = spectra(frames[:, :, mic:mic + 1], bf.window)
                one[k0:k1] = np.abs(X[:, 0, :]) ** 2
        finally:
            if vf is not None:
                vf.close()
        t = s.frame_time
        fig = _figure(figsize=(11, 4))
        axes = fig.subplots(1, 2, sharey=True)
        for ax, data, title in ((axes[0], pix, f"acoustic {what}"), (axes[1], one, f"microphone {s.geometry.names[mic]}")):
            db = 10 * np.log10(np.maximum(data, 1e-14))
            top = float(db.max())
            im = ax.imshow(db.T, origin="lower", aspect="auto", cmap="inferno", vmin=top - 60, vmax=top,
                           extent=(t[0], t[-1] if len(t) > 1 else t[0] + 1, bf.freqs[0], bf.freqs[-1]))
            ax.set_title(title)
            ax.set_xlabel("time (s)")
            fig.colorbar(im, ax=ax, label="dB re 1 Pa^2")
        axes[0].set_ylabel("frequency (Hz)")
        fig.suptitle(f"{Path(session_path).name}: {s.metadata.get('scenario', '')} {s.metadata.get('label', '')}")
        _save(fig, out, overwrite)
