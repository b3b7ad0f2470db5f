"""Text for the demo model's procedural corpus: templates, paraphrases and held-out wordings.

Each action of ``motionprompt_demo.synth.ACTIONS`` has TRAIN phrases (third person, after a
subject) and HELDOUT phrases that never appear in training; the evaluation prompts
(``heldout_prompts``) use only held-out phrases, subjects and connectors, so the measured
accuracy says how well the model follows wordings it has not seen.

Slots in a phrase: ``{poss}`` (his / her / their, agreeing with the subject), ``{speed}``
(an adverb for the speed parameter, possibly empty), ``{count}`` (" twice", ...), ``{dur}``
(" for 3 seconds", possibly empty).
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["PHRASES", "describe", "describe_sequence", "heldout_prompts", "training_captions", "training_words",
           "SUBJECTS", "HELDOUT_SUBJECTS"]

#: (subject, possessive, pronoun)
SUBJECTS = [
    ("a person", "their", "they"), ("someone", "their", "they"), ("a man", "his", "he"),
    ("a woman", "her", "she"), ("the person", "their", "they"), ("the man", "his", "he"),
    ("the woman", "her", "she"), ("a figure", "their", "they"), ("the character", "their", "they"),
    ("a boy", "his", "he"), ("a girl", "her", "she"), ("he", "his", "he"), ("she", "her", "she"),
]
HELDOUT_SUBJECTS = [("a human", "their", "they"), ("the athlete", "his", "he"), ("a lady", "her", "she")]

SPEED_WORDS = {
    "slow": [" slowly", " at a slow pace", " leisurely"],
    "normal": ["", "", " at a normal pace", " steadily"],
    "fast": [" quickly", " fast", " briskly", " at a fast pace"],
}
HELDOUT_SPEED_WORDS = {"slow": [" unhurriedly"], "normal": [""], "fast": [" rapidly"]}
COUNT_WORDS = {1: [" once", " one time"], 2: [" twice", " two times"], 3: [" three times"],
               4: [" four times"], 5: [" five times"]}
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}

CONNECTORS = [", then {pron} ", " and then ", ", then ", ". After that, {pron} ", ", and after that ",
              " and ", ", and then {pron} ", ". Then {pron} ", "; then {pron} ", " and later ",
              ", later {pron} ", ". Once done, {pron} ", ". Subsequently {pron} ", " before {pron} ",
              ", and when finished {pron} ", " and finally "]
HELDOUT_CONNECTORS = [". Next, {pron} ", ", afterwards {pron} "]


def _both(side_phrases: list[str], side: str) -> list[str]:
    return [p.replace("{side}", side) for p in side_phrases]


_WAVE = ["waves {poss} {side} hand{count}", "waves with the {side} hand{count}",
         "waves hello with {poss} {side} arm{count}", "raises the {side} hand and waves{count}",
         "waves {poss} {side} arm{count}", "is waving with {poss} {side} hand{count}",
         "greets someone by waving the {side} hand{count}", "lifts the {side} arm and waves hello{count}",
         "says hi with a wave of {poss} {side} hand{count}", "waves goodbye with the {side} hand{count}"]
_WAVE_H = ["greets with a wave of the {side} hand", "lifts {poss} {side} hand and waves it side to side"]
_PUNCH = ["punches with {poss} {side} fist{count}", "throws a {side} punch{count}",
          "punches with the {side} hand{count}", "jabs with the {side} arm{count}",
          "boxes with {poss} {side} hand{count}", "punches forward with {poss} {side} arm{count}",
          "throws a straight punch with the {side} hand{count}", "strikes with {poss} {side} fist{count}",
          "hits forward with the {side} arm{count}", "does a {side} jab{count}"]
_PUNCH_H = ["strikes forward with the {side} fist", "hits the air with {poss} {side} fist"]
_KICK = ["kicks with {poss} {side} leg{count}", "does a {side} kick{count}",
         "kicks forward with the {side} foot{count}", "kicks {poss} {side} leg out{count}",
         "performs a front kick with the {side} leg{count}", "kicks the air with the {side} foot{count}",
         "swings {poss} {side} foot forward in a kick{count}", "lifts the {side} leg and kicks{count}",
         "does a high kick with {poss} {side} leg{count}"]
_KICK_H = ["delivers a kick with the {side} foot", "swings the {side} leg up in a kick"]
_SIDE = ["side steps to the {side}{speed}{dur}", "steps sideways to the {side}{speed}{dur}",
         "shuffles to the {side}{speed}{dur}", "moves sideways to {poss} {side}{speed}{dur}",
         "sidesteps {side}{speed}{dur}", "walks sideways to the {side}{speed}{dur}",
         "steps to the {side} sideways{speed}{dur}", "moves laterally to the {side}{speed}{dur}",
         "crab walks to the {side}{speed}{dur}", "side shuffles toward the {side}{speed}{dur}"]
_SIDE_H = ["slides sideways toward the {side}", "takes side steps towards {poss} {side}"]
_HOP = ["hops on {poss} {side} foot{count}", "hops on one foot, the {side} one{count}",
        "jumps on {poss} {side} leg{count}", "hops on the {side} leg{count}",
        "stands on the {side} foot and hops{count}", "hops on {poss} {side} foot, the other leg raised{count}",
        "does one-legged hops on the {side} foot{count}", "springs up and down on the {side} foot{count}"]
_HOP_H = ["balances on the {side} foot and hops", "bounces on {poss} {side} leg"]
_TURN = ["turns {side}", "turns to the {side}", "turns ninety degrees to the {side}",
         "turns {poss} body to the {side}", "rotates to the {side}", "turns to {poss} {side}",
         "spins a quarter turn to the {side}", "changes direction to the {side}", "turns around to the {side} side",
         "faces to the {side}", "rotates {poss} body {side}"]
_TURN_H = ["pivots {side}", "makes a {side} turn"]

#: action -> (train phrases, held-out phrases)
PHRASES: dict[str, tuple[list[str], list[str]]] = {
    "idle": (["stands still{dur}", "stands idle{dur}", "stands in place{dur}", "is standing and waiting{dur}",
              "waits patiently{dur}", "stands and looks around{dur}", "stays still{dur}", "idles{dur}",
              "does nothing{dur}", "stands there relaxed{dur}", "keeps standing{dur}", "waits in place{dur}",
              "stands quietly{dur}", "is standing{dur}"],
             ["remains standing", "stands around doing nothing"]),
    "walk_forward": (["walks forward{speed}{dur}", "walks{speed}{dur}", "walks ahead{speed}{dur}",
                      "walks straight ahead{speed}{dur}", "is walking forward{speed}{dur}",
                      "takes a few steps forward{speed}", "walks in a straight line{speed}{dur}",
                      "moves forward{speed}{dur}", "goes forward on foot{speed}{dur}",
                      "strolls forward{speed}{dur}", "paces forward{speed}{dur}", "walks straight{speed}{dur}",
                      "walks toward the front{speed}{dur}", "steps forward a few times{speed}",
                      "goes for a walk{speed}{dur}", "advances on foot{speed}{dur}", "heads forward{speed}{dur}"],
                     ["proceeds forward on foot", "steps ahead", "walks forwards"]),
    "walk_backward": (["walks backward{speed}{dur}", "walks backwards{speed}{dur}", "walks back{speed}{dur}",
                       "steps backward{speed}{dur}", "moves backwards{speed}{dur}", "backs up{speed}{dur}",
                       "is walking backwards{speed}{dur}", "retreats backwards{speed}{dur}",
                       "takes steps backwards{speed}{dur}",
                       "moves back on foot{speed}{dur}", "steps back{speed}{dur}", "retreats{speed}{dur}"],
                      ["walks in reverse", "backpedals"]),
    "sidestep_left": (_both(_SIDE, "left"), _both(_SIDE_H, "left")),
    "sidestep_right": (_both(_SIDE, "right"), _both(_SIDE_H, "right")),
    "run": (["runs{speed}{dur}", "runs forward{speed}{dur}", "is running{speed}{dur}", "sprints forward{dur}",
             "jogs forward{speed}{dur}", "runs ahead{speed}{dur}", "dashes forward{dur}", "sprints{dur}",
             "runs fast{dur}", "is jogging forward{speed}{dur}", "runs in a straight line{speed}{dur}",
             "rushes forward{dur}", "goes for a run{speed}{dur}"],
            ["races forward", "runs straight ahead"]),
    "jog_in_place": (["jogs in place{speed}{dur}", "runs in place{speed}{dur}", "jogs on the spot{speed}{dur}",
                      "is jogging in place{speed}{dur}", "jogs without moving{dur}", "runs in place{dur}",
                      "jogs on the spot without going forward{dur}", "does a stationary jog{speed}{dur}",
                      "runs without moving forward{dur}"],
                     ["runs on the spot", "does a light jog without going anywhere"]),
    "march": (["marches in place{speed}{dur}", "marches on the spot{speed}{dur}",
               "lifts the knees high in place{speed}{dur}", "marches{speed}{dur}", "is marching in place{dur}",
               "marches on the spot like a soldier{dur}", "does high knees in place{speed}{dur}",
               "walks in place lifting the knees{speed}{dur}", "stomps in place{dur}"],
              ["steps in place raising the knees high", "marches like a soldier without moving"]),
    "jump_in_place": (["jumps{count}", "jumps up and down{count}", "jumps in place{count}",
                       "jumps with both feet{count}", "does a vertical jump{count}", "leaps straight up{count}",
                       "jumps on the spot{count}", "hops up and down with both feet{count}",
                       "jumps high{count}", "leaps up in place{count}", "does a jump{count}", "jumps into the air{count}"],
                      ["jumps straight up in place", "springs up into the air"]),
    "jump_forward": (["jumps forward{count}", "leaps forward{count}", "does a long jump{count}",
                      "jumps ahead{count}", "does a broad jump forward{count}", "jumps forward with both feet{count}",
                      "leaps ahead with both legs{count}", "jumps a long way forward{count}"],
                     ["leaps ahead", "bounds forward with both feet"]),
    "hop_left": (_both(_HOP, "left"), _both(_HOP_H, "left")),
    "hop_right": (_both(_HOP, "right"), _both(_HOP_H, "right")),
    "squat": (["squats{count}", "does a squat", "does squats{count}", "squats down and stands back up{count}",
               "bends the knees and squats{count}", "crouches down and gets up{count}",
               "does a deep squat{count}", "squats down low and rises{count}", "bends down into a squat{count}",
               "does knee bends{count}", "crouches and stands back up{count}"],
              ["performs a deep knee bend", "drops into a squat and rises"]),
    "sit_down": (["sits down on the floor and stands up", "sits on the ground and gets back up",
                  "sits down on the floor and stands up again", "sits on the floor for a moment and stands up",
                  "lowers to the floor, sits, and rises", "sits down on the ground and gets up again",
                  "takes a seat on the ground and stands", "sits on the floor and then gets up",
                  "goes down to sit on the floor and rises", "sits down and stands back up"],
                 ["takes a seat on the floor and rises again", "sits on the ground briefly then gets up"]),
    "turn_left": (_both(_TURN, "left"), _both(_TURN_H, "left")),
    "turn_right": (_both(_TURN, "right"), _both(_TURN_H, "right")),
    "turn_around": (["turns around", "turns back", "turns 180 degrees", "spins around to face the other way",
                     "does an about-face", "turns all the way around", "turns to face the back",
                     "turns around to look behind", "spins half a turn", "does a half turn",
                     "turns and faces the other way", "turns back around"],
                    ["turns to face backwards", "faces the opposite direction"]),
    "wave_left": (_both(_WAVE, "left"), _both(_WAVE_H, "left")),
    "wave_right": (_both(_WAVE, "right") + ["waves{count}", "waves hello{count}"], _both(_WAVE_H, "right")),
    "wave_both": (["waves with both hands{count}", "waves both arms{count}", "waves both hands{count}",
                   "waves with both arms above {poss} head{count}", "waves both hands in the air{count}",
                   "waves with two hands{count}", "waves hello with both arms{count}",
                   "raises both hands and waves{count}"],
                  ["waves using two hands", "greets with both hands waving"]),
    "raise_arms": (["raises both arms", "raises {poss} arms above {poss} head", "lifts both arms up",
                    "puts {poss} hands up", "reaches up with both arms", "raises {poss} hands in the air",
                    "lifts {poss} arms over {poss} head", "reaches for the sky", "puts both arms up in the air",
                    "raises both hands over the head", "stretches both arms up"],
                   ["holds both arms up high", "stretches {poss} arms upward"]),
    "clap": (["claps{count}", "claps {poss} hands{count}", "applauds", "claps hands together{count}",
              "is clapping{count}", "claps {poss} hands together{count}", "gives a clap{count}",
              "claps in front of {poss} chest{count}", "applauds by clapping{count}", "claps hands{count}"],
             ["gives a round of applause", "brings the palms together clapping"]),
    "punch_left": (_both(_PUNCH, "left"), _both(_PUNCH_H, "left")),
    "punch_right": (_both(_PUNCH, "right") + ["punches{count}", "throws a punch{count}"], _both(_PUNCH_H, "right")),
    "kick_left": (_both(_KICK, "left"), _both(_KICK_H, "left")),
    "kick_right": (_both(_KICK, "right") + ["kicks{count}", "kicks the air{count}"], _both(_KICK_H, "right")),
    "bow": (["bows", "takes a bow", "bows politely", "bends forward at the waist", "bows down",
             "bows respectfully", "bows forward", "bends over in a bow", "takes a deep bow",
             "bows from the waist", "bends the upper body forward and back up", "does a bow"],
            ["gives a polite bow", "leans forward in a deep bow"]),
}

_DURATION_ACTIONS = {"idle", "walk_forward", "walk_backward", "sidestep_left", "sidestep_right", "run",
                     "jog_in_place", "march"}


def _fill(phrase: str, params: dict, poss: str, rng: np.random.Generator, heldout: bool) -> str:
    speed = params.get("speed")
    words = (HELDOUT_SPEED_WORDS if heldout else SPEED_WORDS)
    speed_w = str(rng.choice(words[speed])) if speed and "{speed}" in phrase else ""
    count = params.get("count")
    count_w = ""
    if count and "{count}" in phrase and rng.random() < 0.6:
        count_w = str(rng.choice(COUNT_WORDS[count]))
    dur = params.get("duration")
    dur_w = ""
    if dur and "{dur}" in phrase and rng.random() < 0.5 and float(dur).is_integer():
        n = int(dur)
        dur_w = f" for {n} seconds" if rng.random() < 0.5 else f" for {NUMBER_WORDS.get(n, n)} seconds"
    return phrase.format(poss=poss, speed=speed_w, count=count_w, dur=dur_w)


def describe(action: str, params: dict, rng: np.random.Generator, heldout: bool = False,
             subject=None) -> str:
    """One prompt for one action (a full sentence with a subject)."""
    subj, poss, _ = subject or (HELDOUT_SUBJECTS if heldout else SUBJECTS)[
        rng.integers(len(HELDOUT_SUBJECTS if heldout else SUBJECTS))]
    phrases = PHRASES[action][1 if heldout else 0]
    return f"{subj} {_fill(str(rng.choice(phrases)), params, poss, rng, heldout)}"


def describe_sequence(items: list[tuple[str, dict]], rng: np.random.Generator, heldout: bool = False) -> str:
    """A prompt for two or three actions in order ("a man walks forward, then turns around")."""
    pool = HELDOUT_SUBJECTS if heldout else SUBJECTS
    subj, poss, pron = pool[rng.integers(len(pool))]
    conns = HELDOUT_CONNECTORS if heldout else CONNECTORS
    parts = []
    for i, (action, params) in enumerate(items):
        phrase = _fill(str(rng.choice(PHRASES[action][1 if heldout else 0])), params, poss, rng, heldout)
        if i == 0:
            parts.append(f"{subj} {phrase}")
        else:
            parts.append(str(rng.choice(conns)).format(pron=pron) + phrase)
    return "".join(parts)


def heldout_prompts(seed: int = 1234, variants: int = 4
                    ) -> tuple[list[tuple[str, str]], list[tuple[str, tuple[str, str]]]]:
    """The evaluation prompts: held-out wordings only.

    Returns:
        singles: (prompt, action) for every held-out phrase of every action;
        pairs: (prompt, (first action, second action)): ``variants`` wordings (held-out phrases,
        subject and connector drawn afresh) of each of a fixed set of two-action sequences, so
        the score of a sequence does not rest on one sentence.
    """
    rng = np.random.default_rng(seed)
    singles = []
    for action, (_, held) in PHRASES.items():
        for phrase in held:
            subj, poss, _ = HELDOUT_SUBJECTS[rng.integers(len(HELDOUT_SUBJECTS))]
            singles.append((f"{subj} {phrase.format(poss=poss, speed='', count='', dur='')}", action))
    pair_actions = [("walk_forward", "turn_around"), ("walk_forward", "wave_right"), ("squat", "jump_in_place"),
                    ("run", "idle"), ("turn_left", "walk_forward"), ("clap", "bow"), ("raise_arms", "sit_down"),
                    ("walk_backward", "kick_left"), ("jump_forward", "clap"), ("bow", "walk_forward"),
                    ("wave_left", "turn_right"), ("punch_right", "jog_in_place")]
    pairs = []
    for a, b in [ab for ab in pair_actions for _ in range(variants)]:
        subj, poss, pron = HELDOUT_SUBJECTS[rng.integers(len(HELDOUT_SUBJECTS))]
        pa = PHRASES[a][1][rng.integers(len(PHRASES[a][1]))].format(poss=poss, speed="", count="", dur="")
        pb = PHRASES[b][1][rng.integers(len(PHRASES[b][1]))].format(poss=poss, speed="", count="", dur="")
        conn = HELDOUT_CONNECTORS[rng.integers(len(HELDOUT_CONNECTORS))].format(pron=pron)
        pairs.append((f"{subj} {pa}{conn}{pb}", (a, b)))
    return singles, pairs


def training_captions(subject: str = "a person", poss: str = "their") -> list[tuple[str, str]]:
    """(caption, action): every training phrase with ``subject`` and no count or duration,
    plain and, where it takes a speed, slow and fast ("a person walks forward slowly", "...
    quickly"); in order, without repeats. These are the model's vocabulary for the nearest-caption rewrite
    (``motionprompt.text.vocabulary``; written beside the model by tools/train_demo.py)."""
    out: dict[str, str] = {}
    for action, (train, _) in PHRASES.items():
        for phrase in train:
            speeds = [""] + ([SPEED_WORDS["slow"][0], SPEED_WORDS["fast"][0]] if "{speed}" in phrase else [])
            for speed in speeds:
                text = f"{subject} {phrase.format(poss=poss, speed=speed, count='', dur='')}"
                out.setdefault(" ".join(text.split()), action)
    return list(out.items())


def training_words() -> dict[str, set[str]]:
    """Every word the training prompts use, per action (its phrases with every possessive,
    speed, count and duration they take) and under "" for any action (subjects, pronouns,
    connectors): what the model knows, for the unknown-word warning
    (``motionprompt.text.vocabulary``; written into captions.npz by tools/train_demo.py)."""
    def words(text: str) -> set[str]:
        return set(re.findall(r"[a-z]+(?:-[a-z]+)?", text.lower()))

    speeds = " ".join(w for ws in SPEED_WORDS.values() for w in ws)
    counts = " ".join(w for ws in COUNT_WORDS.values() for w in ws)
    durations = "for seconds " + " ".join(NUMBER_WORDS.values())
    anyone = " ".join(" ".join(s) for s in SUBJECTS) + " " + " ".join(CONNECTORS).format(pron="")
    out: dict[str, set[str]] = {"": words(anyone)}
    for action, (train, _) in PHRASES.items():
        got = out.setdefault(action, set())
        for phrase in train:
            got |= words(phrase.format(poss="his her their", speed="", count="", dur=""))
            got |= words(speeds) if "{speed}" in phrase else set()
            got |= words(counts) if "{count}" in phrase else set()
            got |= words(durations) if "{dur}" in phrase else set()
    return out
