"""Batch throughput with previews: does preview rendering keep up with generation?

    .venv/bin/python bench/batch_throughput.py [--limit N] [--preview-workers W] [--preview-size 320]

On the 126 MotionMillion evaluation prompts (``../shared/reference/motionmillion_eval_prompts.txt``,
or ``--prompts FILE``; ``--limit N`` takes the first N) with the demo model, it prints:

1. generation: the prompts generated in groups of ``--batch-size``, nothing written (wall s);
2. preview CPU: the CPU seconds the previews took (GIF at ``--preview-size`` + 960 px MP4; the
   workers' own CPU time and their ffmpeg's, summed over jobs), and that over the cores;
3. total: the whole batch as ``motionprompt batch`` runs it (``app.batch.run_jobs``: files,
   previews in ``--preview-workers`` processes pipelined with generation, manifest), wall s,
   model loading excluded;

and total / max(generation, preview CPU / cores), whose target is <= 1.2; then the pipelined run's
own CPU (this process: generation and files; the preview processes: previews plus their start-up
and hand-over), which over the cores is the shortest that run could take, and the load average
before and after it (other jobs on the cores lengthen every wall time: compare the two). Prints
figures; never fails.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "core"))
EVAL = ROOT.parent / "shared" / "reference" / "motionmillion_eval_prompts.txt"


def main() -> int:
    from motionprompt.app.previews import available_cores

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prompts", type=Path, default=EVAL)
    p.add_argument("--limit", type=int, default=None, help="the first N prompts only")
    p.add_argument("--model", default="demo")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--preview-size", type=int, default=320)
    p.add_argument("--preview-workers", type=int, default=None, help="default: one per core")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: one per core)")
    args = p.parse_args()

    import torch

    from motionprompt.app.batch import make_jobs, run_jobs
    from motionprompt.app.rundir import RunDir
    from motionprompt.generation.generator import Generator
    from motionprompt.request import GenerateRequest

    if not args.prompts.is_file():
        print(f"{args.prompts} not found: give --prompts FILE")
        return 0
    prompts = [s.strip() for s in args.prompts.read_text(encoding="utf-8").splitlines() if s.strip()]
    prompts = prompts[:args.limit] if args.limit else prompts
    cores = available_cores()
    workers = cores if args.preview_workers is None else args.preview_workers
    torch.set_num_threads(args.threads or cores)
    gen = Generator.from_spec(args.model)
    request = GenerateRequest(prompts, seconds=args.seconds, batch_size=args.batch_size)
    jobs = make_jobs(list(enumerate(prompts, 1)), seed=0)

    def generate(texts, seeds):
        return gen.generate(request.replace(prompts=texts, seeds=seeds))

    generate(prompts[:2], [0, 1])  # warm-up
    t, c = time.perf_counter(), time.process_time()
    for i in range(0, len(jobs), args.batch_size):
        group = jobs[i:i + args.batch_size]
        generate([j.prompt for j in group], [j.seed for j in group])
    t_gen, c_gen = time.perf_counter() - t, time.process_time() - c

    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir(tmp, "bench")
        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t, c = time.perf_counter(), time.process_time()
        recs = run_jobs(jobs, run, generate, {}, batch_size=args.batch_size, previews=True, log=lambda s: None,
                        preview_workers=workers, preview_size=args.preview_size)
        t_total, c_main = time.perf_counter() - t, time.process_time() - c
        kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers (and their ffmpeg), joined by now
    c_kids = (kids1.ru_utime - kids0.ru_utime) + (kids1.ru_stime - kids0.ru_stime)
    load1 = os.getloadavg()
    done = [r for r in recs if r["status"] == "done"]
    cpu = sum(r["timings"].get("preview_cpu_s", 0.0) for r in done)
    bound = max(t_gen, cpu / cores)
    print(f"{len(prompts)} prompts, {args.model}, batch {args.batch_size}, {cores} cores, "
          f"{workers} preview workers, GIF {args.preview_size} px + MP4 960 px ({len(done)} done)")
    print(f"generation:          {t_gen:8.1f} s  ({t_gen / len(prompts):.3f} s per prompt; {c_gen:.1f} CPU s)")
    if workers == 0:
        print("previews rendered in this process (--preview-workers 0): no per-job preview CPU; total below")
    print(f"preview CPU:         {cpu:8.1f} s  ({cpu / max(1, len(done)):.2f} s per prompt); "
          f"/ {cores} cores = {cpu / cores:.1f} s")
    print(f"total (pipelined):   {t_total:8.1f} s  = {t_total / bound:.2f} x max(generation, preview CPU / cores)"
          f"  target <= 1.2")
    print(f"  (all CPU work over the cores, (generation CPU + preview CPU) / {cores} = {(c_gen + cpu) / cores:.1f} s: "
          f"no schedule of both on these cores is shorter)")
    print(f"pipelined run's CPU: this process {c_main:.1f} s (generation, files, hand-over), preview processes "
          f"{c_kids:.1f} s (previews {cpu:.1f} s + start-up and hand-over {c_kids - cpu:.1f} s); "
          f"all / {cores} cores = {(c_main + c_kids) / cores:.1f} s against {t_total:.1f} s wall")
    print(f"load average (1 min) {load0[0]:.2f} before the pipelined run, {load1[0]:.2f} after: other jobs on "
          f"these cores make every wall time longer")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
