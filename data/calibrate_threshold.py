"""Choose the match threshold from LFW pairs, through the engine's own query path.

    python data/calibrate_threshold.py ../shared/data/dev/lfw/pairsDevTest.txt --weights W.pt

Each pair's images are read like a query photo (largest face) and compared by cosine
similarity. Prints, over 10 folds, the threshold of best accuracy chosen on nine folds and
scored on the tenth, and the false-accept rate at each candidate threshold.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from engine.api import build_engine
from engine.errors import NoFaceError
from engine.settings import Settings
from engine.tools.evaluation.lfw import read_pairs


def embed_pairs(pairs_file: Path, settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity and same-person label of every pair whose two faces are found."""
    engine = build_engine(settings)
    root = pairs_file.parent
    cache: dict[str, np.ndarray | None] = {}

    def vec(key: str) -> np.ndarray | None:
        if key not in cache:
            try:
                cache[key] = engine.read_query(root / key).templates[0]
            except NoFaceError:
                cache[key] = None
        return cache[key]

    sims, same = [], []
    for a, b, is_same in read_pairs(pairs_file):
        va, vb = vec(a), vec(b)
        if va is not None and vb is not None:
            sims.append(float(va @ vb))
            same.append(is_same)
    return np.asarray(sims), np.asarray(same)


def best_threshold(sims: np.ndarray, same: np.ndarray) -> float:
    candidates = np.arange(0.0, 1.0, 0.005)
    acc = [np.mean((sims >= t) == same) for t in candidates]
    return float(candidates[int(np.argmax(acc))])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pairs", type=Path)
    ap.add_argument("--weights", type=Path)
    args = ap.parse_args()
    sims, same = embed_pairs(
        args.pairs, Settings.from_env(weights=args.weights, data_dir=Path("/nonexistent"))
    )
    folds = np.arange(len(sims)) % 10
    chosen, accs = [], []
    for k in range(10):
        t = best_threshold(sims[folds != k], same[folds != k])
        chosen.append(t)
        accs.append(np.mean((sims[folds == k] >= t) == same[folds == k]))
    print(f"pairs used: {len(sims)} (same {same.sum()}, different {(~same).sum()})")
    print(
        f"10-fold accuracy {np.mean(accs):.4f} ± {np.std(accs):.4f}; thresholds chosen "
        f"{min(chosen):.3f}..{max(chosen):.3f} (median {np.median(chosen):.3f})"
    )
    for t in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6):
        far = np.mean(sims[~same] >= t)
        tar = np.mean(sims[same] >= t)
        print(
            f"  threshold {t:.2f}: accuracy {np.mean((sims >= t) == same):.4f}  "
            f"true-accept {tar:.4f}  false-accept {far:.4f}"
        )


if __name__ == "__main__":
    main()
