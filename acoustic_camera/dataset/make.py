"""Making a dataset: one function makes one session (simulate, beamform to MFCC + energy, and
with ``keep="training"`` replace the session by its training copy), and two runners execute it:
a pool of local processes (the default) or Ray tasks on a local or existing cluster (``ray``
extra), which is how it scales past one machine. Both run the same function on the same plan,
so they make identical trees.

The manifest is the record of progress: a session is done once its files are in place and its
row says so; the runner rewrites the manifest (atomically) as each session ends, so a run
killed at any moment loses at most the sessions in flight, and the next run makes exactly the
sessions not done (failed ones included) and never redoes a finished one.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from ..constants import DUALCAM_MICS, SAMPLE_FREQ
from ..errors import AcamError
from ..io.acoustic import acoustic_path_for
from ..io.dataset import SPLIT_NAME, make_split, read_manifest, write_manifest, write_split
from .presets import SessionJob

KEEP = ("all", "training")
RAW_BYTES_PER_S = DUALCAM_MICS * 4 * SAMPLE_FREQ  # the array's float32 audio, what a session is made of
PARTIAL_DIR = ".partial"  # where a session is made before its files move into the tree


def _row(job: SessionJob, status: str) -> dict:
    """A session's manifest row before it is made."""
    return dict(asdict(job), path=job.path, subject=f"subject-{job.subject:02d}", frames=0, sha256="", status=status, error="")


def make_session(job: SessionJob, root: str, keep: str = "all", threads: int = 1) -> dict:
    """Make one session of the dataset under ``root``; returns its manifest row (status done, or
    failed with the error: a failure is reported, never raised, so one bad session does not stop
    a run of hundreds)."""
    row = _row(job, "failed")
    t0 = time.perf_counter()
    work = Path(root) / PARTIAL_DIR / Path(job.path).stem
    try:
        from ..array.geometry import preset
        from ..beamform.pipeline import beamform_session
        from ..io.acoustic import open_acoustic
        from ..kernels.numba_backend import NumbaBackend
        from ..sim.simulator import SimConfig, simulate_to_file
        from ..sim.trajectories import SourceSpec
        from .keep import training_copy

        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        name = Path(job.path).name
        raw, acoustic = work / f"raw-{name}", acoustic_path_for(work / name)
        cfg = SimConfig(scenario=job.scenario, duration=job.seconds, seed=job.seed, subject=job.subject,
                        geometry=preset("dualcam128"), sources=(SourceSpec(job.label, motion="walk"),))
        sim = simulate_to_file(cfg, raw)
        beamform_session(raw, acoustic, features=("mfcc", "energy"), backend=NumbaBackend(threads=threads))
        with open_acoustic(acoustic) as a:
            row["sha256"] = a.session_sha256
        session = work / name
        if keep == "training":
            training_copy(raw, session, full_sha256=row["sha256"])
            raw.unlink()
        else:
            raw.rename(session)
        dest = Path(root) / job.path
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(acoustic, dest.with_name(acoustic.name))
        os.replace(session, dest)
        row.update(frames=int(sim["frames"]), status="done")
    except Exception as exc:  # noqa: BLE001 (recorded in the manifest, retried by the next run)
        last = traceback.extract_tb(exc.__traceback__)[-1]
        row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} " \
                       f"({Path(last.filename).name}:{last.lineno})"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    row["wall_s"] = time.perf_counter() - t0
    return row


def _run_local(jobs, root, keep, workers, threads):
    if workers == 1:  # in this process: no start-up, and a debugger sees it
        for j in jobs:
            yield make_session(j, root, keep, threads)
        return
    # spawned, not forked: this process may already run numba's worker threads
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(make_session, j, root, keep, threads) for j in jobs]
        try:
            for f in as_completed(futures):
                yield f.result()
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def _run_ray(jobs, root, keep, workers, threads, address):
    try:
        import ray
    except ImportError:
        raise AcamError("--ray: needs Ray (pip install 'acoustic-camera[ray]')") from None
    started = not ray.is_initialized()
    if started:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:  # a local instance on this machine's cores, gone when the run ends
            # Ray nices its workers to 15; here they are the run's work, not background to it
            ray.init(num_cpus=workers * threads, include_dashboard=False, log_to_driver=False,
                     object_store_memory=100 * 2**20, _system_config={"worker_niceness": 0})
    try:
        task = ray.remote(num_cpus=threads, max_retries=1)(make_session)
        pending = [task.remote(j, root, keep, threads) for j in jobs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    finally:
        if started:
            ray.shutdown()


def make_dataset(root, jobs: list[SessionJob], *, keep: str = "all", workers: int | None = None, threads: int = 1,
                 ray_address: str | None = None, use_ray: bool = False,
                 progress: Callable[[int, int, dict], None] | None = None) -> dict:
    """Make the sessions of ``jobs`` under ``root`` that are not done yet; write the manifest as
    they end, and the split file once every session is done. Returns a summary: sessions made,
    skipped (done before), failed, seconds, sessions/hour, MB/s of audio made, disk use."""
    if keep not in KEEP:
        raise AcamError(f"--keep: expected one of {', '.join(KEEP)}, found {keep!r}")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise AcamError(f"{root}: is a file, expected a dataset folder")
    workers = max(1, workers or (os.cpu_count() or 1) // threads)
    root.mkdir(parents=True, exist_ok=True)
    rows = {r["path"]: r for r in read_manifest(root)}
    planned = {j.path: j for j in jobs}
    for path, r in rows.items():
        j = planned.get(path)
        if j is not None and (r["seed"] != j.seed or r["label"] != j.label or r["seconds"] != j.seconds):
            raise AcamError(f"{root / 'manifest.csv'}: {path}: expected the plan's seed {j.seed}, {j.label}, {j.seconds:g} s, "
                            f"found seed {r['seed']}, {r['label']}, {r['seconds']:g} s: another plan made this folder "
                            "(use a new folder, or the options it was made with)")
    done = {p for p, r in rows.items() if r["status"] == "done" and (root / p).is_file()
            and acoustic_path_for(root / p).is_file()}
    todo = [j for j in jobs if j.path not in done]
    for j in todo:
        rows[j.path] = _row(j, "pending")
    order = [j.path for j in jobs] + sorted(set(rows) - set(planned))  # the plan's order; rows of no plan kept
    write_manifest(root, [rows[p] for p in order])
    if todo:  # written again once every session is done: a split of a dataset still in the making would mislead
        (root / SPLIT_NAME).unlink(missing_ok=True)
    if progress:
        progress(0, len(todo), None)
    t0 = time.perf_counter()
    made = failed = 0
    run = _run_ray(todo, str(root), keep, workers, threads, ray_address) if use_ray or ray_address \
        else _run_local(todo, str(root), keep, workers, threads)
    for i, row in enumerate(run):
        rows[row["path"]] = row
        made += row["status"] == "done"
        failed += row["status"] == "failed"
        write_manifest(root, [rows[p] for p in order])
        if progress:
            progress(i + 1, len(todo), row)
    seconds = time.perf_counter() - t0
    shutil.rmtree(root / PARTIAL_DIR, ignore_errors=True)
    final = [rows[p] for p in order if p in planned]
    split = None
    if all(r["status"] == "done" for r in final):
        split = write_split(root, make_split(final))
    made_now = {j.path for j in todo}
    audio_s = sum(planned[r["path"]].seconds for r in final if r["path"] in made_now and r["status"] == "done")
    return {"root": str(root), "sessions": len(jobs), "made": made, "skipped": len(jobs) - len(todo), "failed": failed,
            "seconds": seconds, "sessions_per_hour": made / seconds * 3600 if seconds > 0 and made else 0.0,
            "audio_seconds": audio_s, "realtime_factor": audio_s / seconds if seconds > 0 else 0.0,
            "raw_mb_per_s": audio_s * RAW_BYTES_PER_S / 2**20 / seconds if seconds > 0 else 0.0,
            "disk_bytes": sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and ".cache" not in p.relative_to(root).parts),
            "split": str(split) if split else None, "keep": keep,
            "errors": [f"{r['path']}: {r['error']}" for r in final if r["status"] == "failed"]}
