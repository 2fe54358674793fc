"""The simulated DualCam: pyroomacoustics rooms, moving synthesized sources, drawn video.

Audio is produced as a stream, in bounded memory, for any duration:

- Each source's signal (pressure at 1 m, :mod:`.sounds`) is cut into blocks of ``2*hop``
  samples with a periodic Hann window at 50 % overlap (the windows sum to one). Each block
  is convolved with the 128 early impulse responses at the source's position at the block's
  centre (image sources from pyroomacoustics, responses built by :func:`.rir.build_rirs`) and
  overlap-added into the output: consecutive responses are crossfaded over ``2*hop`` samples.
  pyroomacoustics has no moving sources, and its ``simulate()`` would hold a float64
  (sources, mics, samples) array: hence this float32 streaming overlap-add. With the default
  hop (256 samples at 12 kHz, 21 ms) a walking source moves < 3 cm between responses, under
  one sample of delay, which keeps crossfade comb notches above the band.
- The late reverberation (indoor) is one fixed diffuse multichannel tail for the room, fed by
  the sum of all sources and the ventilation noise.
- Background noise (outdoor), wind and sensor noise are added last.

Video frames are drawn at the sources' positions at each frame time; a frame's timestamp is
``round(k * sample_freq / video_fps)`` on the audio clock. The ground truth of each frame
describes the stretch of sound its acoustic image analyses (:mod:`.truth`).
"""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from scipy import fft as sfft
from scipy import signal

from .. import __version__
from ..array.camera import Camera
from ..options import shown as _shown
from ..array.geometry import ArrayGeometry, preset
from ..catalog import REFERENCE_SOUNDS, SOUND_CLASSES
from ..constants import NFFT, SAMPLE_FREQ, SPEED_OF_SOUND, VIDEO_FPS, WINDOW
from ..errors import AcamError
from ..framing import make_window
from ..options import FPS, NFFT as NFFT_COUNT, SAMPLE_RATE, SEED, SIM_SECONDS, Count, Real
from ..io.session import SessionWriter
from .imperfections import ArrayErrors
from .rir import HALF_WIDTH, StreamConvolver, build_rirs, diffuse_irs, plane_wave_irs
from .scenarios import Scenario, get_scenario, pra
from .scene_video import SourceSprite, draw_frame, draw_marker, make_background
from .sounds import make_sound, sound_level
from .subjects import Subject
from .trajectories import SourceSpec, make_trajectory
from .truth import DryHistory, direct_sound, nominal_level_db, truth_attrs, window_levels
FRAMES_PER_CHUNK = 12  # audio and video are produced and written in groups of this many frames
MIN_SAMPLE_FREQ = 8000.0  # Hz: below it the simulated sounds' bands do not fit
MAX_SOURCES = 64  # sources in one scene: each costs its image sources and convolutions per block
HOP = Count(16, 16384, "samples")  # the crossfade hop: below 16 samples a block per sample crawls
ISM_ORDER = Count(0, 10)  # image-source order: the image count grows as its cube (order 10: 1561 a position)


@dataclass(frozen=True)
class SimConfig:
    """Everything that defines a simulated session; equal configs give identical files."""

    scenario: str = "anechoic"
    duration: float = 10.0
    sample_freq: float = SAMPLE_FREQ
    video_fps: float = VIDEO_FPS
    sources: tuple[SourceSpec, ...] = (SourceSpec("clapping", "walk"),)
    seed: int = 0
    geometry: ArrayGeometry = field(default_factory=lambda: preset("dualcam128"))
    camera: Camera = field(default_factory=Camera)
    hop: int | None = None  # crossfade hop in samples; default ~21 ms
    ism_order: int | None = None  # image-source order cap; default per scenario
    noise: bool = True  # background, wind and sensor noise (off for physics checks)
    # the room's look: sessions of a scenario share one backdrop, as recordings made in one room
    # do (a per-session backdrop would let a model tell sessions apart by their walls); None
    # draws a backdrop from the session seed
    room_seed: int | None = 0
    # the analysed window the ground truth describes (the beamformer's defaults)
    truth_nfft: int = NFFT
    truth_window: str = WINDOW
    # a non-ideal array (gains, delays, positions, faulty channels); the session still stores
    # the nominal geometry, as a real recording would
    array_errors: ArrayErrors | None = None
    # seconds the camera's pictures lag the sound: frame k (stamped at its sample index t_k)
    # shows the scene at t_k - video_delay, as a camera with a late pipeline would deliver it
    video_delay: float = 0.0
    # the camera as mounted, when it is not the nominal one the session stores (``camera``): the
    # pictures, the truth's pixels and the places sources walk to are this camera's, so the
    # beamformer's grid (from ``camera``) is off until registration measures the pose
    true_camera: Camera | None = None
    # side (m) of an ArUco marker each source carries, facing the camera; source j shows marker
    # id j. None: no markers
    marker_size: float | None = None
    # who makes the sounds: a subject's traits (voice, hands, tempo, loudness, place, gait, looks)
    # are the same in every session that names it (:mod:`.subjects`); None: drawn from the seed
    subject: int | None = None

    @property
    def view_camera(self) -> Camera:
        """The camera that takes the pictures."""
        return self.true_camera if self.true_camera is not None else self.camera

    def __post_init__(self):
        """Refuse, in one line, a configuration that cannot be simulated in bounded time and
        memory or would write a meaningless truth: the duration (:data:`.options.SIM_SECONDS`),
        rates, counts, seeds, the sources (each within 1 km and at least
        :data:`.trajectories.MIN_DEPTH_M` in front of the array), geometry and cameras."""
        def number(name, spec, label):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise AcamError(f"{label}: expected {spec.describe()}, found {_shown(v)}")
            if isinstance(v, int) and v.bit_length() > 100:  # the parsers cannot show it
                raise AcamError(f"{label}: expected {spec.describe()}, found an integer of about "
                                f"{int(v.bit_length() * 0.30103) + 1} digits")
            v = spec(v, label)
            object.__setattr__(self, name, v)  # a plain float or int: equal configs stay equal
            return v

        number("duration", SIM_SECONDS, "duration")
        rate = number("sample_freq", Real(), "sample rate")
        if not MIN_SAMPLE_FREQ <= rate <= SAMPLE_RATE.hi:
            raise AcamError(f"sample rate: expected at least {MIN_SAMPLE_FREQ:g} Hz and at most {SAMPLE_RATE.hi:g} Hz, "
                            f"found {self.sample_freq!r}")
        fps = number("video_fps", FPS, "video frame rate")
        if fps >= rate:
            raise AcamError(f"video frame rate: expected below the sample rate ({rate:g} Hz), found {fps:g} fps")
        get_scenario(self.scenario)
        if not isinstance(self.sources, (tuple, list)):
            raise AcamError(f"sources: expected a list of sources, found {type(self.sources).__name__}")
        if len(self.sources) > MAX_SOURCES:
            raise AcamError(f"sources: expected at most {MAX_SOURCES}, found {len(self.sources)}")
        for s in self.sources:
            if not isinstance(s, SourceSpec):
                raise AcamError(f"sources: expected SourceSpec entries, found {type(s).__name__}")
            if s.label not in SOUND_CLASSES + REFERENCE_SOUNDS:
                raise AcamError(f"unknown sound class {s.label!r}; classes: {', '.join(SOUND_CLASSES + REFERENCE_SOUNDS)}")
            s.check()
        if not self.sources:
            raise AcamError("at least one source is needed")
        if all(s.silent for s in self.sources):
            raise AcamError("at least one source must sound; all are :silent")
        number("seed", SEED, "seed")
        if self.room_seed is not None:
            number("room_seed", SEED, "room seed")
        if self.subject is not None:
            number("subject", SEED, "subject")
        if not isinstance(self.geometry, ArrayGeometry) or self.geometry.n_mics < 2:
            n = self.geometry.n_mics if isinstance(self.geometry, ArrayGeometry) else type(self.geometry).__name__
            raise AcamError(f"geometry: expected an array of at least 2 microphones, found {n}")
        for name in ("camera", "true_camera"):
            cam = getattr(self, name)
            if not (isinstance(cam, Camera) or (name == "true_camera" and cam is None)):
                raise AcamError(f"{name.replace('_', ' ')}: expected a Camera, found {type(cam).__name__}")
        if self.hop is not None:
            number("hop", HOP, "hop")
        if self.ism_order is not None:
            number("ism_order", ISM_ORDER, "image-source order")
        if self.array_errors is not None:
            self.array_errors.check(self.geometry.n_mics)
        number("video_delay", Real(0.0, 1.0, unit="s"), "video delay")
        if self.marker_size is not None:
            number("marker_size", Real(0.0, 2.0, lo_open=True, unit="m"), "marker size")
        if self.true_camera is not None and (self.true_camera.width, self.true_camera.height) != (self.camera.width, self.camera.height):
            raise AcamError(f"true camera: expected the nominal camera's {self.camera.width}x{self.camera.height} pixels, "
                            f"found {self.true_camera.width}x{self.true_camera.height}")
        if number("truth_nfft", NFFT_COUNT, "truth window") % 2:
            raise AcamError(f"truth window: expected an even number of samples, found {self.truth_nfft}")


@dataclass
class Chunk:
    """A group of video frames with the audio between the first frame and the next group."""

    start: int  # first audio sample
    audio: np.ndarray  # (n, channels) float32, pascals
    frames: np.ndarray  # (k, H, W, 3) uint8 RGB
    frame_sample_index: np.ndarray  # (k,)
    truth: dict  # position (k,S,3), pixel (k,S,2), visible (k,S), active (k,S), level_db (k,S)
    direct: np.ndarray | None = None  # (n, S) float32: each source's direct sound at the array's reference point


class _Source:
    """A source's signal stream, trajectory and early-response convolution state."""

    def __init__(self, spec, traj, sound, room, scenario, mics_room, fs, hop, mic_gain=None, mic_delay=None):
        self.spec, self.traj, self.sound = spec, traj, sound
        self.mic_gain, self.mic_delay = mic_gain, mic_delay
        self.room, self.scenario, self.mics_room, self.fs, self.hop = room, scenario, mics_room, fs, hop
        self.sig = np.zeros(hop, dtype=np.float32)  # signal from block start (starts at -hop: silence)
        self.sig_start = -hop
        self.next_block = 0
        self._static_cache = None
        self.dry = DryHistory()  # what the truth windows read

    def rir(self, t: float) -> np.ndarray:
        p = self.scenario.array_to_room(self.traj.position(t))
        self.room.sources[0].position = p
        self.room.image_source_model()
        src = self.room.sources[0]
        gains = src.damping[0]
        keep = gains > 0  # walls of absorption 1 leave zero-gain images
        return build_rirs(src.images.T[keep], gains[keep], self.mics_room, self.fs, mic_gain=self.mic_gain,
                          mic_delay=self.mic_delay)


class Simulator:
    """Streams a simulated session as :class:`Chunk` s (``for chunk in sim.chunks(): ...``)."""

    def __init__(self, cfg: SimConfig, sounds: list | None = None, keep_direct: bool = False):
        """``sounds`` optionally replaces the synthesized signals (objects with ``next(n)`` and
        ``level_pa``), e.g. an impulse to measure the simulated room's response; ``keep_direct``:
        each chunk carries every source's direct sound at the array's reference point
        (:func:`.truth.direct_sound`), else zeros."""
        self.cfg = cfg
        self.keep_direct = keep_direct
        fs = cfg.sample_freq
        self.scenario: Scenario = get_scenario(cfg.scenario)
        if cfg.ism_order is not None:
            self.scenario = replace(self.scenario, ism_order=cfg.ism_order)
        self.hop = cfg.hop or max(32, int(round(256 * fs / 12000)))
        self.n_samples = int(round(cfg.duration * fs))
        self.labels = tuple(s.label for s in cfg.sources)
        self.n_mics = cfg.geometry.n_mics
        seeds = np.random.SeedSequence(cfg.seed)
        rng_traj, rng_sound, rng_noise, rng_video, rng_room = (np.random.default_rng(s) for s in seeds.spawn(5))

        errs = cfg.array_errors
        mics = cfg.geometry.positions if errs is None else errs.positions(cfg.geometry.positions)
        self.mics_room = self.scenario.array_to_room(mics)
        mic_gain = None if errs is None else errs.gains(self.n_mics)
        mic_delay = None if errs is None else errs.delays(self.n_mics)
        inside = lambda p: bool(self.scenario.contains(p))  # noqa: E731
        self.subject = None if cfg.subject is None else Subject.make(cfg.subject)
        self.sources = []
        for j, spec in enumerate(cfg.sources):
            if spec.position is not None and not inside(np.array(spec.position)):
                raise AcamError(f"source {spec.label!r} at {spec.position} lies outside the {cfg.scenario} room")
            traj = make_trajectory(spec, cfg.view_camera, cfg.duration, rng_traj, inside, self.subject)
            if sounds is not None:
                sound = sounds[j]
            elif self.subject is not None and spec.label in SOUND_CLASSES:
                level = spec.level_pa if spec.level_pa is not None else sound_level(spec.label) * self.subject.gain
                sound = make_sound(spec.label, fs, rng_sound, level, traits=self.subject.sound_traits(spec.label))
            else:
                sound = make_sound(spec.label, fs, rng_sound, spec.level_pa)
            # the image sources depend on the source and the room only: one microphone at the array
            # centre spares pyroomacoustics its per-microphone visibility checks (128 per position)
            room = self.scenario.make_room(fs, np.zeros((1, 3)))
            self.sources.append(_Source(spec, traj, sound, room, self.scenario, self.mics_room, fs, self.hop,
                                        mic_gain, mic_delay))
        self.window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(2 * self.hop) / (2 * self.hop))).astype(np.float32)

        self._rng_noise = rng_noise
        self._tail = self._make_tail(rng_room) if self.scenario.rt60 else None
        self._hvac_sos = signal.butter(1, 400, fs=fs, output="sos")
        self._hvac_zi = np.zeros((self._hvac_sos.shape[0], 2))
        if self._tail is not None:
            # scale so the reverberant ventilation noise has hvac_pa RMS at the array
            imp = signal.sosfilt(self._hvac_sos, np.r_[1.0, np.zeros(int(fs) - 1)])
            self._hvac_gain = self.scenario.hvac_pa / math.sqrt(self._tail_power_gain * float(np.sum(imp**2)))
        self._background = self._make_background(rng_room) if (cfg.noise and self.scenario.background_pa) else None
        self._wind_sos = signal.butter(2, 120, fs=fs, output="sos")
        self._wind_zi = np.zeros((self._wind_sos.shape[0], 2, self.n_mics))
        self._gust_sos = signal.butter(1, 0.4, fs=fs, output="sos")
        self._gust_zi = np.zeros((self._gust_sos.shape[0], 2))

        rng_bg = rng_video if cfg.room_seed is None else np.random.default_rng([cfg.room_seed, zlib.crc32(cfg.scenario.encode())])
        self.background_image = make_background(cfg.scenario, cfg.camera.width, cfg.camera.height, rng_bg)
        self.n_frames = int(np.sum(self._fsi(np.arange(int(math.ceil(self.n_samples * cfg.video_fps / fs)) + 1)) < self.n_samples))
        self.frame_sample_index = self._fsi(np.arange(self.n_frames))
        self.truth_window = make_window(cfg.truth_window, cfg.truth_nfft)
        # the longest propagation delay a truth window can need: across the room's diagonal
        self._max_delay = int(math.ceil(np.linalg.norm(self.scenario.room_dim) / SPEED_OF_SOUND * fs)) + 1
        self.truth_attrs = truth_attrs(cfg.truth_nfft, cfg.truth_window, [s.sound.level_pa for s in self.sources])

        # output accumulator: column 0 is output time `acc_start`
        self._acc = np.zeros((self.n_mics, int(4 * fs)), dtype=np.float32)
        self._acc_start = -(self.hop + HALF_WIDTH)
        self._t_in = 0

    def _fsi(self, k) -> np.ndarray:
        """Timestamps of frames k on the audio clock: round(k * sample_freq / video_fps)."""
        return np.round(np.asarray(k) * self.cfg.sample_freq / self.cfg.video_fps).astype(np.int64)

    # -- room pieces -----------------------------------------------------------------------
    def _make_tail(self, rng) -> StreamConvolver:
        sc, fs, c = self.scenario, self.cfg.sample_freq, SPEED_OF_SOUND
        ref_order = 12
        centre = np.zeros((1, 3))
        room = sc.make_room(fs, centre, order=ref_order)
        room.sources[0].position = sc.array_to_room(np.array([0.0, 0.0, 3.0]))
        room.image_source_model()
        src = room.sources[0]
        orders, gains, images = src.orders, src.damping[0], src.images.T
        centre_room = sc.array_to_room(centre)
        t_x = np.linalg.norm(images[orders == sc.ism_order + 1] - centre_room, axis=1).min() / c
        full = build_rirs(images, gains, centre_room, fs)[0]
        early = build_rirs(images[orders <= sc.ism_order], gains[orders <= sc.ism_order], centre_room, fs, len(full))[0]
        i0 = int(t_x * fs) + HALF_WIDTH
        win = slice(i0, i0 + int(0.1 * fs))
        target = max(float(np.sum(full[win] ** 2) - np.sum(early[win] ** 2)), 0.0)
        n = int((t_x + 1.1 * sc.rt60) * fs) + HALF_WIDTH
        t = (np.arange(n) - HALF_WIDTH) / fs
        env = np.where(t >= t_x, np.exp(-3 * np.log(10) * (t - t_x) / sc.rt60), 0.0)
        ramp = np.clip((t - t_x) / 0.005, 0, 1)
        env *= 0.5 - 0.5 * np.cos(np.pi * ramp)
        irs = diffuse_irs(self.cfg.geometry.positions, env, fs, rng)
        irs *= math.sqrt(target / max(np.mean(np.sum(irs[:, win] ** 2, axis=1)), 1e-30))
        self.tail_crossover_s = t_x
        self._tail_power_gain = float(np.mean(np.sum(irs.astype(np.float64) ** 2, axis=1)))
        return StreamConvolver(irs, block=4096)

    def _make_background(self, rng) -> StreamConvolver:
        """Distant sources: 8 independent noise inputs, each heard as 3 plane waves from far
        away (30-200 m, low elevation), with air absorption and a traffic-like colour."""
        fs, sc = self.cfg.sample_freq, self.scenario
        n_in, per_in, nfft = 8, 3, 2048
        air = pra.parameters.Physics().get_air_absorption()
        f = np.fft.rfftfreq(nfft, 1 / fs)
        alpha = np.interp(np.log(np.maximum(f, 1.0)), np.log(air["center_freqs"]), air["coeffs"])
        colour = 1 / np.sqrt(1 + (f / 300.0) ** 2)
        irs = []
        for _ in range(n_in):
            az = rng.uniform(-np.pi, np.pi, per_in)
            el = np.radians(rng.uniform(0, 15, per_in))
            dirs_room = np.stack([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)], -1)
            dirs = sc.room_to_array(dirs_room + np.asarray(sc.array_centre))
            dist = rng.uniform(30, 200, per_in)
            delay = rng.uniform(64, 1500, per_in)  # distinct bulk delays decorrelate the waves
            spectra = colour * np.exp(-0.5 * alpha[None, :] * dist[:, None]) * np.exp(-2j * np.pi * f[None, :] * delay[:, None] / fs)
            irs.append(plane_wave_irs(self.cfg.geometry.positions, dirs, spectra, nfft, fs))
        irs = np.stack(irs)
        irs *= sc.background_pa / math.sqrt(np.mean(np.sum(irs.astype(np.float64) ** 2, axis=2).sum(0)))
        return StreamConvolver(irs, block=4096)

    # -- streaming -------------------------------------------------------------------------
    def _add(self, t0: int, y: np.ndarray) -> None:
        off = t0 - self._acc_start
        end = off + y.shape[1]
        if end > self._acc.shape[1]:
            grow = np.zeros((self.n_mics, max(end, 2 * self._acc.shape[1])), dtype=np.float32)
            grow[:, : self._acc.shape[1]] = self._acc
            self._acc = grow
        self._acc[:, off:end] += y

    def _feed(self, n: int) -> list[np.ndarray]:
        """Generate n more samples of every source and convolve what can be; returns the
        sources' new signals."""
        fs, hop = self.cfg.sample_freq, self.hop
        t0 = self._t_in
        signals = []
        for s in self.sources:
            x = s.sound.next(n)
            s.dry.append(x)  # a silent figure's too: its performance draws its arcs
            if s.spec.silent:
                s.next_block = (t0 + n) // hop  # radiates nothing: no blocks to convolve
                continue
            signals.append(x)
            s.sig = np.concatenate([s.sig, x])
            while (s.next_block + 1) * hop <= t0 + n:
                b = s.next_block
                a = b * hop - hop - s.sig_start
                seg = s.sig[a:a + 2 * hop] * self.window
                if s.traj.is_static and s._static_cache is not None:
                    R, L, nfft = s._static_cache
                else:
                    h = s.rir(b * hop / fs)
                    L = h.shape[1]
                    nfft = sfft.next_fast_len(2 * hop + L - 1, real=True)
                    R = sfft.rfft(h, nfft, axis=-1)
                    if s.traj.is_static:
                        s._static_cache = (R, L, nfft)
                y = sfft.irfft(R * sfft.rfft(seg, nfft), nfft, axis=-1)[:, : 2 * hop + L - 1]
                self._add(b * hop - hop - HALF_WIDTH, y.astype(np.float32, copy=False))
                s.next_block += 1
            drop = s.next_block * hop - hop - s.sig_start
            s.sig = s.sig[drop:]
            s.sig_start += drop
        if self._tail is not None:
            x = np.sum(signals, axis=0) if signals else np.zeros(n)
            if self.cfg.noise and self.scenario.hvac_pa:
                w = self._rng_noise.standard_normal(n)
                hv, self._hvac_zi = signal.sosfilt(self._hvac_sos, w, zi=self._hvac_zi)
                # scaled so the reverberant ventilation noise has hvac_pa RMS at the array
                x = x + hv * self._hvac_gain
            self._add(t0 - HALF_WIDTH, self._tail.process(x[None, :]))
        self._t_in += n
        return signals

    def _ready(self) -> int:
        """Output time before which nothing more will be added."""
        nb = min(s.next_block for s in self.sources)
        return min(nb * self.hop - self.hop - HALF_WIDTH, self._t_in - HALF_WIDTH)

    def _take(self, t_end: int) -> np.ndarray:
        """Pop output samples [acc_start, t_end) as (M, n), adding the additive noises."""
        k = t_end - self._acc_start
        y = self._acc[:, :k].copy()
        self._acc = np.concatenate([self._acc[:, k:], np.zeros((self.n_mics, k), np.float32)], axis=1)
        self._acc_start = t_end
        if self.cfg.noise:
            sc, rng = self.scenario, self._rng_noise
            if self._background is not None:
                y += self._background.process(rng.standard_normal((self._background.n_in, k)))
            if sc.wind_pa:
                w, self._wind_zi = signal.sosfilt(self._wind_sos, rng.standard_normal((k, self.n_mics)), axis=0, zi=self._wind_zi)
                g, self._gust_zi = signal.sosfilt(self._gust_sos, rng.standard_normal(k), zi=self._gust_zi)
                gust = 0.4 + np.abs(g) * 40.0  # slow gusts: the envelope of low-passed noise
                y += (w * (gust / max(np.sqrt(np.mean(gust**2)), 1e-9))[:, None] * (sc.wind_pa / math.sqrt(120 * 2 / self.cfg.sample_freq))).T.astype(np.float32)
            y += rng.standard_normal(y.shape, dtype=np.float32) * np.float32(sc.sensor_noise_pa)
        if self.cfg.array_errors is not None:
            y = self.cfg.array_errors.wire(y, self._rng_noise)
        return y

    def chunks(self) -> Iterator[Chunk]:
        """Yield the session in groups of FRAMES_PER_CHUNK frames, in order. A group leaves once
        its audio is final and its frames' truth windows lie within the signals generated."""
        half = self.cfg.truth_nfft // 2
        out, out_start = [], 0  # pending output (M, n) pieces from time out_start
        have = 0
        pending = []  # per group: (start sample, end sample, frame indices)
        g = 0
        while True:
            start_f = g * FRAMES_PER_CHUNK
            if start_f >= self.n_frames and not pending:
                break
            a, b = (int(v) for v in self._fsi([start_f, start_f + FRAMES_PER_CHUNK]))
            self._feed(b - a)
            if start_f < self.n_frames:
                idx = np.arange(start_f, min(start_f + FRAMES_PER_CHUNK, self.n_frames))
                pending.append((a, min(b, self.n_samples), idx))
            ready = self._ready()
            if ready > self._acc_start:
                piece_start = self._acc_start
                piece = self._take(ready)
                if piece_start < 0:  # the pipeline's warm-up lies before time 0
                    piece = piece[:, min(-piece_start, piece.shape[1]):]
                out.append(piece)
                have += piece.shape[1]
            while pending and out_start + have >= pending[0][1] and \
                    self._t_in >= min(int(self._fsi(pending[0][2][-1])) + half, self.n_samples):
                ga, gb, idx = pending.pop(0)
                truth, frames = self._video(idx)
                audio = np.concatenate(out, axis=1) if len(out) > 1 else out[0]
                chunk_audio, rest = audio[:, : gb - ga], audio[:, gb - ga:]
                out, have, out_start = [rest], rest.shape[1], gb
                direct = np.zeros((gb - ga, len(self.sources)), np.float32)
                if self.keep_direct:
                    for j, src in enumerate(self.sources):
                        if not src.spec.silent:
                            direct[:, j] = direct_sound(src.dry, src.traj.position, ga, gb - ga, self.cfg.sample_freq)
                yield Chunk(ga, np.ascontiguousarray(chunk_audio.T), frames, self._fsi(idx), truth, direct)
                keep = int(self._fsi(idx[-1] + 1)) - half - self._max_delay
                for src in self.sources:
                    src.dry.drop_before(keep)
            g += 1

    def _video(self, idx: np.ndarray):
        """Ground truth on each frame's analysed window (:mod:`.truth`), and the drawn frames."""
        cfg = self.cfg
        cam = cfg.view_camera
        fsi = self._fsi(idx)
        t = fsi / cfg.sample_freq
        pos = np.stack([s.traj.position(t) for s in self.sources], axis=1)  # (k, S, 3)
        pix, front = cam.project(pos)
        visible = front & cam.in_image(pix)
        dist = np.linalg.norm(pos, axis=-1)  # to the array-frame origin, the beamformer's reference
        level = np.stack([window_levels(s.dry, fsi, dist[:, j], self.truth_window, cfg.sample_freq, self.n_samples)
                          for j, s in enumerate(self.sources)], axis=1)
        nominal = np.stack([nominal_level_db(s.sound.level_pa, dist[:, j]) for j, s in enumerate(self.sources)], axis=1)
        performing = level > nominal + self.truth_attrs["active_threshold_db"]
        silent = np.array([s.spec.silent for s in self.sources])
        active = performing & ~silent
        level[:, silent] = -np.inf  # the truth is what reaches the array
        frames = np.empty((len(idx), cfg.camera.height, cfg.camera.width, 3), dtype=np.uint8)
        # what the picture shows: the scene video_delay before the frame's stamp
        t_pic = t - cfg.video_delay
        pos_pic = np.stack([s.traj.position(t_pic) for s in self.sources], axis=1) if cfg.video_delay else pos
        pix_pic, front_pic = cam.project(pos_pic) if cfg.video_delay else (pix, front)
        shown = performing.copy()
        for j, s in enumerate(self.sources):
            if hasattr(s.sound, "onsets"):  # an LED lit by each click, light being instant
                on = np.asarray(s.sound.onsets) / cfg.sample_freq
                shown[:, j] = [bool(np.any((on <= tp) & (on > tp - s.sound.led_seconds))) for tp in t_pic]
        for i, k in enumerate(idx):
            sprites = [
                SourceSprite(s.spec.label, (float(pix_pic[i, j, 0]), float(pix_pic[i, j, 1])),
                             float(np.linalg.norm(pos_pic[i, j] - cam.position)), bool(shown[i, j]),
                             *((self.subject.clothes, self.subject.skin) if self.subject is not None else ()))
                for j, s in enumerate(self.sources) if front_pic[i, j]
            ]
            frames[i] = draw_frame(self.background_image, sprites, int(k))
            if cfg.marker_size:
                for j in np.argsort(-np.linalg.norm(pos_pic[i] - cam.position, axis=-1)):
                    if front_pic[i, j]:
                        draw_marker(frames[i], marker_corners(cam, pos_pic[i, j], cfg.marker_size), int(j))
        truth = {"position": pos, "pixel": pix, "visible": visible, "active": active,
                 "level_db": level.astype(np.float32)}
        return truth, frames


def marker_corners(camera: Camera, centre: np.ndarray, side: float) -> np.ndarray:
    """Pixels (4, 2) of the corners of a square marker of ``side`` metres centred on ``centre``
    (array frame), facing ``camera``: top-left, top-right, bottom-right, bottom-left."""
    h = side / 2
    q = camera.rotation @ np.asarray(centre, dtype=np.float64) + camera.translation
    offsets = np.array([[-h, -h, 0], [h, -h, 0], [h, h, 0], [-h, h, 0]])
    uv, _ = camera.project((q + offsets - camera.translation) @ camera.rotation)
    return uv


def session_writer(cfg: SimConfig, sim: "Simulator", path: str | Path, *, overwrite: bool = False) -> SessionWriter:
    """The session file a simulation is written to, with its metadata: one owner for
    ``acam capture`` and the live view's ``--simulated --record``, so both write the same file."""
    meta = {
        "device": "simulated DualCam (pyroomacoustics)", "scenario": cfg.scenario,
        "label": ",".join(s.label for s in cfg.sources if not s.silent),
        "subject": f"subject-{cfg.subject:02d}" if cfg.subject is not None else f"sim-seed-{cfg.seed}",
        "simulation": {
            "seed": cfg.seed, "room_seed": cfg.room_seed, "duration": cfg.duration, "hop": sim.hop, "ism_order": sim.scenario.ism_order,
            "sources": [{"label": s.label, "motion": s.motion, "position": s.position, "level_pa": s.level_pa,
                         "silent": s.silent} for s in cfg.sources],
            "noise": cfg.noise, "units": "pascal",
            "true_camera": None if cfg.true_camera is None else cfg.true_camera.to_dict(),
            "marker_size": cfg.marker_size, "video_delay": cfg.video_delay, "subject": cfg.subject,
        },
    }
    return SessionWriter(path, sample_freq=cfg.sample_freq, geometry=cfg.geometry, camera=cfg.camera,
                         video_fps=cfg.video_fps, metadata=meta, source_labels=sim.labels, truth_attrs=sim.truth_attrs,
                         overwrite=overwrite)


def simulate_to_file(cfg: SimConfig, path: str | Path, *, overwrite: bool = False,
                     progress: Callable[[int, int], None] | None = None,
                     should_stop: Callable[[], str | None] | None = None, direct: bool = False) -> dict:
    """Simulate `cfg` into a session file; returns a summary (seconds, real-time factor...).

    ``should_stop`` is polled after every second of audio; when it returns a reason (e.g.
    "SIGINT") the capture ends there and the file is closed cleanly with that reason.
    ``direct``: the summary's ``direct`` holds (samples, sources) float32, each source's direct
    sound at the array's reference point (not stored in the session: the reference a separation
    is measured against)."""
    t0 = time.perf_counter()
    stopped_by = None
    sim = Simulator(cfg, keep_direct=direct)
    kept = []
    with session_writer(cfg, sim, path, overwrite=overwrite) as w:
        for ch in sim.chunks():
            w.write_frames(ch.frames, ch.frame_sample_index, ch.truth)
            w.write_audio(ch.audio)
            if direct:
                kept.append(ch.direct)
            w.flush()
            if progress:
                progress(w.n_samples, sim.n_samples)
            stopped_by = should_stop() if should_stop else None
            if stopped_by:
                w.close(f"stopped by {stopped_by}")
                break
        n_samples, n_frames = w.n_samples, w.n_frames
    seconds = time.perf_counter() - t0
    return {"path": str(path), "samples": n_samples, "frames": n_frames, "duration_s": n_samples / cfg.sample_freq,
            "wall_s": seconds, "realtime_factor": (n_samples / cfg.sample_freq) / seconds, "version": __version__,
            "stopped_by": stopped_by,
            **({"direct": np.concatenate(kept)[:n_samples]} if direct else {})}
