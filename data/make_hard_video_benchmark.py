"""Build the hard video benchmark: small, degraded faces in long videos, with exact ground truth.

    python data/make_hard_video_benchmark.py ../shared/data/dev/lfw data/video_bench_hard [--seed 0]

Made like the easy benchmark (make_video_benchmark.py: LFW people pasted into generated video,
truth by construction) but the way archive footage looks, not a studio. Every face is small
and compressed:

- faces 24 to 48 px high (MTCNN's box; the pasted photo is about twice that), drifting, some
  sliding in or out of the frame;
- H.264 at CRF 38 to 40, light sensor noise, slow flicker over the whole frame, camera shake;
- 60 to 75 s videos with several people on screen at once, most of them distractors: over a
  hundred distractor identities, none of them ever queried.

and on top of that each appearance is turned, blurred and badly lit (each with an even chance)
and occluded (a third of them), some of it at once:

- heads turned: in-plane rotation up to 20 degrees, shear, and a horizontal squeeze of up to
  25 % that approximates a head turned away, each changing slowly over an appearance;
- motion blur of 2 to 5 px plus what the motion adds;
- lighting: gain from 0.6 to 1.4 and a colour cast;
- partial occlusion: a bar or block over 15 to 30 % of the face for part of the appearance.

Queries: per target person, a clean LFW photo (what a user has) and a 3 s clip made like the
videos (faces 40 to 60 px, CRF 36, no occlusion), from photos used in no video. A person is
"on screen" in a frame when at least 60 % of the inner face region is inside the frame, as in
the easy benchmark; occlusion never hides more than 30 % of it, so it does not end a segment.
The same seed gives the same files.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_video_benchmark import (  # noqa: E402
    FACE_CORE,
    FPS,
    HEIGHT,
    VISIBLE,
    WIDTH,
    Encoder,
    add_queries,
    background,
    people_by_count,
    runs,
    soft_mask,
    state,
    visible_fraction,
)

VIDEO_SECONDS = (60.0, 75.0)
CLIP_SECONDS = 3.0
FACE_PX = (24.0, 48.0)  # face height as MTCNN boxes it
BOX_PER_SIDE = 0.49  # MTCNN's box height over the side of a pasted LFW photo (measured)
CLIP_FACE_PX = (40.0, 60.0)
CRF = (38, 40)
NOISE = 1.0  # sensor noise, standard deviation in 8-bit levels
SLOTS = (4, 2)  # columns x rows of places on screen, one person at a time in each


@dataclass
class Look:
    """How one appearance is degraded, as slowly changing functions of time."""

    roll0: float  # degrees
    roll_amp: float
    yaw0: float  # horizontal squeeze 0..0.25 (0: frontal)
    yaw_amp: float
    shear: float
    blur: float  # px of motion blur (plus what the motion itself adds)
    gain: float
    cast: tuple[float, float, float]
    period: float  # seconds of one head-turn cycle
    phase: float
    occlusion: tuple[float, float, str, float] | None = None  # start, end, kind, extent

    def at(self, t: float) -> tuple[float, float]:
        w = math.sin(2 * math.pi * t / self.period + self.phase)
        roll = self.roll0 + self.roll_amp * w
        yaw = float(np.clip(self.yaw0 + self.yaw_amp * w, 0.0, 0.25))
        return roll, yaw


@dataclass
class Appearance:
    person: str
    photo: Path
    start: float
    end: float
    xy0: tuple[float, float]
    xy1: tuple[float, float]
    size0: float  # pasted photo side, pixels
    size1: float
    look: Look
    extra: dict = field(default_factory=dict)


def random_look(rng: np.random.Generator, start: float, end: float, occlude: bool) -> Look:
    """Each appearance is turned, blurred, badly lit and occluded, each with a fair chance:
    archive footage has some of these at a time, seldom all of them at once."""
    turned, blurred, lit = (bool(x) for x in rng.uniform(size=3) < 0.5)
    occlusion = None
    if occlude and rng.uniform() < 0.35:
        a = float(rng.uniform(start, end))
        b = float(min(end, a + rng.uniform(1.5, 5.0)))
        kind = str(rng.choice(["lower", "side", "bar"]))
        occlusion = (a, b, kind, float(rng.uniform(0.15, 0.3)))
    turn = 1.0 if turned else 0.3
    return Look(
        roll0=float(rng.uniform(-12, 12)) * turn,
        roll_amp=float(rng.uniform(0, 8)) * turn,
        yaw0=float(rng.uniform(0, 0.15)) * turn,
        yaw_amp=float(rng.uniform(0, 0.1)) * turn,
        shear=float(rng.uniform(-0.15, 0.15)) * turn,
        blur=float(rng.choice([2.0, 3.0, 5.0])) if blurred else 0.0,
        gain=float(rng.uniform(0.6, 1.4) if lit else rng.uniform(0.9, 1.1)),
        cast=tuple(float(c) for c in rng.uniform(0.92, 1.08, size=3)),  # type: ignore[arg-type]
        period=float(rng.uniform(3.0, 8.0)),
        phase=float(rng.uniform(0, 2 * math.pi)),
        occlusion=occlusion,
    )


def motion_blur(patch: np.ndarray, length: float, angle: float) -> np.ndarray:
    """Average of the patch shifted along a line `length` px long (a linear motion kernel)."""
    n = int(round(length))
    if n < 2:
        return patch
    dx, dy = math.cos(angle), math.sin(angle)
    out = np.zeros_like(patch)
    for k in range(n):
        off = k - (n - 1) / 2
        out += np.roll(patch, (int(round(off * dy)), int(round(off * dx))), axis=(0, 1))
    return out / n


def degraded_patch(
    photo: Image.Image, side: float, look: Look, t: float, speed: tuple[float, float]
) -> np.ndarray:
    """The photo as an RGBA float patch (alpha: the soft oval), turned, lit and blurred."""
    s = max(8, int(round(side)))
    canvas = int(math.ceil(s * 1.5))
    roll, yaw = look.at(t)
    rgb = np.asarray(photo.resize((s, s), Image.Resampling.BILINEAR), dtype=np.float32)
    alpha = soft_mask(s)[..., 0] * 255.0
    rgba = np.dstack([rgb, alpha]).astype(np.uint8)
    big = np.zeros((canvas, canvas, 4), np.uint8)
    o = (canvas - s) // 2
    big[o : o + s, o : o + s] = rgba
    im = Image.fromarray(big, "RGBA")
    # inverse affine about the centre: squeeze (yaw), shear, then roll
    c = canvas / 2
    sx = 1.0 - yaw
    r = math.radians(roll)
    cos, sin = math.cos(r), math.sin(r)
    # forward A = R @ Shear @ Scale; PIL wants the inverse mapping output -> input
    a = np.array([[cos, -sin], [sin, cos]]) @ np.array([[1, look.shear], [0, 1]]) @ np.diag([sx, 1])
    inv = np.linalg.inv(a)
    off = np.array([c, c]) - inv @ np.array([c, c])
    im = im.transform(
        (canvas, canvas),
        Image.Transform.AFFINE,
        (inv[0, 0], inv[0, 1], off[0], inv[1, 0], inv[1, 1], off[1]),
        resample=Image.Resampling.BILINEAR,
    )
    patch = np.asarray(im, dtype=np.float32)
    if look.occlusion is not None:
        a0, a1, kind, extent = look.occlusion
        if a0 <= t < a1:
            patch = occlude(patch, kind, extent, o, s)
    moving = math.hypot(*speed)
    length = look.blur + moving * 0.5
    if length >= 2:
        angle = math.atan2(speed[1], speed[0]) if moving > 0.5 else look.phase
        patch = motion_blur(patch, length, angle)
    patch[..., :3] *= look.gain * np.asarray(look.cast, np.float32)
    return patch


def occlude(patch: np.ndarray, kind: str, extent: float, o: int, s: int) -> np.ndarray:
    """Paint an opaque dull block over `extent` of the inner face region."""
    x1, y1 = o + FACE_CORE[0] * s, o + FACE_CORE[1] * s
    x2, y2 = o + FACE_CORE[2] * s, o + FACE_CORE[3] * s
    w, h = x2 - x1, y2 - y1
    if kind == "lower":  # a scarf, a microphone, a hand
        box = (x1 - 2, y2 - extent * h, x2 + 2, y2 + 4)
    elif kind == "side":  # someone's shoulder, a door frame
        box = (x2 - extent * w, y1 - 4, x2 + 4, y2 + 4)
    else:  # a bar across the eyes' level or the forehead
        top = y1 + 0.1 * h
        box = (x1 - 4, top, x2 + 4, top + extent * h)
    out = patch.copy()
    ya, yb = int(max(0, box[1])), int(min(patch.shape[0], box[3]))
    xa, xb = int(max(0, box[0])), int(min(patch.shape[1], box[2]))
    out[ya:yb, xa:xb, :3] = np.array([70.0, 60.0, 55.0])
    out[ya:yb, xa:xb, 3] = np.maximum(out[ya:yb, xa:xb, 3], 255.0)
    return out


def composite(frame: np.ndarray, patch: np.ndarray, cx: float, cy: float) -> None:
    h, w = patch.shape[:2]
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    fx0, fy0, fx1, fy1 = max(0, x0), max(0, y0), min(WIDTH, x0 + w), min(HEIGHT, y0 + h)
    if fx0 >= fx1 or fy0 >= fy1:
        return
    part = patch[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    m = part[..., 3:4] / 255.0
    frame[fy0:fy1, fx0:fx1] = frame[fy0:fy1, fx0:fx1] * (1 - m) + part[..., :3] * m


def render(
    path: Path, seconds: float, appearances: list[Appearance], rng: np.random.Generator, crf: int
) -> dict[str, list[list[float]]]:
    """Write the video; return per person the [start, end) seconds they are on screen."""
    bg = background(rng)
    pan = rng.uniform(-1, 1, size=2) * np.array([WIDTH, HEIGHT]) * 0.5 / (seconds * FPS)
    flicker_period = float(rng.uniform(5, 15))
    photos = {a.photo: Image.open(a.photo).convert("RGB") for a in appearances}
    frames = int(round(seconds * FPS))
    on: dict[str, list[bool]] = {a.person: [False] * frames for a in appearances}
    video = Encoder(path, crf)
    for i in range(frames):
        t = i / FPS
        shake = rng.normal(0, 1.5, size=2) if rng.uniform() < 0.15 else np.zeros(2)
        ox = int(np.clip(WIDTH * 0.25 + pan[0] * i + shake[0], 0, bg.shape[1] - WIDTH))
        oy = int(np.clip(HEIGHT * 0.25 + pan[1] * i + shake[1], 0, bg.shape[0] - HEIGHT))
        frame = bg[oy : oy + HEIGHT, ox : ox + WIDTH].copy()
        for a in appearances:
            if a.start <= t < a.end:
                cx, cy, side = state(a, t)
                dur = max(a.end - a.start, 1e-6)
                speed = ((a.xy1[0] - a.xy0[0]) / dur / FPS, (a.xy1[1] - a.xy0[1]) / dur / FPS)
                composite(frame, degraded_patch(photos[a.photo], side, a.look, t, speed), cx, cy)
                if visible_fraction(cx, cy, side) >= VISIBLE:
                    on[a.person][i] = True
        frame *= 1.0 + 0.15 * math.sin(2 * math.pi * t / flicker_period)
        if shake.any():
            frame = motion_blur(frame, 3.0, float(rng.uniform(0, math.pi)))
        frame += rng.normal(0, NOISE, size=frame.shape)
        video.add(frame)
    video.close()
    return {person: runs(flags) for person, flags in on.items()}


def schedule(
    people: list[tuple[str, Path]], seconds: float, rng: np.random.Generator
) -> list[Appearance]:
    """Place each (person, photo) in a free slot of the screen for 4 to 15 s."""
    cols, rows = SLOTS
    busy: list[list[tuple[float, float]]] = [[] for _ in range(cols * rows)]
    out = []
    for person, photo in people:
        for _ in range(200):
            length = float(rng.uniform(4.0, 15.0))
            start = float(rng.uniform(0, seconds - 4.0))
            end = min(seconds, start + length)
            slot = int(rng.integers(cols * rows))
            if all(end <= a or start >= b for a, b in busy[slot]):
                break
        else:
            continue  # the screen is full
        busy[slot].append((start - 0.5, end + 0.5))
        col, row = slot % cols, slot // cols
        cw, ch = WIDTH / cols, HEIGHT / rows
        cx, cy = cw * (col + 0.5), ch * (row + 0.5)
        size0, size1 = (float(s) / BOX_PER_SIDE for s in rng.uniform(*FACE_PX, size=2))
        xy0 = (cx + rng.uniform(-0.25, 0.25) * cw, cy + rng.uniform(-0.2, 0.2) * ch)
        xy1 = (cx + rng.uniform(-0.25, 0.25) * cw, cy + rng.uniform(-0.2, 0.2) * ch)
        edge_col = col in (0, cols - 1)
        if edge_col and rng.uniform() < 0.3:  # slides in from its edge
            xy0 = (-size0 / 2 if col == 0 else WIDTH + size0 / 2, xy0[1])
        elif edge_col and rng.uniform() < 0.3:  # slides out
            xy1 = (-size1 / 2 if col == 0 else WIDTH + size1 / 2, xy1[1])
        look = random_look(rng, start, end, occlude=True)
        out.append(
            Appearance(person, photo, start, end, (float(xy0[0]), float(xy0[1])),
                       (float(xy1[0]), float(xy1[1])), size0, size1, look)
        )  # fmt: skip
    return out


def build(
    lfw: Path,
    out: Path,
    seed: int = 0,
    targets: int = 12,
    videos: int = 16,
    crowd: int = 8,
    seconds: tuple[float, float] = VIDEO_SECONDS,
) -> dict:
    rng = np.random.default_rng(seed)
    people = people_by_count(lfw)
    rich = [p for p, photos in people.items() if len(photos) >= 6]
    chosen = [rich[i] for i in sorted(rng.choice(len(rich), size=targets, replace=False))]
    others = [p for p in people if p not in chosen]
    distractors = [others[i] for i in rng.choice(len(others), size=videos * crowd, replace=False)]
    cast: list[list[tuple[str, int]]] = [[] for _ in range(videos)]  # (person, appearances)
    for person in chosen:
        for v in rng.choice(videos, size=int(rng.integers(2, 4)), replace=False):
            cast[int(v)].append((person, int(rng.integers(1, 4))))
    d = iter(distractors)
    for v in range(videos):
        for _ in range(crowd):
            cast[v].append((next(d), int(rng.integers(1, 3))))
    if out.exists():
        shutil.rmtree(out)
    (out / "videos").mkdir(parents=True)
    (out / "queries").mkdir()
    used = {p: 0 for p in people}
    truth: dict = {"seed": seed, "fps": FPS, "profile": "hard", "videos": {}, "queries": []}
    for v, names in enumerate(cast):
        length = float(round(rng.uniform(*seconds)))
        wanted = []
        for person, times in names:
            photos = people[person]
            first = 2 if person in chosen else 0  # targets keep photos 0 and 1 for the queries
            for _ in range(times):
                wanted.append((person, photos[first + used[person] % (len(photos) - first)]))
                used[person] += 1
        order = rng.permutation(len(wanted))
        apps = schedule([wanted[i] for i in order], length, rng)
        name = f"h{v:02d}.mp4"
        on = render(out / "videos" / name, length, apps, rng, int(rng.integers(CRF[0], CRF[1] + 1)))
        people_here: dict = {}
        for a in apps:
            entry = people_here.setdefault(a.person, {"photos": [], "segments": on[a.person]})
            entry["photos"].append(str(a.photo.relative_to(lfw)))
        truth["videos"][name] = {
            "duration": length,
            "people": {p: e for p, e in people_here.items() if e["segments"]},
            "appearances": [  # where each face is: for diagnosing, not for scoring
                {"person": a.person, "start": round(a.start, 3), "end": round(a.end, 3),
                 "xy0": [round(c, 1) for c in a.xy0], "xy1": [round(c, 1) for c in a.xy1],
                 "side0": round(a.size0, 1), "side1": round(a.size1, 1)}
                for a in apps
            ],
        }  # fmt: skip
        print(f"  {name}: {length:.0f} s, {len(apps)} appearances", file=sys.stderr)
    for person in chosen:
        photo, clip_photo = people[person][0], people[person][1]
        target = out / "queries" / f"{person}.jpg"
        shutil.copy(photo, target)
        clip = out / "queries" / f"{person}.mp4"
        side0, side1 = (float(s) / BOX_PER_SIDE for s in rng.uniform(*CLIP_FACE_PX, size=2))
        look = random_look(rng, 0.0, CLIP_SECONDS, occlude=False)
        a = Appearance(
            person, clip_photo, 0.0, CLIP_SECONDS,
            (WIDTH / 2 - 20, HEIGHT / 2), (WIDTH / 2 + 20, HEIGHT / 2), side0, side1, look,
        )  # fmt: skip
        render(clip, CLIP_SECONDS, [a], rng, 36)
        add_queries(truth, person, target, clip)
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    return truth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lfw", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    truth = build(args.lfw, args.out, args.seed)
    n = sum(len(v["people"]) for v in truth["videos"].values())
    identities = {p for v in truth["videos"].values() for p in v["people"]}
    seconds = sum(v["duration"] for v in truth["videos"].values())
    print(
        f"{len(truth['videos'])} videos ({seconds / 60:.1f} min), {n} people-in-videos, "
        f"{len(identities)} identities, {len(truth['queries'])} queries -> {args.out}"
    )


if __name__ == "__main__":
    main()
