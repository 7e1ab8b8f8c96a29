"""Build a labelled video benchmark from LFW identities, with exact ground truth.

    python data/make_video_benchmark.py ../shared/data/dev/lfw data/video_bench [--seed 0]

Videos (640x360, 10 fps, H.264 at CRF 30) show one to three people in segments: a different LFW
photo of a person in each video, moving over a panning background, growing or shrinking, some
sliding in or out of the frame, among distractor people who are never queried. With --returns P
an appearance is two with chance P: the person steps out for 1.5 to 3 s and comes back where
they would have been. With --cuts P a video is two shots with chance P: the background changes at
3 to 7 s while its people go on, and their segments end there. Per target
person there is a photo query and a 3 s clip query, both made from photos used in no video.

Ground truth is exact by construction: a person is "on screen" in a frame when at least 60 % of
the inner face region of their photo is inside the frame; truth.json lists, per video and
person, the [start, end) seconds of those runs of frames. The same seed gives the same files.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

WIDTH, HEIGHT, FPS = 640, 360, 10
VIDEO_SECONDS = 10.0
CLIP_SECONDS = 3.0
FACE_CORE = (0.3, 0.25, 0.7, 0.75)  # the face inside a 250 px deep-funneled LFW photo
VISIBLE = 0.6


@dataclass
class Appearance:
    person: str
    photo: Path
    start: float
    end: float
    xy0: tuple[float, float]  # centre at start, pixels (may be off-frame: entering)
    xy1: tuple[float, float]
    size0: float  # pasted photo side, pixels
    size1: float


def people_by_count(lfw: Path) -> dict[str, list[Path]]:
    out = {}
    for d in sorted(p for p in lfw.iterdir() if p.is_dir()):
        out[d.name] = sorted(d.glob("*.jpg"))
    return out


def background(rng: np.random.Generator) -> np.ndarray:
    """A smooth random colour field 1.5x the frame, to pan over."""
    grid = rng.uniform(30, 220, size=(4, 6, 3)).astype(np.uint8)
    im = Image.fromarray(grid).resize(
        (int(WIDTH * 1.5), int(HEIGHT * 1.5)), Image.Resampling.BICUBIC
    )
    return np.asarray(im, dtype=np.float32)


def soft_mask(side: int) -> np.ndarray:
    y, x = np.mgrid[0:side, 0:side] / max(side - 1, 1) - 0.5
    r = np.sqrt((x / 0.42) ** 2 + (y / 0.48) ** 2)
    return np.clip((1.0 - r) / 0.15, 0.0, 1.0)[..., None]


def paste(frame: np.ndarray, photo: Image.Image, cx: float, cy: float, side: float) -> None:
    s = max(8, int(round(side)))
    im = np.asarray(photo.resize((s, s), Image.Resampling.BILINEAR), dtype=np.float32)
    mask = soft_mask(s)
    x0, y0 = int(round(cx - s / 2)), int(round(cy - s / 2))
    fx0, fy0, fx1, fy1 = max(0, x0), max(0, y0), min(WIDTH, x0 + s), min(HEIGHT, y0 + s)
    if fx0 >= fx1 or fy0 >= fy1:
        return
    part = im[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    m = mask[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    frame[fy0:fy1, fx0:fx1] = frame[fy0:fy1, fx0:fx1] * (1 - m) + part * m


def visible_fraction(cx: float, cy: float, side: float) -> float:
    x1 = cx - side / 2 + FACE_CORE[0] * side
    y1 = cy - side / 2 + FACE_CORE[1] * side
    x2 = cx - side / 2 + FACE_CORE[2] * side
    y2 = cy - side / 2 + FACE_CORE[3] * side
    inside = max(0.0, min(x2, WIDTH) - max(x1, 0)) * max(0.0, min(y2, HEIGHT) - max(y1, 0))
    return inside / ((x2 - x1) * (y2 - y1))


def state(a: Appearance, t: float) -> tuple[float, float, float]:
    u = (t - a.start) / max(a.end - a.start, 1e-6)
    return (
        a.xy0[0] + u * (a.xy1[0] - a.xy0[0]),
        a.xy0[1] + u * (a.xy1[1] - a.xy0[1]),
        a.size0 + u * (a.size1 - a.size0),
    )


class Encoder:
    """WIDTH x HEIGHT RGB frames at FPS into an H.264 file at a given CRF."""

    def __init__(self, path: Path, crf: int) -> None:
        import av

        self.av = av
        self.container = av.open(str(path), "w")
        self.stream = self.container.add_stream("libx264", rate=FPS)
        self.stream.width, self.stream.height, self.stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        self.stream.options = {"crf": str(crf), "preset": "veryfast"}

    def add(self, frame: np.ndarray) -> None:
        """One float frame, clipped to 8 bits."""
        pixels = np.clip(frame, 0, 255).astype(np.uint8)
        out = self.av.VideoFrame.from_ndarray(pixels, format="rgb24")
        for packet in self.stream.encode(out):
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()


def render(
    path: Path,
    seconds: float,
    appearances: list[Appearance],
    rng: np.random.Generator,
    cuts: tuple[float, ...] = (),
) -> dict[str, list[list[float]]]:
    """Write the video; return per person the [start, end) seconds they are on screen. At
    each of `cuts` (seconds) the shot changes: a new background, panning its own way, while
    the people go on where they are; their time on screen is split there (a segment is of one
    shot)."""
    bg = background(rng)
    pan = rng.uniform(-1, 1, size=2) * np.array([WIDTH, HEIGHT]) * 0.5 / (seconds * FPS)
    shots = [(0, bg, pan)]
    for c in cuts:
        shots.append(
            (
                int(round(c * FPS)),
                background(rng),
                rng.uniform(-1, 1, size=2) * np.array([WIDTH, HEIGHT]) * 0.5 / (seconds * FPS),
            )
        )
    photos = {a.photo: Image.open(a.photo).convert("RGB") for a in appearances}
    frames = int(round(seconds * FPS))
    on: dict[str, list[bool]] = {a.person: [False] * frames for a in appearances}
    video = Encoder(path, 30)
    for i in range(frames):
        t = i / FPS
        first, bg, pan = [shot for shot in shots if shot[0] <= i][-1]
        ox = int(np.clip(WIDTH * 0.25 + pan[0] * (i - first), 0, bg.shape[1] - WIDTH))
        oy = int(np.clip(HEIGHT * 0.25 + pan[1] * (i - first), 0, bg.shape[0] - HEIGHT))
        frame = bg[oy : oy + HEIGHT, ox : ox + WIDTH].copy()
        for a in appearances:
            if a.start <= t < a.end:
                cx, cy, side = state(a, t)
                paste(frame, photos[a.photo], cx, cy, side)
                if visible_fraction(cx, cy, side) >= VISIBLE:
                    on[a.person][i] = True
        frame += rng.normal(0, 3, size=frame.shape)  # sensor noise
        video.add(frame)
    video.close()
    breaks = {shot[0] for shot in shots[1:]}
    return {person: runs(flags, breaks) for person, flags in on.items()}


def runs(flags: list[bool], breaks: Collection[int] = ()) -> list[list[float]]:
    """The [start, end) seconds of each run of frames flagged; a run ends at a frame in
    `breaks` (the first frame of a new shot)."""
    out, start = [], None
    for i, f in enumerate([*flags, False]):
        if start is not None and (not f or i in breaks):
            out.append([start / FPS, i / FPS])
            start = None
        if f and start is None:
            start = i
    return out


def appearance(
    person: str, photo: Path, lane: int, lanes: int, rng: np.random.Generator, seconds: float
) -> Appearance:
    start = float(rng.uniform(0, seconds - 3.5))
    end = float(min(seconds, start + rng.uniform(3.0, 6.0)))
    lane_w = WIDTH / lanes
    xs = lane_w * (lane + 0.5)
    size0, size1 = (float(s) for s in rng.uniform(150, 300, size=2))
    xy0 = (xs + rng.uniform(-0.2, 0.2) * lane_w, rng.uniform(0.4, 0.6) * HEIGHT)
    xy1 = (xs + rng.uniform(-0.2, 0.2) * lane_w, rng.uniform(0.4, 0.6) * HEIGHT)
    if rng.uniform() < 0.3:  # slides in from the side it is nearest
        edge = -size0 / 2 if xs < WIDTH / 2 else WIDTH + size0 / 2
        xy0 = (edge, xy0[1])
    elif rng.uniform() < 0.3:  # slides out
        edge = -size1 / 2 if xs < WIDTH / 2 else WIDTH + size1 / 2
        xy1 = (edge, xy1[1])
    return Appearance(person, photo, start, end, xy0, xy1, size0, size1)


def with_returns(a: Appearance, rng: np.random.Generator) -> list[Appearance]:
    """The appearance with the person stepping out for 1.5 to 3 s in its middle and coming
    back where they would have been: two appearances close in time and place, which a
    tracker must keep apart (a gap that long on clean video is an absence)."""
    gap = float(rng.uniform(1.5, 3.0))
    if a.end - a.start < gap + 2.0:
        return [a]
    leave = float(rng.uniform(a.start + 1.0, a.end - gap - 1.0))
    back = leave + gap
    cx0, cy0, s0 = state(a, leave)
    cx1, cy1, s1 = state(a, back)
    first = Appearance(a.person, a.photo, a.start, leave, a.xy0, (cx0, cy0), a.size0, s0)
    second = Appearance(a.person, a.photo, back, a.end, (cx1, cy1), a.xy1, s1, a.size1)
    return [first, second]


def add_queries(truth: dict, person: str, photo: Path, clip: Path) -> None:
    """The person's photo and clip queries; relevant: every video they are on screen in."""
    relevant = sorted(v for v, info in truth["videos"].items() if person in info["people"])
    for kind, path in (("photo", photo), ("clip", clip)):
        truth["queries"].append(
            {"person": person, "kind": kind, "path": path.name, "relevant": relevant}
        )


def build(
    lfw: Path,
    out: Path,
    seed: int = 0,
    targets: int = 12,
    videos: int = 24,
    returns: float = 0.0,
    cuts: float = 0.0,
) -> dict:
    """`returns`: the chance that an appearance is two, a person stepping out and back in;
    `cuts`: the chance that a video is two shots, cut at 3 to 7 s."""
    rng = np.random.default_rng(seed)
    people = people_by_count(lfw)
    rich = [p for p, photos in people.items() if len(photos) >= 5]
    poor = [p for p, photos in people.items() if len(photos) < 5]
    chosen = [rich[i] for i in sorted(rng.choice(len(rich), size=targets, replace=False))]
    distractors = [poor[i] for i in rng.choice(len(poor), size=videos * 2, replace=False)]
    # every target in 2 or 3 videos; the rest of each video is distractors (never queried)
    cast: list[list[str]] = [[] for _ in range(videos)]
    for person in chosen:
        n = int(rng.integers(2, 4))
        free = [v for v in range(videos) if len(cast[v]) < 2]
        for v in rng.choice(free, size=n, replace=False):
            cast[int(v)].append(person)
    d = iter(distractors)
    for v in range(videos):
        while len(cast[v]) < int(rng.integers(1, 4)):
            cast[v].append(next(d))
    if out.exists():
        shutil.rmtree(out)
    (out / "videos").mkdir(parents=True)
    (out / "queries").mkdir()
    used = {p: 0 for p in people}
    truth: dict = {"seed": seed, "fps": FPS, "videos": {}, "queries": []}
    for v, names in enumerate(cast):
        apps = []
        for lane, person in enumerate(names):
            photos = people[person]
            first = 2 if person in chosen else 0  # targets keep photos 0 and 1 for the queries
            photo = photos[first + used[person] % max(1, len(photos) - first)]
            used[person] += 1
            one = appearance(person, photo, lane, len(names), rng, VIDEO_SECONDS)
            apps += with_returns(one, rng) if returns and rng.uniform() < returns else [one]
        name = f"v{v:02d}.mp4"
        at = (float(rng.uniform(3.0, 7.0)),) if cuts and rng.uniform() < cuts else ()
        on = render(out / "videos" / name, VIDEO_SECONDS, apps, rng, at)
        truth["videos"][name] = {
            "duration": VIDEO_SECONDS,
            "cuts": [round(c, 3) for c in at],
            "people": {
                a.person: {"photo": str(a.photo.relative_to(lfw)), "segments": on[a.person]}
                for a in {a.person: a for a in apps}.values()
            },
        }
    for person in chosen:
        photo, clip_photo = people[person][0], people[person][1]
        target = out / "queries" / f"{person}.jpg"
        shutil.copy(photo, target)
        clip = out / "queries" / f"{person}.mp4"
        a = Appearance(
            person,
            clip_photo,
            0.0,
            CLIP_SECONDS,
            (WIDTH / 2 - 20, HEIGHT / 2),
            (WIDTH / 2 + 20, HEIGHT / 2),
            230,
            260,
        )
        render(clip, CLIP_SECONDS, [a], rng)
        add_queries(truth, person, target, clip)
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    return truth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lfw", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--returns",
        type=float,
        default=0.0,
        help="chance that a person steps out for 1.5-3 s and comes back (default 0)",
    )
    ap.add_argument(
        "--cuts",
        type=float,
        default=0.0,
        help="chance that a video is two shots, cut at 3-7 s, its people going on (default 0)",
    )
    args = ap.parse_args()
    truth = build(args.lfw, args.out, args.seed, returns=args.returns, cuts=args.cuts)
    n = sum(len(v["people"]) for v in truth["videos"].values())
    print(
        f"{len(truth['videos'])} videos, {n} appearances, {len(truth['queries'])} queries -> {args.out}"
    )


if __name__ == "__main__":
    main()
