"""The command line contract, run as users run it: exit codes, one JSON document, clear errors."""

import json
import re
import subprocess
import sys

import pytest

from engine.library.lock import WriterLock
from tests.conftest import AOC_CLIPS, AOC_PHOTO, HAMILTON, LMM_PHOTO, NO_FACE_VIDEO, copy_media

pytestmark = pytest.mark.slow


def ris(*args, env, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "engine.frontends.cli", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def small_index(tmp_path_factory, ris_env):
    root = tmp_path_factory.mktemp("cli")
    media = root / "media"
    copy_media(media, HAMILTON, LMM_PHOTO, AOC_PHOTO)
    (media / "broken.mp4").write_text("not a video")
    run = ris("index", media, "--data-dir", root / "data", "--decoders", "2", env=ris_env)
    assert run.returncode == 0, run.stderr
    return root, run


def test_index_shows_progress_and_a_summary_on_stderr(small_index):
    _, run = small_index
    assert run.stdout == ""
    first, *rest = run.stderr.splitlines()
    assert first.startswith("ris: 4 files found: 4 to index")  # at once, before the models load
    # then where the work runs, once the models are loaded: the device, the decoders asked
    # for, the batch
    setup = r"ris: indexing on (cpu|cuda\S*), 2 decoders, \d+ frames per detection batch, "
    assert any(re.search(setup, line) for line in rest), run.stderr
    assert "100% 4/4 files" in run.stderr  # the progress bar's last state
    assert "indexed 3 files" in run.stderr and "1 failed" in run.stderr
    assert "broken.mp4" in run.stderr and "cannot decode the video" in run.stderr


def test_search_json_is_one_document_on_stdout(small_index, ris_env):
    root, _ = small_index
    run = ris("search", LMM_PHOTO, "--json", "--data-dir", root / "data", env=ris_env)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert set(doc) == {"query", "videos", "images"}
    assert doc["videos"][0]["path"].endswith("short_hamilton_clip.mp4")
    video = doc["videos"][0]
    assert set(video) == {"path", "score", "possible", "duration", "segments", "matches"}
    assert video["possible"] is False and doc["query"]["possible"] == pytest.approx(0.2)
    assert set(video["segments"][0]) == {"start", "end", "score", "possible"}
    assert video["segments"][0]["possible"] is False
    assert (
        set(video["matches"][0]) == {"t", "bbox", "similarity"}
        and len(video["matches"][0]["bbox"]) == 4
    )
    assert doc["images"][0]["path"].endswith("lin-manuel-miranda.png")


def test_human_output_lists_videos_with_segments(small_index, ris_env):
    root, _ = small_index
    run = ris("search", LMM_PHOTO, "--top", "1", "--data-dir", root / "data", env=ris_env)
    assert run.returncode == 0 and "short_hamilton_clip.mp4" in run.stdout
    assert "0:02" in run.stdout  # a segment starting near 0:02.7


def test_possible_matches_are_listed_apart_below_the_threshold(small_index, ris_env):
    """At a threshold only the query photo itself reaches, Miranda's video is a possible match:
    listed under its own heading, never counted as a match; margin 0 lists none."""
    root, _ = small_index
    args = ("search", LMM_PHOTO, "--threshold", "0.99", "--data-dir", root / "data")
    run = ris(*args, "--possible-margin", "0.9", env=ris_env)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "possible matches down to 0.09" in out
    assert "videos: no match" in out
    videos = out.split("videos: no match")[1].split("photos:")[0]
    assert "possible, below the threshold (1):" in videos and "short_hamilton_clip.mp4" in videos
    assert "possibly matching samples" in videos
    doc = json.loads(ris(*args, "--possible-margin", "0.9", "--json", env=ris_env).stdout)
    assert [v["possible"] for v in doc["videos"]] == [True]
    assert [i["possible"] for i in doc["images"]] == [False, True]  # itself, then the others
    none = json.loads(ris(*args, "--possible-margin", "0", "--json", env=ris_env).stdout)
    assert none["videos"] == [] and len(none["images"]) == 1 and none["query"]["possible"] is None


def test_with_nothing_matching_the_closest_files_are_listed_as_possible_matches(
    small_index, ris_env
):
    """A clip of Ocasio-Cortez at a threshold nothing reaches: her photo still comes first,
    as a possible match, and the list says it reaches down to similarity 0."""
    root, _ = small_index
    args = ("search", AOC_CLIPS[0], "--threshold", "0.95", "--data-dir", root / "data")
    doc = json.loads(ris(*args, "--json", env=ris_env).stdout)
    assert doc["query"]["possible"] == 0.0
    assert doc["images"] and all(i["possible"] for i in doc["images"])
    assert doc["images"][0]["path"].endswith(AOC_PHOTO.name)
    assert 0.3 < doc["images"][0]["score"] < 0.95
    assert all(v["possible"] for v in doc["videos"])
    text = ris(*args, env=ris_env).stdout
    assert "possible matches down to 0.00" in text and "photos: no match" in text
    assert text.split("photos: no match")[1].lstrip().startswith("possible, below the threshold")
    none = json.loads(ris(*args, "--possible-margin", "0", "--json", env=ris_env).stdout)
    assert none["videos"] == [] and none["images"] == [] and none["query"]["possible"] is None


def test_several_queries_give_json_lines_and_a_bad_one_does_not_stop_the_rest(small_index, ris_env):
    """One line per query, in order, each what `ris search` of that query alone prints; a
    query without a face is one error line (and exit 2), the next query is still searched."""
    root, _ = small_index
    data = ("--data-dir", root / "data")
    run = ris("search", LMM_PHOTO, NO_FACE_VIDEO, AOC_PHOTO, "--json", *data, env=ris_env)
    assert run.returncode == 2, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(lines) == 3
    assert lines[1]["error"].startswith("no face found") and "Traceback" not in run.stderr
    for doc, query in ((lines[0], LMM_PHOTO), (lines[2], AOC_PHOTO)):
        alone = json.loads(ris("search", query, "--json", *data, env=ris_env).stdout)
        assert doc == alone
    text = ris("search", LMM_PHOTO, AOC_PHOTO, *data, env=ris_env)
    assert text.returncode == 0 and text.stdout.count("query: ") == 2


def test_several_photos_of_one_person_are_searched_as_one_with_together(
    small_index, ris_env, tmp_path
):
    """--together: one query whose template is the mean of each photo's main face: one
    document, listing them, finding him; each alone scores the clip no better than both."""
    from PIL import Image

    from engine.search.thumbnails import frames_at

    root, _ = small_index
    data = ("--data-dir", root / "data")
    second = tmp_path / "him_on_stage.jpg"  # a second picture of him: a frame of his clip
    Image.fromarray(frames_at(HAMILTON, [4.0])[0]).save(second)
    run = ris("search", LMM_PHOTO, second, "--together", "--json", *data, env=ris_env)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)  # one document, not a line per photo
    assert doc["query"]["together"] == [str(LMM_PHOTO), str(second)]
    assert doc["query"]["candidates"][0]["samples"] == 2
    assert doc["videos"][0]["path"].endswith("short_hamilton_clip.mp4")
    alone = [
        json.loads(ris("search", q, "--json", *data, env=ris_env).stdout)["videos"][0]["score"]
        for q in (LMM_PHOTO, second)
    ]
    assert min(alone) - 1e-6 <= doc["videos"][0]["score"]
    refused = ris("search", LMM_PHOTO, second, "--together", "--face", "2", *data, env=ris_env)
    assert refused.returncode == 2 and "--face with --together" in refused.stderr


def test_user_errors_exit_2_with_one_line_and_no_traceback(small_index, ris_env, tmp_path):
    root, _ = small_index
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for query, message in [
        (NO_FACE_VIDEO, "no face found"),
        (text, "not a photo or a video"),
        (tmp_path / "missing.jpg", "does not exist"),
    ]:
        run = ris("search", query, "--data-dir", root / "data", env=ris_env)
        assert run.returncode == 2, run.stderr
        assert message in run.stderr and "Traceback" not in run.stderr and run.stdout == ""


def test_missing_weights_is_a_user_error(tmp_path, ris_env):
    env = {**ris_env, "RIS_FACENET_WEIGHTS": str(tmp_path / "nope.pt")}
    run = ris("index", LMM_PHOTO, "--data-dir", tmp_path / "d", env=env)
    assert (
        run.returncode == 2
        and "weights not found" in run.stderr
        and "RIS_FACENET_WEIGHTS" in run.stderr
    )


def test_damaged_weights_are_a_user_error_and_nothing_is_indexed(tmp_path, ris_env):
    from tests.conftest import WEIGHTS

    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(WEIGHTS.read_bytes()[:5_000_000])  # a copy cut short
    env = {**ris_env, "RIS_FACENET_WEIGHTS": str(truncated)}
    run = ris("index", LMM_PHOTO, "--data-dir", tmp_path / "d", env=env)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert f"cannot read the FaceNet weights {truncated}" in run.stderr
    assert "truncated or damaged" in run.stderr
    status = ris("status", "--json", "--data-dir", tmp_path / "d", env=ris_env)
    assert status.returncode == 0 and json.loads(status.stdout)["faces"] == 0


def test_other_weights_than_the_index_are_refused(small_index, ris_env, tmp_path):
    root, _ = small_index
    import torch
    from facenet_pytorch import InceptionResnetV1

    other = tmp_path / "other.pt"
    torch.manual_seed(0)
    torch.save(InceptionResnetV1(pretrained=None, classify=False).state_dict(), other)
    run = ris("search", LMM_PHOTO, "--weights", other, "--data-dir", root / "data", env=ris_env)
    assert run.returncode == 2 and "other FaceNet weights" in run.stderr


def test_a_second_writer_is_refused(small_index, ris_env):
    root, _ = small_index
    with WriterLock(root / "data" / "index.lock"):
        run = ris("index", LMM_PHOTO, "--data-dir", root / "data", env=ris_env)
    assert run.returncode == 3 and "another ris index run" in run.stderr


def test_status_lists_files_and_failures(small_index, ris_env):
    root, _ = small_index
    run = ris("status", "--json", "--data-dir", root / "data", env=ris_env)
    st = json.loads(run.stdout)
    assert len(st["files"]) == 4 and st["videos"] == 1 and st["images"] == 2
    assert [f["path"].endswith("broken.mp4") for f in st["failed"]] == [True]


def test_a_closed_pipe_ends_quietly(small_index, ris_env):
    root, _ = small_index
    cmd = [sys.executable, "-m", "engine.frontends.cli", "status", "--data-dir", str(root / "data")]
    proc = subprocess.Popen(cmd, env=ris_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # like `ris status | head -0`: the reader is gone before ris writes
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and "Traceback" not in err, err


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--top", "0"], {}, "--top must be a number at least 1, not 0"),
        (["--top", "-1"], {}, "--top must be a number at least 1, not -1"),
        (["--face", "0"], {}, "--face must be 1 or more, not 0"),
        (["--threshold", "nan"], {}, "--threshold / RIS_THRESHOLD must be a number from 0.0"),
        (["--threshold", "inf"], {}, "--threshold / RIS_THRESHOLD must be a number from 0.0"),
        (["--threshold", "2"], {}, "--threshold / RIS_THRESHOLD must be a number from 0.0 to 1.0"),
        (["--threshold", "-1"], {}, "not -1.0"),
        (["--possible-margin", "-0.1"], {}, "--possible-margin / RIS_POSSIBLE_MARGIN must be a"),
        ([], {"RIS_POSSIBLE_MARGIN": "2"}, "RIS_POSSIBLE_MARGIN must be a number from 0.0 to 1.0"),
        ([], {"RIS_SAMPLE_RATE": "fast"}, "RIS_SAMPLE_RATE='fast' is not a number"),
        ([], {"RIS_DECODE_WORKERS": "-2"}, "RIS_DECODE_WORKERS must be a number from 0 to 256"),
    ],
)
def test_impossible_options_are_refused_with_one_line(tmp_path, ris_env, args, env, says):
    """Exit 2 and one line naming the flag or variable, before any model loads or file is read."""
    out = subprocess.run(
        [sys.executable, "-m", "engine.frontends.cli", "search", str(tmp_path / "q.jpg"), *args]
        + ["--data-dir", str(tmp_path / "data")],
        env={**ris_env, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2, out.stderr
    assert says in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "data").exists()


def test_eval_without_lfw_stops_before_running_anything(tmp_path, ris_env):
    """`ris eval --only video,people` with a --shared that holds no LFW says so at once, with
    the flag to fix it, instead of running the video benchmark first and failing with a
    traceback when the people's photo library is built."""
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "truth.json").write_text(json.dumps({"videos": {}, "queries": []}))
    run = ris(
        "eval", "--only", "video,people", "--bench", bench, "--shared", tmp_path / "nowhere",
        "--data-dir", tmp_path / "data", env=ris_env, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert "nowhere/data/dev/lfw" in run.stderr and "--shared" in run.stderr
    assert "Traceback" not in run.stderr and "indexing" not in run.stderr
    assert not (tmp_path / "data").exists()
