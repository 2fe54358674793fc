"""The CPU kernel's inner loops, written as vector LLVM IR and compiled into the Numba backend
through an intrinsic.

Why by hand: the work per bin is a (points x mics) by (mics x frames) complex product whose
steering matrix is generated on the fly. Written as Python loops, Numba's LLVM cannot keep the
accumulators in registers (it cannot prove that the arrays do not alias), and the loops run at a
quarter of the machine's speed. Here the accumulators are stack slots that LLVM promotes to
vector registers: ``L`` look points per vector (16 with AVX-512, 8 otherwise), frames or bins
unrolled across registers, every multiply an FMA.

Layouts (float32, real and imaginary planes apart):

- state ``S``, step ``Z``, exact tables ``T[t]``: ``(2, M, L)`` per vector of ``L`` points: the
  steering ``amp * exp(2j pi f tau)`` at the current bin, ``exp(2j pi df tau)``, and the steering
  at bins ``t * R`` (the recurrence restarts there, bounding float32 drift);
- spectra ``X``: complex64, read as interleaved float pairs, microphones adjacent, frames
  ``sN`` and bins ``sK`` complex elements apart: the layout of an FFT taken along the samples
  of (frames, samples, mics) audio, so no transpose is needed. The kernels stream along the
  microphones, one stream per frame (or per bin); volumes ``OUT``: ``(N, P, F)``;
- ``BUF``: a per-thread ``(N, KB, L)`` scratch: powers are stored there as vectors (one per
  frame and bin) and written to the volumes an ``L x L`` transpose at a time, so each point's
  run of bins lands in whole cache lines instead of one float per line.

Two kernels over a block of ``KB = L`` bins of one point vector:

- ``frames`` (4 frames or more): per bin, the first frame block advances the steering
  (``S *= Z``) as it goes; blocks of 8/4/2/1 frames share each steering load;
- ``bins`` (1 to 3 frames, the live case): the steering advances in registers over ``G`` bins
  per pass over the microphones (G = 8, 4, 2 for 1, 2, 3 frames), so it is loaded and stored
  once per G bins.
"""

from __future__ import annotations

import contextlib

from llvmlite import ir

F32 = ir.FloatType()
I64 = ir.IntType(64)
I32 = ir.IntType(32)
I8P = ir.IntType(8).as_pointer()
FRAME_BLOCKS = (8, 4, 2, 1)
BIN_GROUPS = {1: 8, 2: 4, 3: 2}  # frames -> bins per pass of the 'bins' kernel
ARGS = ("S", "Z", "T", "X", "OUT", "BUF", "M", "N", "F", "P", "p0", "lanes", "R", "k0", "k1", "tstride", "sN", "sK")


def _c(v):
    return ir.Constant(I64, v)


class _Emitter:
    """Small helpers over an IRBuilder for one kernel function."""

    def __init__(self, module, fn, L):
        self.m, self.fn, self.L = module, fn, L
        self.b = ir.IRBuilder(fn.append_basic_block("entry"))
        self.vec = ir.VectorType(F32, L)
        name = f"llvm.fma.v{L}f32"
        self.fma_fn = module.globals.get(name) or ir.Function(
            module, ir.FunctionType(self.vec, [self.vec] * 3), name=name)
        self.memcpy = module.declare_intrinsic("llvm.memcpy", [I8P, I8P, I64])
        self.undef = ir.Constant(self.vec, ir.Undefined)
        self.zero = ir.Constant(self.vec, [0.0] * L)
        self.bmask = ir.Constant(ir.VectorType(I32, L), [0] * L)
        self.a = dict(zip(ARGS, fn.args))

    @contextlib.contextmanager
    def loop(self, start, stop, name, step=1):
        b = self.b
        pre = b.basic_block
        cond, body, end = (b.append_basic_block(f"{name}.{s}") for s in ("cond", "body", "end"))
        b.branch(cond)
        b.position_at_end(cond)
        i = b.phi(I64, name=name)
        i.add_incoming(start, pre)
        b.cbranch(b.icmp_signed("<", i, stop), body, end)
        b.position_at_end(body)
        yield i
        i.add_incoming(b.add(i, _c(step)), b.basic_block)
        b.branch(cond)
        b.position_at_end(end)

    def fma(self, x, y, z):
        return self.b.call(self.fma_fn, [x, y, z])

    def vload(self, base, off):
        return self.b.load(self.b.bitcast(self.b.gep(base, [off]), self.vec.as_pointer()), align=4)

    def vstore(self, v, base, off):
        self.b.store(v, self.b.bitcast(self.b.gep(base, [off]), self.vec.as_pointer()), align=4)

    def splat(self, x):
        return self.b.shuffle_vector(self.b.insert_element(self.undef, x, ir.Constant(I32, 0)), self.undef, self.bmask)

    def copy(self, dst, src, n_floats):
        self.b.call(self.memcpy, [self.b.bitcast(dst, I8P), self.b.bitcast(src, I8P), self.b.mul(n_floats, _c(4)),
                                  ir.Constant(ir.IntType(1), 0)])

    def cmul(self, ar, ai, br, bi):
        b = self.b
        return self.fma(ar, br, b.fneg(b.fmul(ai, bi))), self.fma(ar, bi, b.fmul(ai, br))

    def x_index(self, n, m, k):
        """Complex element (frame n, mic m, bin k) of the spectra: frames ``sN`` apart, bins
        ``sK`` apart, microphones adjacent."""
        b, A = self.b, self.a
        return b.add(b.add(b.mul(n, A["sN"]), b.mul(k, A["sK"])), m)

    def accumulate(self, acc, sr, si, nsi, xoff):
        """acc (re, im slots) += s * x[xoff] (complex element xoff: floats 2 xoff, 2 xoff + 1)."""
        b, A = self.b, self.a
        two = b.mul(xoff, _c(2))
        xr = self.splat(b.load(b.gep(A["X"], [two])))
        xi = self.splat(b.load(b.gep(A["X"], [b.add(two, _c(1))])))
        ar, ai = b.load(acc[0]), b.load(acc[1])
        b.store(self.fma(nsi, xi, self.fma(sr, xr, ar)), acc[0])
        b.store(self.fma(si, xr, self.fma(sr, xi, ai)), acc[1])

    def power_to_buf(self, acc, n, kk):
        """|acc|^2 as one vector into BUF[n, kk, :]."""
        b, A, L = self.b, self.a, self.L
        ar, ai = b.load(acc[0]), b.load(acc[1])
        self.vstore(self.fma(ar, ar, b.fmul(ai, ai)), A["BUF"], b.mul(b.add(b.mul(n, _c(L)), kk), _c(L)))

    def transpose(self, rows):
        """L x L transpose of L vectors, as butterflies of shuffles."""
        L, b = self.L, self.b
        rows = list(rows)
        s = L // 2
        while s >= 1:
            lo = [c if not c & s else L + c - s for c in range(L)]
            hi = [c + s if not c & s else L + c for c in range(L)]
            for i in range(L):
                if i & s:
                    continue
                a_, b_ = rows[i], rows[i + s]
                rows[i] = b.shuffle_vector(a_, b_, ir.Constant(ir.VectorType(I32, L), lo))
                rows[i + s] = b.shuffle_vector(a_, b_, ir.Constant(ir.VectorType(I32, L), hi))
            s //= 2
        return rows

    def flush(self):
        """BUF -> OUT for bins [k0, k1): whole L x L tiles transposed in registers, else by floats."""
        b, A, L = self.b, self.a, self.L
        kb = b.sub(A["k1"], A["k0"])
        full = b.icmp_signed("==", kb, _c(L))
        with b.if_else(full) as (then, other):
            with then:
                with self.loop(_c(0), A["N"], "tn") as n:
                    rows = [self.vload(A["BUF"], b.mul(b.add(b.mul(n, _c(L)), _c(kk)), _c(L))) for kk in range(L)]
                    cols = self.transpose(rows)
                    row0 = b.add(b.mul(n, A["P"]), A["p0"])
                    for lane in range(L):
                        ok = b.icmp_signed("<", _c(lane), A["lanes"])
                        with b.if_then(ok):
                            self.vstore(cols[lane], A["OUT"], b.add(b.mul(b.add(row0, _c(lane)), A["F"]), A["k0"]))
            with other:
                with self.loop(_c(0), A["N"], "sn") as n:
                    with self.loop(_c(0), A["lanes"], "sl") as lane:
                        with self.loop(_c(0), kb, "sk") as kk:
                            v = b.load(b.gep(A["BUF"], [b.add(b.mul(b.add(b.mul(n, _c(L)), kk), _c(L)), lane)]))
                            dst = b.add(b.mul(b.add(b.add(b.mul(n, A["P"]), A["p0"]), lane), A["F"]), b.add(A["k0"], kk))
                            b.store(v, b.gep(A["OUT"], [dst]))

    def restart_if_table_bin(self, k):
        """At bins k = t * R the steering is reloaded from the exact table t; returns the flag."""
        b, A, L = self.b, self.a, self.L
        sync = b.icmp_signed("==", b.srem(k, A["R"]), _c(0))
        with b.if_then(sync):
            toff = b.mul(b.sdiv(k, A["R"]), A["tstride"])
            self.copy(A["S"], b.gep(A["T"], [toff]), b.mul(A["M"], _c(2 * L)))
        return sync


def _declare(module, name):
    fp = F32.as_pointer()
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [fp] * 6 + [I64] * 12), name=name)
    fn.linkage = "internal"
    return fn


def frames_kernel(module, L):
    """One point vector, bins [k0, k1), any number of frames N."""
    name = f"acam_frames_L{L}"
    if name in module.globals:
        return module.globals[name]
    e = _Emitter(module, _declare(module, name), L)
    b, A = e.b, e.a
    acc = [(b.alloca(e.vec), b.alloca(e.vec)) for _ in range(max(FRAME_BLOCKS))]
    n0slot = b.alloca(I64)
    ML = b.mul(A["M"], _c(L))

    def block(k, n0, nb, update):
        for j in range(nb):
            b.store(e.zero, acc[j][0])
            b.store(e.zero, acc[j][1])
        with e.loop(_c(0), A["M"], f"m{nb}{int(update)}") as m:
            off = b.mul(m, _c(L))
            sr, si = e.vload(A["S"], off), e.vload(A["S"], b.add(off, ML))
            if update:
                sr, si = e.cmul(sr, si, e.vload(A["Z"], off), e.vload(A["Z"], b.add(off, ML)))
                e.vstore(sr, A["S"], off)
                e.vstore(si, A["S"], b.add(off, ML))
            nsi = b.fneg(si)
            for j in range(nb):
                e.accumulate(acc[j], sr, si, nsi, e.x_index(b.add(n0, _c(j)), m, k))
        for j in range(nb):
            e.power_to_buf(acc[j], b.add(n0, _c(j)), b.sub(k, A["k0"]))

    def next_block(k, update, after):
        """The largest frame block that fits what is left, then on to `after`."""
        n0 = b.load(n0slot)
        left = b.sub(A["N"], n0)
        for nb in FRAME_BLOCKS:
            fits, other = b.append_basic_block(f"f{nb}{int(update)}"), b.append_basic_block(f"nf{nb}{int(update)}")
            b.cbranch(b.icmp_signed(">=", left, _c(nb)), fits, other)
            b.position_at_end(fits)
            block(k, n0, nb, update)
            b.store(b.add(n0, _c(nb)), n0slot)
            b.branch(after)
            b.position_at_end(other)
        b.branch(after)

    with e.loop(A["k0"], A["k1"], "k") as k:
        sync = e.restart_if_table_bin(k)
        b.store(_c(0), n0slot)
        first_done = b.append_basic_block("first_done")
        adv, kept = b.append_basic_block("advance"), b.append_basic_block("kept")
        b.cbranch(sync, kept, adv)  # just reloaded: the steering is already this bin's
        b.position_at_end(adv)
        next_block(k, True, first_done)
        b.position_at_end(kept)
        next_block(k, False, first_done)
        b.position_at_end(first_done)
        cond, body, end = (b.append_basic_block(f"rest.{s}") for s in ("cond", "body", "end"))
        b.branch(cond)
        b.position_at_end(cond)
        b.cbranch(b.icmp_signed("<", b.load(n0slot), A["N"]), body, end)
        b.position_at_end(body)
        next_block(k, False, cond)
        b.position_at_end(end)
    e.flush()
    b.ret_void()
    return e.fn


def bins_kernel(module, L, n_frames):
    """One point vector, bins [k0, k1) with (k1 - k0) a multiple of G, exactly ``n_frames`` frames
    (1 to 3): the steering advances in registers across G bins per pass over the microphones."""
    G = BIN_GROUPS[n_frames]
    name = f"acam_bins_L{L}_N{n_frames}"
    if name in module.globals:
        return module.globals[name]
    e = _Emitter(module, _declare(module, name), L)
    b, A = e.b, e.a
    acc = [[(b.alloca(e.vec), b.alloca(e.vec)) for _ in range(n_frames)] for _ in range(G)]
    ML = b.mul(A["M"], _c(L))

    def group(k, from_table):
        for row in acc:
            for slot in row:
                b.store(e.zero, slot[0])
                b.store(e.zero, slot[1])
        with e.loop(_c(0), A["M"], f"gm{int(from_table)}") as m:
            off = b.mul(m, _c(L))
            zr, zi = e.vload(A["Z"], off), e.vload(A["Z"], b.add(off, ML))
            sr, si = e.vload(A["S"], off), e.vload(A["S"], b.add(off, ML))
            if not from_table:
                sr, si = e.cmul(sr, si, zr, zi)
            for g in range(G):
                if g:
                    sr, si = e.cmul(sr, si, zr, zi)
                nsi = b.fneg(si)
                for j in range(n_frames):
                    e.accumulate(acc[g][j], sr, si, nsi, e.x_index(_c(j), m, b.add(k, _c(g))))
            e.vstore(sr, A["S"], off)
            e.vstore(si, A["S"], b.add(off, ML))
        for g in range(G):
            for j in range(n_frames):
                e.power_to_buf(acc[g][j], _c(j), b.add(b.sub(k, A["k0"]), _c(g)))

    with e.loop(A["k0"], A["k1"], "kg", step=G) as k:
        sync = e.restart_if_table_bin(k)
        with b.if_else(sync) as (then, other):
            with then:
                group(k, True)
            with other:
                group(k, False)
    e.flush()
    b.ret_void()
    return e.fn


def intrinsic_for(kind: str, L: int, n_frames: int = 0):
    """A Numba intrinsic ``k(S, Z, T, X, OUT, BUF, M, N, F, P, p0, lanes, R, k0, k1, tstride,
    sN, sK)`` (six 1-D float32 arrays, twelve int64) calling the ``frames`` or ``bins`` kernel."""
    from numba.core import types
    from numba.core.extending import intrinsic

    @intrinsic
    def kernel(typingctx, S, Z, T, X, OUT, BUF, M, N, F, P, p0, lanes, R, k0, k1, tstride, sN, sK):
        arr = types.Array(types.float32, 1, "C")
        sig = types.void(*([arr] * 6), *([types.int64] * 12))

        def codegen(context, builder, signature, args):
            module = builder.module
            fn = frames_kernel(module, L) if kind == "frames" else bins_kernel(module, L, n_frames)
            ptrs = [builder.bitcast(context.make_array(ty)(context, builder, a).data, F32.as_pointer())
                    for a, ty in zip(args[:6], signature.args[:6])]
            builder.call(fn, ptrs + list(args[6:]))
            return context.get_dummy_value()

        return sig, codegen

    return kernel
