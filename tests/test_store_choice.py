"""Which vector store a command uses: asked for, else the library's own, else usearch."""

import pytest

from engine.errors import UserError
from engine.library.catalog import Catalog
from engine.library.stores.choice import choose, record
from engine.settings import Settings


def settings(tmp_path, env=None, **kw):
    return Settings.from_env(env=env or {}, data_dir=tmp_path, **kw)


def test_a_new_library_uses_usearch_in_its_data_dir(tmp_path):
    choice = choose(settings(tmp_path), None)
    assert choice.backend == "usearch"
    assert choice.uri == str((tmp_path / "faces.usearch").resolve())


def test_milvus_from_the_environment_defaults_to_lite_in_the_data_dir(tmp_path):
    choice = choose(settings(tmp_path, env={"RIS_BACKEND": "milvus"}), None)
    assert (choice.backend, choice.uri, choice.collection) == (
        "milvus",
        str((tmp_path / "milvus.db").resolve()),
        "ris_faces",
    )
    env = {"RIS_MILVUS_URI": "http://milvus:19530", "RIS_MILVUS_COLLECTION": "archive"}
    s = settings(tmp_path, env={**env, "RIS_MILVUS_TOKEN": "u:p", "RIS_MILVUS_TIMEOUT": "5"})
    choice = choose(s, None)  # a URI alone asks for Milvus
    assert (choice.backend, choice.uri, choice.collection) == (
        "milvus",
        env["RIS_MILVUS_URI"],
        "archive",
    )
    assert (s.milvus_token, s.milvus_timeout) == ("u:p", 5.0)


def test_the_library_remembers_its_store_and_flags_win(tmp_path):
    cat = Catalog(tmp_path / "catalog.sqlite")
    server = choose(settings(tmp_path, backend="milvus", milvus_uri="http://m:19530"), cat)
    record(server, cat)
    assert choose(settings(tmp_path), cat) == server  # later commands need no flags
    assert choose(settings(tmp_path, backend="usearch"), cat).backend == "usearch"
    other = choose(settings(tmp_path, milvus_collection="other"), cat)
    assert (other.uri, other.collection) == ("http://m:19530", "other")
    record(choose(settings(tmp_path, backend="usearch"), cat), cat)
    assert choose(settings(tmp_path), cat).backend == "usearch"
    # back on usearch, Milvus again starts from the defaults, not the old server
    assert choose(settings(tmp_path, backend="milvus"), cat).uri.endswith("milvus.db")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"backend": "faiss"}, "unknown backend 'faiss'"),
        ({"milvus_uri": "ftp://host/x"}, "cannot use the Milvus URI"),
        ({"milvus_uri": "faces.sqlite"}, "does not end in .db"),
    ],
)
def test_bad_store_settings_are_user_errors(tmp_path, kw, message):
    with pytest.raises(UserError, match=message):
        choose(settings(tmp_path, **kw), None)
