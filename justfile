# ris: `just index FOLDER...` indexes media; `just test` runs the tests. Each installs what it needs.
set shell := ["bash", "-euo", "pipefail", "-c"]

venv := justfile_directory() / ".venv"
bin := venv / "bin"
shared_weights := justfile_directory() / "../shared/models/facenet/casia-webface-20180408-102900.pt"

# Offline machines (and this project's CI) use the local CASIA-WebFace weights when present;
# elsewhere facenet-pytorch downloads vggface2 on first use. RIS_FACENET_WEIGHTS wins if set.
export RIS_FACENET_WEIGHTS := env_var_or_default("RIS_FACENET_WEIGHTS", if path_exists(shared_weights) == "true" { shared_weights } else { "" })

# list the recipes
default:
    @just --list

# create .venv and install ris into it (again only when pyproject.toml changes)
setup:
    #!/usr/bin/env bash
    set -euo pipefail
    stamp="{{venv}}/.installed"
    if [ -f "$stamp" ] && [ ! pyproject.toml -nt "$stamp" ]; then exit 0; fi
    echo "ris: installing into {{venv}} (first run: a few minutes)" >&2
    python3 -m venv "{{venv}}"
    "{{bin}}/pip" install -q --upgrade pip
    "{{bin}}/pip" install -q -e ".[dev]"
    touch "$stamp"

# index (add or update) the photos and videos under PATHS into ./data
index +paths: setup
    "{{bin}}/ris" index {{paths}}

# search the index for the person in a photo or clip
search query *args: setup
    "{{bin}}/ris" search {{query}} {{args}}

# what is indexed, and what failed and why
status *args: setup
    "{{bin}}/ris" status {{args}}

# the interactive terminal UI (keys: ? for help)
tui *args: setup
    "{{bin}}/ris-tui" {{args}}

# run the tests (real models on real media: about 10 minutes on 2 CPU cores)
test *args: setup
    "{{bin}}/python" -m pytest {{args}}

# speed figures: frames/s and faces/s while indexing, search latency (CPU, and GPU if present)
bench *args: setup
    "{{bin}}/python" -m engine.tools.bench {{args}}

# the vector stores at 1 million synthetic vectors: insert rate, latency, recall@10 (~45 min)
bench-stores *args: setup
    "{{bin}}/python" -m engine.tools.bench_stores {{args}}

# what a user waits for: `ris search` cold and with `ris serve`, face_recognition alike, 100 photos in one call, ris-tui's first search (DATA: a library)
bench-latency data="data/eval/lfw" photos="../shared/data/dev/lfw" *args: setup peer
    "{{bin}}/python" -m engine.tools.bench_latency --data-dir {{data}} --photos {{photos}} {{args}}
    "{{bin}}/python" -m ris_tui.bench --data-dir {{data}} --runs 3 --first-search "$(find {{photos}} -type f -name '*.jpg' | sort | head -1)"

# face_recognition (dlib), the peer that `just eval` and `just bench-latency` measure beside ris (offline)
peer: setup
    "{{bin}}/python" -W ignore -c "import face_recognition" 2>/dev/null || { "{{bin}}/pip" install -q dlib-bin face-recognition-models "setuptools<81" && "{{bin}}/pip" install -q --no-deps face_recognition; }

# time to the first screen of ris-tui in tmux, against a minimal Textual app
bench-tui *args: setup
    "{{bin}}/python" -m ris_tui.bench {{args}}

# accuracy benchmarks (LFW, the easy and hard generated videos with face_recognition beside ris, the real clips): table + data/eval.json
eval *args: setup peer
    test -f data/video_bench/truth.json || "{{bin}}/python" data/make_video_benchmark.py ../shared/data/dev/lfw data/video_bench
    test -f data/video_bench_hard/truth.json || "{{bin}}/python" data/make_hard_video_benchmark.py ../shared/data/dev/lfw data/video_bench_hard
    "{{bin}}/ris" eval --bench data/video_bench --hard data/video_bench_hard {{args}}

# format check, lint, architecture contract, types
lint: setup
    "{{bin}}/ruff" format --check engine ris_tui tests data
    "{{bin}}/ruff" check engine ris_tui tests data
    "{{bin}}/lint-imports"
    "{{bin}}/mypy"

# the catalog's commit, claim and lookup rates, SQLite against PostgreSQL (URI: an empty database)
bench-catalog uri *args: setup
    "{{bin}}/python" -m engine.tools.bench_catalog --catalog {{uri}} {{args}}

# one `ris index` against two at once on one folder, each pinned to a core (URI: a database ris may empty)
bench-indexers uri folder *args: setup
    "{{bin}}/python" -m engine.tools.bench_indexers --catalog {{uri}} {{folder}} {{args}}
