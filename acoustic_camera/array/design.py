"""Design of the ``dualcam128`` microphone layout: an optimized aperiodic planar array.

The shipped layout (``acoustic_camera/data/dualcam128.xml``) places 128 microphones on a
0.45 m x 0.45 m board so that the peak sidelobe level (PSL) of the far-field beampattern is
low over roughly 500 Hz - 6 kHz, for steering anywhere in the default camera's field of view.
It is produced by :func:`design_layout`, a seeded stochastic search; ``acam array design --out
DIR`` (:func:`write_design`) reruns it and writes the XML and a JSON design record. The
beampattern and PSL the search optimizes are :mod:`.beampattern`'s.

Array frame: x right, y down, z along the normal toward the scene; microphones lie in z = 0.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numba
import numpy as np

from ..constants import SPEED_OF_SOUND
from ..errors import AcamError
from ..jitcache import cached
from .beampattern import (MAINLOBE_FACTOR, PSL_OVERSAMPLING, U_MAX, grid_layout, mainlobe_width, min_pair_distance,
                          peak_sidelobe_level, psl_table, random_layout)
from ..io.atomic import atomic_output, check_output
from .geometry import ArrayGeometry

REPORT_FREQS = (1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 6000.0)
"""Frequencies (Hz) of the PSL table in the design record."""


@dataclass
class DesignResult:
    """Outcome of :func:`design_layout`.

    Attributes:
        positions: (M, 3) optimized positions in metres, z = 0, within the board.
        params: design parameters and bookkeeping (seed, iterations, frequencies, lattice, acceptance).
        cost_history: surrogate cost (dB) of the start layout followed by the cost after each chunk
            of iterations (``params["chunk"]`` iterations per chunk).
        psl_db: PSL in dB of the optimized layout at each design frequency (Hz -> dB).
        seconds: wall-clock run time of the design in seconds.
    """

    positions: np.ndarray
    params: dict = field(default_factory=dict)
    cost_history: list = field(default_factory=list)
    psl_db: dict = field(default_factory=dict)
    seconds: float = 0.0


def _first_visible_frequency(aperture, u_max=U_MAX, mainlobe=MAINLOBE_FACTOR, c=SPEED_OF_SOUND) -> float:
    """Lowest frequency at which some sidelobe region is left: mainlobe * lambda / aperture = u_max."""
    return mainlobe * c / (aperture * u_max)


def _lattice(r_lo, r_hi, delta):
    """Wavenumber lattice (cycles/m) of step delta over the half annulus r_lo <= |w| <= r_hi.

    Half plane (w_y > 0, or w_y = 0 and w_x > 0) since B(w) = B(-w). Points sorted by |w|, so that
    the sub-region of a lower frequency is a prefix. Returns (ix, iy, radius, nx0) with lattice
    coordinates w = delta * (ix - nx0, iy), ix in 0..2 nx0, iy in 0..nx0.
    """
    n = int(math.floor(r_hi / delta))
    i = np.arange(-n, n + 1)
    gx, gy = np.meshgrid(i, np.arange(0, n + 1), indexing="ij")
    gx, gy = gx.ravel(), gy.ravel()
    r = delta * np.hypot(gx, gy)
    keep = (r >= r_lo) & (r <= r_hi) & ((gy > 0) | (gx > 0))
    gx, gy, r = gx[keep], gy[keep], r[keep]
    order = np.lexsort((gx, gy, r))
    return (gx[order] + n).astype(np.int64), gy[order].astype(np.int64), r[order], n


def _njit(fn):  # compiled once per machine, kept in the user's cache dir
    return cached(numba.njit(fn))


@_njit
def _phasors(x, delta, nx0, nw, out):
    # out[i] = exp(j 2 pi x delta (i - nx0)), by exact evaluation (no recurrence drift)
    for i in range(nw):
        t = 2.0 * np.pi * x * delta * (i - nx0)
        out[i] = complex(math.cos(t), math.sin(t))


@_njit
def _ipow(a, p):
    r = 1.0
    while p > 0:
        if p & 1:
            r *= a
        a *= a
        p >>= 1
    return r


@_njit
def _cost_of(af, ends, n_samples, inv_m2, p):
    # p-norm (in dB) of the sidelobe power over all (frequency, point) samples; the regions are
    # nested prefixes of the points, so frequency f adds the running sum up to ends[f]
    total = 0.0
    s = 0.0
    k = 0
    for f in range(ends.shape[0]):
        while k < ends[f]:
            a = af[k]
            s += _ipow((a.real * a.real + a.imag * a.imag) * inv_m2, p)
            k += 1
        total += s
    return 10.0 / p * math.log10(total / n_samples)


@_njit
def _array_factor(ex, ey, ix, iy, af):
    m_count = ex.shape[0]
    for k in range(ix.shape[0]):
        acc = 0j
        for m in range(m_count):
            acc += ex[m, ix[k]] * ey[m, iy[k]]
        af[k] = acc


@_njit
def _search(pos, ex, ey, af, ix, iy, ends, n_samples, delta, nx0, p, half, min_sp2,
            mic, steps, sigma, temp, unif, cur):
    """Single-microphone moves with incremental array-factor updates; returns (cost, accepted)."""
    m_count = pos.shape[0]
    nkx = ex.shape[1]
    nky = ey.shape[1]
    npts = ix.shape[0]
    inv_m2 = 1.0 / (m_count * m_count)
    exn = np.empty(nkx, np.complex128)
    eyn = np.empty(nky, np.complex128)
    trial = np.empty(npts, np.complex128)
    accepted = 0
    for t in range(mic.shape[0]):
        m = mic[t]
        nx = min(half, max(-half, pos[m, 0] + sigma[t] * steps[t, 0]))
        ny = min(half, max(-half, pos[m, 1] + sigma[t] * steps[t, 1]))
        ok = True
        for j in range(m_count):
            if j != m:
                dx = nx - pos[j, 0]
                dy = ny - pos[j, 1]
                if dx * dx + dy * dy < min_sp2:
                    ok = False
                    break
        if not ok:
            continue
        _phasors(nx, delta, nx0, nkx, exn)
        _phasors(ny, delta, 0, nky, eyn)
        # trial array factor and cost in one pass over the points (sorted by |w|)
        total = 0.0
        s = 0.0
        k = 0
        for f in range(ends.shape[0]):
            while k < ends[f]:
                a = af[k] + exn[ix[k]] * eyn[iy[k]] - ex[m, ix[k]] * ey[m, iy[k]]
                trial[k] = a
                s += _ipow((a.real * a.real + a.imag * a.imag) * inv_m2, p)
                k += 1
            total += s
        new = 10.0 / p * math.log10(total / n_samples)
        if new < cur or (temp[t] > 0.0 and unif[t] < math.exp(-(new - cur) / temp[t])):
            cur = new
            accepted += 1
            pos[m, 0] = nx
            pos[m, 1] = ny
            for i in range(nkx):
                ex[m, i] = exn[i]
            for i in range(nky):
                ey[m, i] = eyn[i]
            for i in range(npts):
                af[i] = trial[i]
    return cur, accepted


def design_layout(
    n_mics: int = 128,
    board: float = 0.45,
    min_spacing: float = 0.02,
    f_lo: float = 500.0,
    f_hi: float = 6000.0,
    n_freqs: int = 12,
    seed: int = 0,
    iterations: int = 3_000_000,
    progress: Callable[[int, int, float], None] | None = None,
    *,
    p: int = 8,
    sigma_start: float = 0.03,
    sigma_end: float = 0.002,
    temperature: float = 0.02,
    oversampling: int = 6,
    edge_guard: float = 0.5,
    u_max: float = U_MAX,
    mainlobe: float = MAINLOBE_FACTOR,
    c: float = SPEED_OF_SOUND,
    chunk: int = 10_000,
) -> DesignResult:
    """Optimize an aperiodic planar layout for a low peak sidelobe level over a band.

    Start: ``random_layout(n_mics, board, min_spacing, rng)`` with ``rng = np.random.default_rng(seed)``
    (its first draws). Each iteration moves one random microphone by a Gaussian step whose sigma
    shrinks geometrically from ``sigma_start`` to ``sigma_end``, clipped to the board; a move that
    breaks ``min_spacing`` is rejected. A move is accepted if it lowers the cost (or, with
    ``temperature`` > 0 dB, by the Metropolis rule at a temperature falling linearly to 0).

    Cost: the pattern is sampled on a wavenumber lattice of step 1/(oversampling*board) cycles/m
    over the sidelobe annulus of ``f_hi`` (half plane, by symmetry). The design frequencies are
    ``n_freqs`` log-spaced from ``max(f_lo, 1.1 f_vis)`` to ``f_hi``, f_vis being the frequency
    below which the main-lobe disc covers the whole region; frequency f samples the lattice points
    inside its own region, mainlobe/board <= |w| <= f u_max / c + edge_guard/board. The cost is
    the p-norm of the sidelobe power P over all (frequency, point) samples, in dB,
    ``10/p log10(mean P^p)``, a smooth
    stand-in for the band's peak sidelobe level. As the regions are nested, a sidelobe close to the
    main lobe is seen at many frequencies and counts that many times, which favours the low end of
    the band a little. The array factor per lattice point is kept and updated incrementally: a move
    adds the moved microphone's new phasor and subtracts its old one (2 complex products per point:
    per microphone, exp(j 2 pi x w_x) and exp(j 2 pi y w_y) along the lattice axes are tabulated),
    never recomputed from scratch except once per chunk to shed rounding drift.

    Args:
        n_mics, board, min_spacing: microphones, square board side (m), minimum spacing (m).
        f_lo, f_hi: design band in Hz.
        n_freqs: number of design frequencies.
        seed: seed of ``np.random.default_rng``; the result is deterministic on a given machine.
        iterations: number of proposed moves.
        progress: called after each chunk as ``progress(done, iterations, cost_db)``.
        p: integer exponent of the p-norm (larger: closer to the max, less smooth).
        sigma_start, sigma_end: step size schedule in metres.
        temperature: initial annealing temperature in dB of cost (0: greedy descent).
        oversampling: lattice points per main-lobe width 1/board.
        edge_guard: each frequency's sampled region extends this many 1/board beyond its edge
            f u_max / c, so that the optimizer cannot park a lobe just outside the region with its
            flank inside.
        u_max, mainlobe, c: sidelobe region radius, main-lobe exclusion factor, speed of sound.
        chunk: iterations per chunk (random numbers are drawn per chunk, progress reported per chunk).

    Returns:
        :class:`DesignResult`; positions are on the board as optimized (not re-centred), z = 0.
    """
    t0 = time.perf_counter()
    if n_mics < 2 or board <= 0 or min_spacing < 0 or not 0 < f_lo <= f_hi or n_freqs < 1 or iterations < 0 or p < 1:
        raise AcamError(f"design_layout: bad parameters n_mics={n_mics} board={board} min_spacing={min_spacing} "
                        f"f_lo={f_lo} f_hi={f_hi} n_freqs={n_freqs} iterations={iterations} p={p}")
    f_vis = _first_visible_frequency(board, u_max, mainlobe, c)
    f_start = max(f_lo, 1.1 * f_vis)
    if f_start >= f_hi:
        raise AcamError(f"design_layout: no sidelobes visible below f_hi={f_hi} Hz for a {board} m board "
                        f"(the main lobe covers the region below {f_vis:.0f} Hz)")
    freqs = np.geomspace(f_start, f_hi, n_freqs) if n_freqs > 1 else np.array([f_hi])
    delta = 1.0 / (oversampling * board)
    guard = edge_guard / board
    ix, iy, radius, nx0 = _lattice(mainlobe / board - 0.5 * delta, f_hi * u_max / c + guard, delta)
    ends = np.searchsorted(radius, freqs * u_max / c + guard, side="right").astype(np.int64)
    if ends[0] == 0:
        raise AcamError(f"design_layout: no lattice point in the sidelobe region at {freqs[0]:.0f} Hz; raise oversampling")
    n_samples = float(ends.sum())

    k = {"phasors": _phasors, "cost_of": _cost_of, "array_factor": _array_factor, "search": _search}
    rng = np.random.default_rng(seed)
    start = random_layout(n_mics, board, min_spacing, rng)
    pos = np.ascontiguousarray(start[:, :2])
    nkx, nky = 2 * nx0 + 1, nx0 + 1
    ex = np.empty((n_mics, nkx), np.complex128)
    ey = np.empty((n_mics, nky), np.complex128)

    def refresh():
        for m in range(n_mics):
            k["phasors"](pos[m, 0], delta, nx0, nkx, ex[m])
            k["phasors"](pos[m, 1], delta, 0, nky, ey[m])
        af = np.empty(ix.shape[0], np.complex128)
        k["array_factor"](ex, ey, ix, iy, af)
        return af, k["cost_of"](af, ends, n_samples, 1.0 / n_mics**2, p)

    af, cost = refresh()
    history = [float(cost)]
    accepted = 0
    done = 0
    log_s0, log_s1 = math.log(sigma_start), math.log(sigma_end)
    while done < iterations:
        n = min(chunk, iterations - done)
        frac = (done + np.arange(n)) / max(1, iterations - 1)
        sigma = np.exp(log_s0 + (log_s1 - log_s0) * frac)
        temp = temperature * (1.0 - frac)
        mic = rng.integers(0, n_mics, size=n).astype(np.int64)
        steps = rng.standard_normal((n, 2))
        unif = rng.random(n)
        cost, acc = k["search"](pos, ex, ey, af, ix, iy, ends, n_samples, delta, nx0, p, board / 2,
                                min_spacing**2, mic, steps, sigma, temp, unif, cost)
        accepted += int(acc)
        done += n
        af, cost = refresh()  # drop accumulated rounding error of the incremental updates
        history.append(float(cost))
        if progress is not None:
            progress(done, iterations, float(cost))

    positions = np.column_stack([pos, np.zeros(n_mics)])
    psl = {float(f): peak_sidelobe_level(positions, f, aperture=board, u_max=u_max, mainlobe=mainlobe, c=c)
           for f in freqs}
    params = {
        "n_mics": n_mics, "board_m": board, "min_spacing_m": min_spacing, "f_lo_hz": f_lo, "f_hi_hz": f_hi,
        "f_start_hz": float(f_start), "n_freqs": n_freqs, "design_freqs_hz": [float(f) for f in freqs],
        "seed": seed, "iterations": iterations, "accepted_moves": accepted, "p_norm": p,
        "sigma_start_m": sigma_start, "sigma_end_m": sigma_end, "temperature_db": temperature,
        "lattice_oversampling": oversampling, "edge_guard": edge_guard, "lattice_step_per_m": delta,
        "lattice_points": int(ix.shape[0]),
        "u_max": u_max, "mainlobe_factor": mainlobe, "aperture_m": board, "speed_of_sound": c, "chunk": chunk,
        "start": "random_layout(n_mics, board, min_spacing, numpy.random.default_rng(seed))",
        "min_spacing_achieved_m": min_pair_distance(positions),
    }
    return DesignResult(positions, params, history, psl, time.perf_counter() - t0)




def write_design(out_dir: str | Path, *, name: str = "dualcam128", overwrite: bool = False,
                 progress: Callable[[int, int, float], None] | None = None, **design_kw) -> dict:
    """Run :func:`design_layout` and write ``NAME.xml`` (the layout, Acoular XML, re-centred on
    the board) and ``NAME_design.json`` (parameters, cost history, PSL table against a random
    layout and the 16x8 grid, main-lobe widths) into ``out_dir``. ``design_kw`` are
    :func:`design_layout`'s arguments. Returns the record, with the paths written."""
    out = Path(out_dir)
    xml_path, json_path = out / f"{name}.xml", out / f"{name}_design.json"
    for p in (xml_path, json_path):
        check_output(p, overwrite)
    res = design_layout(progress=progress, **design_kw)
    pr = res.params
    n_mics, board = pr["n_mics"], pr["board_m"]
    # re-centring the bounding box keeps every microphone on the board and changes no pattern
    pos = res.positions - np.r_[0.5 * (res.positions[:, :2].max(0) + res.positions[:, :2].min(0)), 0.0]
    geo = ArrayGeometry(pos, tuple(f"mic{i:03d}" for i in range(n_mics)), name=name)
    comment = (f"{name}: optimized aperiodic layout from acoustic_camera.array.design.design_layout "
               f"(minimize peak sidelobe level, steering within the 640x480 camera view, u_max={pr['u_max']:.4f}, "
               f"main lobe excluded within {pr['mainlobe_factor']} lambda/aperture); n_mics={n_mics} "
               f"board={board} m min_spacing={pr['min_spacing_m']} m band={pr['f_lo_hz']:g}-{pr['f_hi_hz']:g} Hz "
               f"(design frequencies {pr['f_start_hz']:.0f}-{pr['f_hi_hz']:g} Hz, n_freqs={pr['n_freqs']}) "
               f"p={pr['p_norm']} seed={pr['seed']} iterations={pr['iterations']}; x right, y down, z toward the scene, metres")
    layouts = {"optimized": pos,
               "random (seed 1)": random_layout(n_mics, board, pr["min_spacing_m"], np.random.default_rng(1)),
               "grid 16x8": grid_layout(16, 8, board)}
    table = psl_table(layouts, REPORT_FREQS, aperture=board)
    widths = {lname: {f: mainlobe_width(xy, f) for f in (2000.0, 4000.0)} for lname, xy in layouts.items()}
    record = {
        "name": name,
        "params": pr,
        "seed": pr["seed"],
        "iterations": pr["iterations"],
        "runtime_s": round(res.seconds, 2),
        "cost_db_start": res.cost_history[0],
        "cost_db_end": res.cost_history[-1],
        "cost_history_db": [round(x, 4) for x in res.cost_history],
        "psl_db_design_freqs": {f"{f:.1f}": round(v, 3) for f, v in res.psl_db.items()},
        "psl_table_db": {lname: {f"{f:g}": round(v, 3) for f, v in row.items()} for lname, row in table.items()},
        "mainlobe_3db_width_deg": {lname: {f"{f:g}": round(v, 3) for f, v in row.items()} for lname, row in widths.items()},
        "psl_definition": (f"max of the normalized broadside beampattern over |(u,v)| <= {U_MAX:.4f} excluding "
                           f"|(u,v)| < {MAINLOBE_FACTOR} lambda/{board} m, grid step <= lambda/({PSL_OVERSAMPLING}*{board} m)"),
        "reference_layouts": {"random (seed 1)": "random_layout(n_mics, board, min_spacing, default_rng(1))",
                              "grid 16x8": "grid_layout(16, 8, board)"},
        "min_spacing_achieved_m": min_pair_distance(pos),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
    }
    geo.to_xml(xml_path, comment=comment, overwrite=overwrite)
    with atomic_output(json_path, overwrite=overwrite) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    return dict(record, xml=str(xml_path), json=str(json_path), psl_table=table, mainlobe_widths=widths)


def markdown_table(table: dict[str, dict[float, float]]) -> str:
    """``{layout: {freq: value}}`` as a Markdown table, one row per layout."""
    freqs = list(next(iter(table.values())).keys())
    lines = ["| layout | " + " | ".join(f"{f:g} Hz" for f in freqs) + " |",
             "|---|" + "---:|" * len(freqs)]
    for lname, row in table.items():
        lines.append(f"| {lname} | " + " | ".join(f"{row[f]:.2f}" for f in freqs) + " |")
    return "\n".join(lines)
