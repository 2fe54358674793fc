"""Synthesized sound classes for the simulated acoustic camera.

The classes follow the DualCam action dataset, in which people make everyday
sounds in front of an acoustic camera:

- ``clapping``: broadband noise bursts coloured by two resonances (1-2.5 kHz),
  2-4 claps per second with jitter and occasional pauses of 1-2 s.
- ``snapping``: very short bright bursts around 2-4 kHz, irregular, 1-2 per second.
- ``whistling``: a gliding tone (900-2500 Hz) with vibrato and weak breath noise,
  in phrases separated by short inhales and silences.
- ``knocking``: groups of 2-4 knocks (damped 150-600 Hz modes plus a click),
  a group every 1-2 s.
- ``typing``: irregular short clicks (1.5-4 kHz), 6-10 per second, now and then
  a heavier, lower space-bar click.
- ``paper_ripping``: band-passed noise (1-5 kHz) with fast random amplitude
  modulation and dense micro-impulses, in rips of 0.3-1 s.
- ``speech``: babble from a glottal pulse train through three moving formant
  resonators, syllables at about 4 Hz, fricative bursts, pauses between phrases.
- ``hammering``: metallic strikes of damped inharmonic partials (0.8-4 kHz)
  plus an impact click, 1.5-3 strikes per second.
- ``kendama``: the wooden ball landing in a cup or on the spike: short "tok"s of
  wood modes (1.2-3 kHz, 4-12 ms decay), in runs of 2-6 tricks 0.35-0.8 s apart,
  now and then a quick double (a bounce in the cup), pauses of 1-2 s.
- ``clicking``: a ballpoint pen's button: a press and a release 50-120 ms apart,
  each a sub-millisecond click of a stiff plastic mode (3-4.5 kHz), 1-2.5 pairs a second.
- ``peanut_breaking``: a shell snapping: one sharp broadband crack, then 0.1-0.4 s
  of sparse crunching as the halves separate, every 1.5-3.5 s.
- ``plastic_crumpling``: a bag or bottle crushed in the hands: dense crackle of
  heavy-tailed clicks at random pitches (1.5-5 kHz), 60-250 a second, in bouts of
  1-3 s.
- ``paper_shaking``: a sheet shaken back and forth: high rustle noise (1.5-6 kHz)
  whose loudness swells with each stroke, 3-6 strokes a second, in bouts of 1-3 s.
- ``stick_dropping``: a wooden stick dropped on the floor: a loud first impact of
  low wood modes (250-1200 Hz) and bounces whose gaps and strength shrink by the
  restitution (0.35-0.6) each time, a drop every 2-4 s.

Each source is a stream: :meth:`SoundSource.next` returns the next block of
sound pressure in pascal at 1 m (free field) as float32.  Sources render fixed
0.25 s chunks internally, so the output is bit-identical however the caller
splits it into blocks, and memory stays bounded for streams of any length.
All randomness comes from the generator passed to :func:`make_sound`.
Frequencies are clamped to 0.4*fs and a final low-pass keeps content below
0.45*fs, so any sample rate from 8 kHz up works.
"""

import numpy as np
from scipy import signal

from ..catalog import REFERENCE_SOUNDS, SOUND_CLASSES
from ..errors import AcamError


_CHUNK_S = 0.25
_F_MAX = 0.4  # highest frequency any generator aims at, as a fraction of fs


def _clamp(f, fs):
    return np.minimum(f, _F_MAX * fs)


def _reson(f, bw, fs):
    """(b, a) of a two-pole resonator at f (Hz) with bandwidth bw and unit peak gain."""
    r = np.exp(-np.pi * bw / fs)
    th = 2 * np.pi * _clamp(f, fs) / fs
    b0 = (1 - r) * np.sqrt(1 - 2 * r * np.cos(2 * th) + r * r)
    return [b0], [1.0, -2 * r * np.cos(th), r * r]


def _bandpass(lo, hi, fs, order=2):
    hi = float(_clamp(hi, fs))
    return signal.butter(order, [min(lo, 0.5 * hi), hi], btype="bandpass", fs=fs, output="sos")


def _lowpass(fc, fs):
    return signal.butter(2, float(_clamp(fc, fs)), fs=fs, output="sos")


def _burst(rng, n, tau, fs):
    """n samples of Gaussian noise with an exponential decay of time constant tau (s)."""
    return rng.standard_normal(n) * np.exp(-np.arange(n) / (tau * fs))


def _modes(freqs, taus, amps, n, fs):
    """Sum of exponentially damped sinusoids; sine phase so the onset has no step."""
    t = np.arange(n)[:, None] / fs
    return (amps * np.exp(-t / taus) * np.sin(2 * np.pi * freqs * t)).sum(axis=1)


def _struck(r, fs, freqs, taus, detune, seconds, click_lp, click_seconds, click_tau, click_gain):
    """A struck body: its damped modes, each detuned by up to +-``detune`` and of random
    strength, plus the low-passed click of the impact at the start."""
    k = len(freqs)
    y = _modes(freqs * r.uniform(1 - detune, 1 + detune, k), taus, r.uniform(0.5, 1.0, k), int(seconds * fs), fs)
    click = signal.sosfilt(click_lp, _burst(r, int(click_seconds * fs), click_tau, fs))
    y[:len(click)] += click_gain * click
    return y


def _gain(rng, sigma):
    """Random log-normal gain with mean square 1, so it leaves the long-term level alone."""
    return float(np.exp(sigma * rng.standard_normal() - sigma ** 2))


def _ramp(m):
    return 0.5 - 0.5 * np.cos(np.pi * np.arange(m) / max(m, 1))


class SoundSource:
    """A stream of sound pressure from one synthesized source.

    Attributes:
        label: the sound class, one of :data:`SOUND_CLASSES`.
        fs: sample rate in Hz.
        level_pa: target long-term RMS pressure at 1 m in Pa.

    Subclasses implement ``_render_chunk()``, returning the next ``self._chunk``
    samples as float64.
    """

    label = ""
    typical_level_pa = 0.2  # long-term RMS at 1 m, Pa, of the class as people make it (0.2 Pa = 80 dB SPL)

    def __init__(self, fs, rng, level_pa, traits=None):
        if not fs >= 8000:
            raise AcamError(f"sample rate: expected at least 8000 Hz, found {fs:g}")
        self.fs = float(fs)
        self.level_pa = float(level_pa)
        # A child generator makes the source independent of later use of rng.
        self._rng = rng.spawn(1)[0]
        # What stays the same for one person (pitch, timbre, tempo) is drawn from ``traits``, a
        # subject's generator, when given; the events themselves from ``rng``
        self._traits = traits.spawn(1)[0] if traits is not None else self._rng
        self._chunk = int(round(_CHUNK_S * self.fs))
        self._buf = np.zeros(0, np.float32)
        # Noise bursts and pulse trains are broadband; this low-pass (flat to
        # 0.41 fs, >50 dB down from 0.44 fs) guarantees nothing near Nyquist.
        self._aa_sos = signal.ellip(6, 0.1, 60, 0.41 * self.fs, fs=self.fs, output="sos")
        self._aa_zi = np.zeros((self._aa_sos.shape[0], 2))

    def next(self, n: int) -> np.ndarray:
        """The next n samples, float32 shape (n,): sound pressure in pascal as it
        would be measured 1 m from the source in free field."""
        n = int(n)
        if n < 0:
            raise AcamError(f"samples: expected a non-negative count, found {n}")
        pieces, have = [self._buf], len(self._buf)
        while have < n:
            chunk, self._aa_zi = signal.sosfilt(self._aa_sos, self._render_chunk(), zi=self._aa_zi)
            pieces.append(chunk.astype(np.float32))
            have += len(chunk)
        buf = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
        self._buf = buf[n:]
        return buf[:n].copy()

    def _render_chunk(self) -> np.ndarray:
        raise NotImplementedError


class _EventSound(SoundSource):
    """Events (single sounds or whole phrases) at random times, mixed into an
    accumulation buffer whose tail carries over into the following chunks.

    Subclasses implement ``_event()`` returning (waveform, seconds to next event).
    """

    def __init__(self, fs, rng, level_pa, traits=None):
        super().__init__(fs, rng, level_pa, traits)
        self._acc = np.zeros(self._chunk)
        self._t_next = int(self._rng.uniform(0.0, 0.3) * self.fs)  # relative to chunk start

    def _event(self) -> tuple[np.ndarray, float]:
        raise NotImplementedError

    def _scaled(self, wave, seconds, gain=1.0):
        """Scale wave so that one such event every `seconds` on average gives level_pa RMS."""
        energy = np.sum(wave ** 2) / self.fs
        return wave * (gain * self.level_pa * np.sqrt(seconds / energy)) if energy > 0 else wave

    def _render_chunk(self):
        c = self._chunk
        while self._t_next < c:
            wave, gap = self._event()
            end = self._t_next + len(wave)
            if end > len(self._acc):
                self._acc = np.concatenate([self._acc, np.zeros(end - len(self._acc))])
            self._acc[self._t_next:end] += wave
            self._t_next += max(1, int(round(gap * self.fs)))
        out = self._acc[:c]
        self._acc = np.concatenate([self._acc[c:], np.zeros(max(0, 2 * c - len(self._acc)))])
        self._t_next -= c
        return out


class _Clapping(_EventSound):
    label = "clapping"
    typical_level_pa = 0.3

    def __init__(self, fs, rng, level_pa, traits=None):
        super().__init__(fs, rng, level_pa, traits)
        r = self._traits
        self._period = r.uniform(0.25, 0.45)
        # The cavity between the hands gives each person a couple of resonances.
        self._res = [(r.uniform(1000, 1500), r.uniform(250, 450)),
                     (r.uniform(1800, 2500), r.uniform(300, 600))]
        # Keeps the broadband part of the clap similar at every sample rate.
        self._lp = _lowpass(6000, self.fs)
        self._p_pause = 0.06
        self._mean_gap = self._period + self._p_pause * 1.5

    def _event(self):
        r, fs = self._rng, self.fs
        x = _burst(r, int(0.05 * fs), r.uniform(0.002, 0.004), fs)
        y = 0.4 * signal.sosfilt(self._lp, x)
        for f, bw in self._res:
            y += r.uniform(0.6, 1.0) * signal.lfilter(*_reson(f * r.uniform(0.95, 1.05), bw, fs), x)
        gap = self._period * r.uniform(0.85, 1.15)
        if r.random() < self._p_pause:
            gap += r.uniform(1.0, 2.0)
        return self._scaled(y, self._mean_gap, _gain(r, 0.3)), gap


class _Snapping(_EventSound):
    label = "snapping"
    typical_level_pa = 0.15

    def __init__(self, fs, rng, level_pa, traits=None):
        super().__init__(fs, rng, level_pa, traits)
        self._fc = self._traits.uniform(2000, 3500)
        self._bw = self._traits.uniform(1000, 1800)

    def _event(self):
        r, fs = self._rng, self.fs
        x = _burst(r, int(0.015 * fs), r.uniform(0.0008, 0.0015), fs)
        fc = self._fc * r.uniform(0.9, 1.1)
        y = signal.lfilter(*_reson(fc, self._bw, fs), x)
        y += 0.5 * signal.lfilter(*_reson(1.7 * fc, 1.5 * self._bw, fs), x)
        return self._scaled(y, 0.7, _gain(r, 0.3)), r.uniform(0.4, 1.0)


class _Knocking(_EventSound):
    label = "knocking"
    typical_level_pa = 0.2

    def __init__(self, fs, rng, level_pa, traits=None):
        super().__init__(fs, rng, level_pa, traits)
        r = self._traits
        k = int(r.integers(2, 4))
        self._f = r.uniform(150, 600, k)  # modes of the door or table being knocked
        self._tau = r.uniform(0.015, 0.045, k)
        self._intra = r.uniform(0.13, 0.22)
        self._left = 0
        self._click_lp = _lowpass(2000, self.fs)
        # Groups of 2-4 (mean 3) knocks, then 0.8-1.6 s (mean 1.2) to the next group.
        self._mean_gap = (2 * self._intra + 1.2) / 3

    def _event(self):
        r, fs = self._rng, self.fs
        if self._left == 0:
            self._left = int(r.integers(2, 5))
        self._left -= 1
        y = _struck(r, fs, self._f, self._tau, 0.03, 5 * self._tau.max(), self._click_lp, 0.004, 0.0004, 0.5)
        gap = self._intra * r.uniform(0.85, 1.15) if self._left else r.uniform(0.8, 1.6)
        return self._scaled(y, self._mean_gap, _gain(r, 0.25)), gap


class _Typing(_EventSound):
    label = "typing"
    typical_level_pa = 0.05
    _P_SPACE = 0.12

    def __init__(self, fs, rng, level_pa, traits=None):
        super().__init__(fs, rng, level_pa, traits)
        self._fc = self._traits.uniform(2000, 3200)
        # Normal keys get gain c, the space bar 2c; c keeps the mean square at 1.
        self._c = 1 / np.sqrt(1 - self._P_SPACE + 4 * self._P_SPACE)

    def _event(self):
        r, fs = self._rng, self.fs
        if r.random() < self._P_SPACE:
            tau, fc, g = r.uniform(0.0015, 0.0025), r.uniform(1000, 1600), 2 * self._c
        else:
            tau, fc, g = r.uniform(0.0006, 0.0012), self._fc * r.uniform(0.75, 1.25), self._c
        y = signal.lfilter(*_reson(fc, 700, fs), _burst(r, int(0.015 * fs), tau, fs))
        gap = 0.035 + r.gamma(2.0, 0.045)  # mean 0.125 s: 8 keys per second
        return self._scaled(y, 0.125, g * _gain(r, 0.2)), gap


class _PaperRipping(_EventSound):
    label = "paper_ripping"
    typical_level_pa = 0.1

    def __init__(self, fs, rng, level_pa, traits=None):
        super().__init__(fs, rng, level_pa, traits)
        r = self._traits
        self._bp = _bandpass(r.uniform(900, 1300), r.uniform(4000, 5500), self.fs)
        self._rate = r.uniform(300, 900)  # micro-impulses per second
        self._am_a = np.exp(-2 * np.pi * 150 / self.fs)

    def _event(self):
        r, fs = self._rng, self.fs
        dur = r.uniform(0.3, 1.0)
        n = int(dur * fs)
        noise = signal.sosfilt(self._bp, r.standard_normal(n))
        a = self._am_a
        am = np.abs(signal.lfilter([1 - a], [1, -a], r.standard_normal(n)))
        texture = noise * am
        imp = (r.random(n) < self._rate / fs) * r.standard_normal(n) * r.exponential(1.0, n)
        crackle = signal.sosfilt(self._bp, imp)
        y = texture / (texture.std() + 1e-12) + crackle / (crackle.std() + 1e-12)
        # The tearing speed wanders, so the loudness does too.
        slow = np.interp(np.arange(n), np.linspace(0, n, int(dur / 0.05) + 2), r.uniform(0.4, 1.0, int(dur / 0.05) + 2))
        na, nr = int(0.015 * fs), int(0.04 * fs)
        slow[:na] *= _ramp(na)
        slow[-nr:] *= _ramp(nr)[::-1]
        return self._scaled(y * slow, dur + 0.75), dur + r.uniform(0.3, 1.2)


class _Speech(_EventSound):
    label = "speech"
    typical_level_pa = 0.06
    _F_LO = np.array([300.0, 900.0, 2300.0])
    _F_HI = np.array([800.0, 2300.0, 3000.0])
    _BW = np.array([80.0, 110.0, 160.0])

    def __init__(self, fs, rng, level_pa, traits=None):
        super().__init__(fs, rng, level_pa, traits)
        self._f0 = self._traits.uniform(100, 220)
        self._fric_bp = _bandpass(2500, 6000, self.fs)
        self._hop = int(round(0.01 * self.fs))  # formants move every 10 ms
        p = np.exp(-2 * np.pi * 200 / self.fs)
        self._glottal = ([(1 - p) ** 2], [1, -2 * p, p * p])

    def _event(self):
        r, fs, hop = self._rng, self.fs, self._hop
        n_syl = int(r.integers(3, 11))
        bounds = np.round(np.concatenate([[0], np.cumsum(r.uniform(0.15, 0.35, n_syl))]) * fs).astype(int)
        n = bounds[-1]
        t = np.arange(n) / fs
        centres = (bounds[:-1] + bounds[1:]) / (2 * fs)
        # Intonation: declination over the phrase plus an accent on each syllable.
        f0 = self._f0 * np.linspace(1.08, 0.9, n) * np.interp(t, centres, r.uniform(0.92, 1.12, n_syl))
        pulses = np.diff(np.floor(np.cumsum(f0 / fs)), prepend=0.0)
        # Glottal roll-off (-12 dB/oct) and lip radiation (+6 dB/oct, no DC).
        src = np.diff(signal.lfilter(*self._glottal, pulses), prepend=0.0)

        n_fr = -(-n // hop)
        ft = (np.arange(n_fr) + 0.5) * hop / fs
        targets = r.uniform(self._F_LO, self._F_HI, (n_syl, 3))
        th = 2 * np.pi * _clamp(np.stack([np.interp(ft, centres, targets[:, k]) for k in range(3)], 1), fs) / fs
        rr = np.exp(-np.pi * self._BW / fs)
        sos = np.zeros((n_fr, 3, 6))
        sos[..., 0] = 1 - 2 * rr * np.cos(th) + rr * rr  # unit DC gain keeps the source tilt
        sos[..., 3], sos[..., 4], sos[..., 5] = 1.0, -2 * rr * np.cos(th), rr * rr
        voiced, zi = np.empty(n), np.zeros((3, 2))
        for i in range(n_fr):
            s = slice(i * hop, (i + 1) * hop)
            voiced[s], zi = signal.sosfilt(sos[i], src[s], zi=zi)

        env = np.zeros(n)
        fric_env = np.zeros(n)
        for a, b in zip(bounds[:-1], bounds[1:]):
            env[a:b] = np.sin(np.pi * (np.arange(b - a) + 0.5) / (b - a)) ** 1.5 * r.uniform(0.5, 1.0)
            if r.random() < 0.35:
                m = int(min(r.uniform(0.05, 0.12) * fs, b - a))
                fric_env[a:a + m] = np.hanning(m)
        voiced *= env
        fric = signal.sosfilt(self._fric_bp, r.standard_normal(n))
        y = voiced / (voiced.std() + 1e-12) + 0.4 * fric_env * fric / (fric.std() + 1e-12)
        return self._scaled(y, n / fs + 0.65), n / fs + r.uniform(0.3, 1.0)


class _Whistling(_EventSound):
    label = "whistling"
    typical_level_pa = 0.2

    def __init__(self, fs, rng, level_pa, traits=None):
        super().__init__(fs, rng, level_pa, traits)
        r = self._traits
        self._range = (900.0, float(min(2500.0, _F_MAX * self.fs)))
        self._base = r.uniform(1100, 1600)
        self._vib = (r.uniform(4.5, 5.8), r.uniform(0.006, 0.015))  # rate (Hz), relative depth
        self._breath_bp = _bandpass(800, 5000, self.fs)
        self._inhale_bp = _bandpass(300, 2500, self.fs)
        self._glide_a = np.exp(-1 / (0.03 * self.fs))

    def _event(self):
        r, fs = self._rng, self.fs
        lo, hi = self._range
        n_notes = int(r.integers(4, 12))
        lens = np.round(r.uniform(0.2, 0.6, n_notes) * fs).astype(int)
        notes, f = np.empty(n_notes), self._base
        for i in range(n_notes):
            g = f * 2 ** (r.integers(-4, 5) / 12)
            f = g if lo <= g <= hi else f * f / g  # reflect the melody at the range edges
            notes[i] = f
        notes = np.clip(notes, lo, hi)
        n = int(lens.sum())
        f_step = np.repeat(notes, lens)
        a = self._glide_a
        f_glide, _ = signal.lfilter([1 - a], [1, -a], f_step, zi=[a * f_step[0]])
        t = np.arange(n) / fs
        rate, depth = self._vib
        phase = 2 * np.pi * np.cumsum(f_glide * (1 + depth * np.sin(2 * np.pi * rate * t))) / fs
        amp = np.ones(n)
        w = int(0.06 * fs)
        for b in np.cumsum(lens)[:-1]:  # a slight dip as the lips re-articulate each note
            i0, i1 = max(0, b - w), min(n, b + w)
            amp[i0:i1] -= 0.35 * np.exp(-0.5 * ((np.arange(i0, i1) - b) / (0.015 * fs)) ** 2)
        na, nr = int(0.04 * fs), int(0.08 * fs)
        amp[:na] *= _ramp(na)
        amp[-nr:] *= _ramp(nr)[::-1]
        breath = signal.sosfilt(self._breath_bp, r.standard_normal(n))
        tone = amp * (np.sin(phase) + 0.04 * breath / breath.std())
        m = int(r.uniform(0.15, 0.3) * fs)
        inhale = signal.sosfilt(self._inhale_bp, r.standard_normal(m))
        inhale *= 0.06 / inhale.std() * np.hanning(m)
        wave = np.concatenate([tone, inhale])
        seconds = len(wave) / fs
        return self._scaled(wave, seconds + 0.3), seconds + r.uniform(0.1, 0.5)


class _Hammering(_EventSound):
    label = "hammering"
    typical_level_pa = 0.4

    def __init__(self, fs, rng, level_pa, traits=None):
        super().__init__(fs, rng, level_pa, traits)
        r = self._traits
        # Inharmonic ratios like a struck bar or plate; the top one stays below 4 kHz.
        ratios = np.array([1.0, r.uniform(1.52, 1.62), r.uniform(2.1, 2.3),
                           r.uniform(2.75, 2.95), r.uniform(3.3, 3.45)])
        self._f = _clamp(r.uniform(800, 1150) * ratios, self.fs)
        self._tau = r.uniform(0.05, 0.15, 5)
        self._amp = r.uniform(0.4, 1.0, 5)
        self._period = r.uniform(0.33, 0.6)
        self._click_lp = _lowpass(6000, self.fs)

    def _event(self):
        r, fs = self._rng, self.fs
        y = _modes(self._f * r.uniform(0.995, 1.005, 5), self._tau, self._amp * r.uniform(0.7, 1.3, 5),
                   int(4 * self._tau.max() * fs), fs)
        click = signal.sosfilt(self._click_lp, _burst(r, int(0.003 * fs), 0.0005, fs))
        y[:len(click)] += 1.5 * click
        return self._scaled(y, self._period, _gain(r, 0.25)), self._period * r.uniform(0.9, 1.1)


class _Kendama(_EventSound):
    label = "kendama"
    typical_level_pa = 0.15

    def __init__(self, fs, rng, level_pa, traits=None):
        super().__init__(fs, rng, level_pa, traits)
        r = self._traits
        self._f = _clamp(r.uniform(1200, 1700) * np.array([1.0, r.uniform(1.45, 1.6), r.uniform(1.85, 2.05)]), self.fs)
        self._tau = r.uniform(0.004, 0.012, 3)
        self._tempo = r.uniform(0.35, 0.8)
        self._left = 0
        self._click_lp = _lowpass(5000, self.fs)
        self._mean_gap = self._tempo + 1.5 / 4

    def _tok(self, gain):
        return gain * _struck(self._rng, self.fs, self._f, self._tau, 0.03, 0.06, self._click_lp, 0.002, 0.0003, 0.6)

    def _event(self):
        r, fs = self._rng, self.fs
        if self._left == 0:
            self._left = int(r.integers(2, 7))
        self._left -= 1
        y = self._tok(1.0)
        if r.random() < 0.25:  # the ball bounces once in the cup before it settles
            d = int(r.uniform(0.03, 0.06) * fs)
            y = np.concatenate([y, np.zeros(d)])
            y[d:d + int(0.06 * fs)] += self._tok(0.4)
        gap = self._tempo * r.uniform(0.85, 1.15) if self._left else r.uniform(1.0, 2.0)
        return self._scaled(y, self._mean_gap, _gain(r, 0.25)), gap


class _Clicking(_EventSound):
    label = "clicking"
    typical_level_pa = 0.05

    def __init__(self, fs, rng, level_pa, traits=None):
        super().__init__(fs, rng, level_pa, traits)
        r = self._traits
        self._fc = float(_clamp(r.uniform(3000, 4500), self.fs))
        self._hold = r.uniform(0.05, 0.12)  # press to release
        self._rate = r.uniform(1.0, 2.5)  # pairs per second

    def _click(self, fc, gain):
        r, fs = self._rng, self.fs
        return gain * signal.lfilter(*_reson(fc * r.uniform(0.97, 1.03), 400, fs), _burst(r, int(0.006 * fs), 0.0003, fs))

    def _event(self):
        r, fs = self._rng, self.fs
        d = int(self._hold * r.uniform(0.85, 1.15) * fs)
        y = np.zeros(d + int(0.006 * fs))
        y[:int(0.006 * fs)] += self._click(self._fc, 1.0)
        y[d:] += self._click(0.8 * self._fc, 0.6)  # the release: softer, a little lower
        return self._scaled(y, 1 / self._rate, _gain(r, 0.2)), r.exponential(0.5 / self._rate) + 0.5 / self._rate


class _PeanutBreaking(_EventSound):
    label = "peanut_breaking"
    typical_level_pa = 0.08

    def __init__(self, fs, rng, level_pa, traits=None):
        super().__init__(fs, rng, level_pa, traits)
        self._crack_hp = signal.butter(2, 1500, btype="highpass", fs=self.fs, output="sos")
        self._crunch_bp = _bandpass(2000, 5000, self.fs)

    def _event(self):
        r, fs = self._rng, self.fs
        crack = signal.sosfilt(self._crack_hp, _burst(r, int(0.01 * fs), r.uniform(0.0005, 0.0012), fs))
        n = int(r.uniform(0.1, 0.4) * fs)
        rate = r.uniform(40, 120)  # crunches per second, slowing as the shell gives
        t = np.arange(n) / fs
        hits = (r.random(n) < rate / fs * np.exp(-t / (n / fs / 2))) * r.standard_normal(n)
        crunch = signal.sosfilt(self._crunch_bp, hits)
        crunch *= 0.25 / (np.abs(crunch).max() + 1e-12)
        y = np.concatenate([crack / (np.abs(crack).max() + 1e-12), np.zeros(n)])
        y[int(0.01 * fs):] += crunch
        return self._scaled(y, 2.5, _gain(r, 0.3)), r.uniform(1.5, 3.5)


class _PlasticCrumpling(_EventSound):
    label = "plastic_crumpling"
    typical_level_pa = 0.12

    def __init__(self, fs, rng, level_pa, traits=None):
        super().__init__(fs, rng, level_pa, traits)
        self._rate = self._traits.uniform(60, 250)  # crackles per second within a bout

    def _event(self):
        r, fs = self._rng, self.fs
        dur = r.uniform(1.0, 3.0)
        n = int(dur * fs)
        y = np.zeros(n + int(0.01 * fs))
        k = r.poisson(self._rate * dur)
        at = np.sort(r.integers(0, n, k))
        amp = (r.pareto(1.8, k) + 1) * r.choice([-1, 1], k)  # a few loud snaps among many small ones
        for a, g, fc in zip(at, amp, r.uniform(1500, 5000, k)):
            m = int(0.004 * fs)
            y[a:a + m] += g * signal.lfilter(*_reson(fc, 900, fs), _burst(r, m, 0.0004, fs))
        # the hands squeeze and relax: the crackle thins and thickens
        env = np.interp(np.arange(len(y)), np.linspace(0, len(y), int(dur / 0.2) + 2), r.uniform(0.3, 1.0, int(dur / 0.2) + 2))
        return self._scaled(y * env, dur + 0.6), dur + r.uniform(0.3, 0.9)


class _PaperShaking(_EventSound):
    label = "paper_shaking"
    typical_level_pa = 0.1

    def __init__(self, fs, rng, level_pa, traits=None):
        super().__init__(fs, rng, level_pa, traits)
        r = self._traits
        self._bp = _bandpass(r.uniform(1300, 1800), r.uniform(5000, 6000), self.fs)
        self._strokes = r.uniform(3.0, 6.0)  # per second

    def _event(self):
        r, fs = self._rng, self.fs
        dur = r.uniform(1.0, 3.0)
        n = int(dur * fs)
        t = np.arange(n) / fs
        rustle = signal.sosfilt(self._bp, r.standard_normal(n))
        rate = self._strokes * r.uniform(0.9, 1.1)
        swell = np.abs(np.sin(np.pi * rate * t)) ** 3  # loudest mid-stroke, quiet at each turn
        ramp = np.minimum(1.0, np.minimum(t, dur - t) / 0.1)
        return self._scaled(rustle * (0.1 + swell) * ramp, dur + 0.7), dur + r.uniform(0.4, 1.0)


class _StickDropping(_EventSound):
    label = "stick_dropping"
    typical_level_pa = 0.3

    def __init__(self, fs, rng, level_pa, traits=None):
        super().__init__(fs, rng, level_pa, traits)
        r = self._traits
        self._f = _clamp(r.uniform(250, 450) * np.array([1.0, r.uniform(2.6, 2.9), r.uniform(5.2, 5.6)]), self.fs)
        self._tau = r.uniform(0.02, 0.05, 3)
        self._click_lp = _lowpass(4000, self.fs)

    def _impact(self, gain):
        return gain * _struck(self._rng, self.fs, self._f, self._tau, 0.02, 0.25, self._click_lp, 0.003, 0.0004, 0.8)

    def _event(self):
        r, fs = self._rng, self.fs
        e = r.uniform(0.35, 0.6)  # restitution: each bounce's flight (and speed) shrinks by it
        gap, gain, at, parts = r.uniform(0.15, 0.3), 1.0, 0, []
        while gain > 0.05:
            parts.append((at, self._impact(gain)))
            at += int(gap * fs)
            gap *= e
            gain *= e
        y = np.zeros(at + int(0.25 * fs))
        for a, w in parts:
            y[a:a + len(w)] += w
        return self._scaled(y, 3.0, _gain(r, 0.2)), r.uniform(2.0, 4.0)


class _Noise(SoundSource):
    """A calibration loudspeaker: steady white noise (flat to 0.41 fs)."""

    label = "noise"
    typical_level_pa = 0.5

    def _render_chunk(self):
        return self._rng.standard_normal(self._chunk) * self.level_pa


class _Clicks(_EventSound):
    """A synchronisation target: a short broadband click every 0.35-0.7 s, at random phases
    against any frame clock, with an LED that lights with each click (the scene draws it).
    ``onsets`` lists the clicks' first samples (stream samples: emission times x fs)."""

    label = "clicks"
    typical_level_pa = 0.5
    led_seconds = 0.1  # how long the LED stays lit after a click: longer than a frame period

    def __init__(self, fs, rng, level_pa, traits=None):
        super().__init__(fs, rng, level_pa, traits)
        self.onsets: list[int] = []
        self._base = 0

    def _event(self):
        self.onsets.append(self._base + self._t_next)
        gap = self._rng.uniform(0.35, 0.7)
        return self._scaled(_burst(self._rng, int(0.004 * self.fs), 0.0008, self.fs), gap), gap

    def _render_chunk(self):
        out = super()._render_chunk()
        self._base += self._chunk
        return out


_CLASSES = {c.label: c for c in (_Clapping, _Snapping, _Whistling, _Knocking, _Typing, _PaperRipping, _Speech,
                                 _Hammering, _Kendama, _Clicking, _PeanutBreaking, _PlasticCrumpling, _PaperShaking,
                                 _StickDropping, _Noise, _Clicks)}


def sound_level(label: str) -> float:
    """The class's typical long-term RMS pressure at 1 m, Pa."""
    return _CLASSES[label].typical_level_pa


def make_sound(label: str, fs: float, rng: np.random.Generator, level_pa: float | None = None,
               traits: np.random.Generator | None = None) -> SoundSource:
    """Create a streaming source of the sound class `label` at sample rate fs (Hz).

    level_pa is the target long-term RMS pressure at 1 m (0.5 Pa is about 88 dB SPL); None: the
    class's typical level (``typical_level_pa``: 0.05 Pa for typing up to 0.4 Pa for hammering).
    The source takes a child of rng at construction, so generators seeded alike give
    identical streams.  ``traits``: a subject's generator for what stays the same for one person
    (pitch, timbre, tempo); default ``rng``.  Raises AcamError for a label not in SOUND_CLASSES.
    """
    if label not in SOUND_CLASSES + REFERENCE_SOUNDS:
        raise AcamError(f"sound class: expected one of {', '.join(SOUND_CLASSES + REFERENCE_SOUNDS)}, found {label!r}")
    cls = _CLASSES[label]
    return cls(fs, rng, cls.typical_level_pa if level_pa is None else level_pa, traits)
