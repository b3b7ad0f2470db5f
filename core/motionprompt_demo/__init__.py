"""The demo model's training material (not needed to run it): the procedural corpus
(``synth``), its captions (``captions``) and the physical recogniser the evaluation uses
(``recognise``). Used by tools/train_demo.py, tools/eval_demo.py and the tests; the demo's
weights stay in ``motionprompt/data/demo``.
"""
