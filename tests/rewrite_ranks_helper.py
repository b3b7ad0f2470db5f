"""Run by tests/test_ranks.py under torchrun (2 CPU ranks, gloo): ``add_rewrites`` with a
stand-in rewrite model that records the prompts it is asked; each rank writes what it asked and
the texts its jobs ended with to ``OUT/rank<R>.json``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from motionprompt.app import rewrite
from motionprompt.app.batch import make_jobs
from motionprompt.app.ranks import Launch, Ranks


def main(out: Path) -> None:
    ranks = Ranks.from_env()
    launch = Launch(ranks)
    asked = []

    def pipe(messages, **kw):
        text = messages[0]["content"][len(rewrite.REWRITE_INSTRUCTION):]
        asked.append(text)
        if "boom" in text:
            raise RuntimeError("rewrite model crashed")
        return [{"generated_text": messages + [{"role": "assistant", "content": "{" + text.upper() + "}"}]}]

    rewrite.build_rewriter = lambda path, device="cpu": pipe
    prompts = [f"walk {i}" for i in range(7)] + ["walk 3", "boom"]  # a repeated prompt, one that fails
    jobs = make_jobs(list(enumerate(prompts, 1)), seed=0, num=2)
    status = rewrite.add_rewrites(jobs, "somewhere", "cpu", lambda s: None, launch)
    (out / f"rank{ranks.rank}.json").write_text(json.dumps(
        {"asked": asked, "status": status, "texts": [[j.key, {str(k): v for k, v in j.texts.items()}] for j in jobs]}))
    launch.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
