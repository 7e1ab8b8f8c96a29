"""`ris`: the command line. Results on stdout (`--json` for one JSON document), progress and
errors on stderr. Exit codes: 0 ok, 1 engine failure, 2 user error, 3 index busy, 130 Ctrl-C."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import EngineError, QueryError, UserError
from engine.frontends.resident import DEFAULT_IDLE, SERVED, STARTING_FLAGS, RunInProcess
from engine.printable_names import printable
from engine.settings import OPTIONS, Settings, add_flag
from engine.timecodes import clock
from engine.tools.evaluation import SECTIONS
from engine.vocabulary import MediaKind

if TYPE_CHECKING:
    from engine.api import Engine
    from engine.frontends.resident import Server
    from engine.results import SearchResult


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    for name in ("data_dir", "catalog", "roots", "device", "weights"):
        add_flag(common, name)
    store = common.add_argument_group("vector store (default: the library's own, else usearch)")
    add_flag(store, "backend", choices=("usearch", "milvus"))
    for name in ("milvus_uri", "milvus_collection", "milvus_token"):
        add_flag(store, name)
    parser = argparse.ArgumentParser(
        prog="ris", description="Find the videos and photos that show a person."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", parents=[common], help="add or update the media under PATH...")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--retry-failed", action="store_true", help="try again files that failed before")
    for name in ("sample_rate", "min_face_size", "min_face_prob"):
        add_flag(p, name)
    speed = p.add_argument_group(
        "speed (default: chosen from the machine, shown in the first line)"
    )
    for name in ("decode_workers", "frame_batch", "detect_threads"):
        add_flag(speed, name)
    add_flag(p, "claim_lease")

    p = sub.add_parser(
        "search", parents=[common], help="find the videos and photos showing a person"
    )
    p.add_argument(
        "query",
        type=Path,
        nargs="*",
        help="a photo or a video clip of the person; several are searched one after the other "
        "with the models loaded once (--json: one line each, JSON Lines), or as one with "
        "--together",
    )
    p.add_argument(
        "--together",
        action="store_true",
        help="several photos or clips of one person searched as one query: the main face of "
        "each (a clip's most present person) averaged into one template; one result",
    )
    add_flag(p, "top")
    add_flag(p, "threshold")
    add_flag(p, "possible_margin", metavar="M")
    p.add_argument(
        "--face",
        type=int,
        help="which face of the photo (1 = the main face: largest in view, toward the centre) or "
        "person of the clip "
        "(1 = most present) to search for",
    )
    p.add_argument(
        "--person",
        metavar="ID|NAME",
        help="search for a person of `ris people` (their id or name) instead of a photo: with "
        "the mean of all their appearances",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")

    p = sub.add_parser(
        "people",
        parents=[common],
        help="the people found across the library: list, show, name, merge, correct",
        description="The people found across the library's videos and photos, most time on "
        "screen first, brought up to date with the library first. A face seen only once is "
        "left unsorted. Names, merges and appearances taken out are kept in the catalog "
        "(README, People).",
    )
    p.add_argument("--json", action="store_true", help="JSON Lines: one person per line")
    p.add_argument(
        "action",
        nargs="?",
        choices=("list", "show", "name", "merge", "remove"),
        default="list",
        help='list (the default); show ID; name ID NAME ("" takes the name away); merge '
        "ID OTHER (OTHER's appearances become ID's); remove ID PATH [--at SECONDS] (that "
        "appearance is not theirs)",
    )
    p.add_argument("args", nargs="*", metavar="ARG")
    p.add_argument(
        "--at", type=float, metavar="SECONDS", help="remove: the appearance at this time"
    )

    p = sub.add_parser(
        "forget",
        parents=[common],
        help="take files out of the index (their faces and vectors); the files are not touched",
        description="Take the files at PATH, or under it, out of the index: their faces and "
        "vectors go, the files themselves are not touched. Indexing their folder again brings "
        "them back; move or delete a file to keep it out.",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")

    p = sub.add_parser("status", parents=[common], help="what is indexed, and what failed and why")
    p.add_argument("--json", action="store_true", help="print one JSON document")

    p = sub.add_parser(
        "faces",
        parents=[common],
        help="every face ris sees in photos and videos, with its embedding",
        description="Every face ris sees in each photo and sampled video frame, read exactly as "
        "`ris index` reads it (with the library's weights), the face a query would search for "
        "marked `chosen`. --json prints JSON Lines, one document per file (README, ris faces).",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    add_flag(p, "sample_rate")
    p.add_argument("--json", action="store_true", help="JSON Lines: one document per file")

    p = sub.add_parser(
        "serve",
        parents=[common],
        help="keep the models and the library loaded and answer search, status and faces "
        "of other `ris` processes at once",
        description="Keep the face models and the library loaded, and answer the `ris search`, "
        "`ris status` and `ris faces` commands of this user for this data directory over a "
        "private local socket, with the same output as they print themselves (a photo search "
        "in a fraction of a second). The commands use it by themselves while it runs; "
        "RIS_SERVE=auto makes them start it, RIS_SERVE=off keeps them from it (README, "
        "The resident engine).",
    )
    p.add_argument(
        "--idle",
        type=float,
        metavar="SECONDS",
        help=f"exit after this long without a request (RIS_SERVE_IDLE; default {DEFAULT_IDLE:.0f})",
    )
    p.add_argument("--stop", action="store_true", help="stop the server of this data directory")

    p = sub.add_parser(
        "check",
        parents=[common],
        help="check the catalog and the vectors for damage (exit 1 if any), and say what to do",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")

    sub.add_parser(
        "repair",
        parents=[common],
        help="recover a damaged catalog into a new one (the damaged file is kept) and rebuild "
        "the vectors from the catalog",
    )

    p = sub.add_parser(
        "migrate",
        parents=[common],
        help="copy the library's vectors to another store, or its catalog to PostgreSQL, "
        "without re-embedding",
        description="--to STORE: copy the library's face vectors from its store (usearch unless "
        "migrated before) into another, verify the copy, and make it the library's store. "
        "--catalog postgresql://...: copy the data directory's SQLite catalog into an empty "
        "PostgreSQL database, verify it row by row, and leave the source as it was.",
    )
    p.add_argument("--to", choices=("milvus", "usearch"), help="the new store")
    p.add_argument(
        "--replace",
        action="store_true",
        help="overwrite a Milvus collection that holds another library's vectors",
    )

    p = sub.add_parser(
        "eval", parents=[common], help="accuracy benchmarks (LFW, generated and real videos)"
    )
    p.add_argument(
        "--bench",
        type=Path,
        default=Path("data/video_bench"),
        help="the generated video benchmark (data/make_video_benchmark.py writes it)",
    )
    p.add_argument(
        "--hard",
        type=Path,
        default=Path("data/video_bench_hard"),
        help="the hard video benchmark (data/make_hard_video_benchmark.py writes it)",
    )
    p.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"benchmarks to run, comma-separated, of {','.join(SECTIONS)} (default: all)",
    )
    p.add_argument(
        "--shared",
        type=Path,
        default=Path("../shared"),
        help="the folder holding data/dev (LFW, the dev media)",
    )
    p.add_argument(
        "--out", type=Path, default=Path("data/eval.json"), help="where the full figures go"
    )
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (a service manager, `kill`), handled like Ctrl-C: finished files are kept and
    the vectors saved; the exit code is 143."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if getattr(args, "face", None) is not None and args.face < 1:
            raise UserError(f"--face must be 1 or more, not {args.face}", "1 is the first face")
        settings = _settings(args)
        if args.command == "serve":
            return _serve(settings, args)
    except EngineError as err:
        return _report(err)
    if args.command in SERVED:
        from engine.frontends import resident

        try:
            answered = resident.ask(
                settings.data_dir, argv, sys.stdout, sys.stderr, _engine_flags(args)
            )
        except KeyboardInterrupt:
            print("\nris: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # the reader went away (`ris status | head`), as in run()
            _quiet_stdout()
            return 0
        if answered is not None:
            return answered
    from engine.api import build_engine

    engine = build_engine(settings, notify=_notify)
    try:
        return run(engine, args)
    finally:
        engine.close()


def _notify(text: str) -> None:
    """The engine's word on slow first-time work, on the command's stderr."""
    print(f"ris: {text}", file=sys.stderr)


def run(engine: Engine, args: argparse.Namespace) -> int:
    """One command on an engine, its errors reported as `ris` reports them; its exit code."""
    try:
        commands = {
            "index": _index,
            "search": _search,
            "status": _status,
            "forget": _forget,
            "people": _people,
            "check": _check,
            "faces": _faces,
            "repair": _repair,
            "migrate": _migrate,
            "eval": _eval,
        }
        return commands[args.command](engine, args)
    except EngineError as err:
        return _report(err)
    except BrokenPipeError:  # the reader went away (`ris status | head`): stop quietly
        _quiet_stdout()
        return 0
    except PermissionError as err:  # a file of the library this user may not read
        return _report(
            UserError(
                f"permission denied: {err.filename or err}",
                "the library or a file in it belongs to another user: ask its owner to share "
                "it, or use a --data-dir of your own",
            )
        )
    except KeyboardInterrupt as stop:
        what = "terminated" if isinstance(stop, Terminated) else "interrupted"
        print(
            f"\nris: {what}; finished files are kept; run the same command to go on",
            file=sys.stderr,
        )
        return 143 if isinstance(stop, Terminated) else 130


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that exiting does not fail again on the closed pipe (a
    resident engine's captured output has no file: nothing to do)."""
    with suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from engine.frontends import resident

    if args.stop:
        stopped = resident.stop(settings.data_dir)
        print(
            f"ris: {'stopped' if stopped else 'no server runs for'} {settings.data_dir}",
            file=sys.stderr,
        )
        return 0
    server_files = resident.ServerFiles.of(settings.data_dir, create=True)
    if server_files is None:
        raise UserError(
            f"no private folder for the server's socket: {resident.why_not_private()}",
            "set XDG_RUNTIME_DIR to a folder of your own (mode 0700, such as /run/user/"
            f"{os.getuid()}), or have {resident.runtime_dir()} removed; commands meanwhile "
            "run in-process",
        )
    idle = (
        args.idle
        if args.idle is not None
        else float(os.environ.get("RIS_SERVE_IDLE") or DEFAULT_IDLE)
    )
    log = sys.stderr  # the server's own; a request's output goes to the command that asked

    def say(text: str) -> None:
        print(f"ris serve: {text}", file=log, flush=True)

    server = resident.Server(settings, _answer, idle, say, _notify)
    if resident.running(settings.data_dir):
        say(f"a server already serves {settings.data_dir.resolve()}")
        return 0
    device: list[str] = []

    def warm() -> None:  # once the library is this server's: three started at once load once
        say("loading the models")
        device.append(server.warm())

    def ready() -> None:
        say(
            f"serving {server.data_dir} on {server_files.socket} (models on {device[0]}; exits "
            f"after {idle:.0f} s idle)"
        )

    try:
        server.serve(server_files, warm, ready)
    except RunInProcess as why:
        say(str(why))
    return 0


def _engine_flags(args: argparse.Namespace) -> list[str]:
    """The flags of a command that chose its engine (`--weights W`, ...), as given: a server
    that RIS_SERVE=auto starts for it takes the same, so that it answers it next time."""
    flags: list[str] = []
    for name in STARTING_FLAGS:
        value = getattr(args, name, None)
        if value is None:
            continue
        if isinstance(value, Path) or (name == "milvus_uri" and "://" not in value):
            value = Path(value).expanduser().resolve()  # the server starts in another folder
        flags += [f"--{name.replace('_', '-')}", str(value)]
    return flags


def _answer(server: Server, argv: list[str], env: dict[str, str]) -> int:
    """A request to a resident engine: the command run as in-process, on its engine."""
    args = _parser().parse_args(argv)
    engine = server.engine_for(_settings(args, env))
    return run(engine, args)


def _report(err: EngineError) -> int:
    print(f"ris: error: {printable(err.title)}", file=sys.stderr)
    if err.hint:
        print(f"ris: hint: {printable(err.hint)}", file=sys.stderr)
    return err.exit_code


def _settings(args: argparse.Namespace, env: dict[str, str] | None = None) -> Settings:
    """Settings from the flags this command has (the table's), over the RIS_* variables."""
    given = {o.name: getattr(args, o.dest, None) for o in OPTIONS if o.flag}
    return Settings.from_env(env, **given)


def _index(engine: Engine, args: argparse.Namespace) -> int:
    from engine.events import (
        FileFailed,
        FileLeft,
        IndexFinished,
        IndexPlanned,
        IndexProgressed,
        ModelsLoaded,
    )
    from engine.frontends.progress import ProgressBar

    bar = ProgressBar()
    failures: list[FileFailed] = []
    for ev in engine.index(args.paths, retry_failed=args.retry_failed):
        if isinstance(ev, IndexPlanned):
            print(
                f"ris: {ev.files} files found: {ev.to_index} to index, {ev.unchanged} unchanged"
                f"{f', {ev.moved} moved or renamed (kept, not embedded again)' if ev.moved else ''}"
                f"{f', {ev.removed} gone from disk (dropped)' if ev.removed else ''}",
                file=sys.stderr,
            )
            if not ev.to_index:
                print(
                    "ris: nothing to re-embed: every file is unchanged since the last run"
                    + (" (or moved, and recognised)" if ev.moved else ""),
                    file=sys.stderr,
                )
        elif isinstance(ev, ModelsLoaded):
            bar.message(f"ris: indexing on {ev.setup}")
        elif isinstance(ev, IndexProgressed):
            bar.update(ev, force=ev.files_done == ev.files_total)
        elif isinstance(ev, FileFailed):
            failures.append(ev)
            bar.message(f"ris: skipped {printable(ev.path)}: {printable(ev.reason)}")
        elif isinstance(ev, FileLeft):
            bar.message(f"ris: left to another indexer: {printable(ev.reason)}")
        elif isinstance(ev, IndexFinished):
            bar.clear()
            rate = ev.frames / ev.seconds if ev.seconds else 0
            print(
                f"ris: indexed {ev.indexed} file{'' if ev.indexed == 1 else 's'} "
                f"({ev.faces} faces in {ev.frames} frames, "
                f"{rate:.1f} frames/s) in {ev.seconds:.1f} s; {ev.unchanged} unchanged, "
                f"{ev.failed} failed, {ev.removed} removed",
                file=sys.stderr,
            )
    if failures:
        print(
            f"ris: {len(failures)} files could not be indexed (also in `ris status`):",
            file=sys.stderr,
        )
        for f in failures:
            print(f"  {printable(f.path)}\n    {printable(f.reason)}", file=sys.stderr)
    return 0


def _search(engine: Engine, args: argparse.Namespace) -> int:
    if args.person is not None:
        if args.query or args.face not in (None, 1):
            raise UserError(
                "--person searches for a person of the library: no query files, no --face",
                "give either --person ID|NAME, or the photos and clips",
            )
        return _print_result(engine.search(engine.person_query(args.person)), args.json)
    if not args.query:
        raise UserError("say what to search for", "give a photo or a clip, or --person ID|NAME")
    if len(args.query) == 1 or args.together:  # one document, as it always was
        if args.together and args.face not in (None, 1):
            raise UserError(
                "--face with --together: the queries are searched as one person",
                "leave --face out (each query's main face is used), or search them apart",
            )
        query = engine.read_together(args.query) if args.together else args.query[0]
        return _print_result(engine.search(query, face=args.face), args.json)
    failed = 0
    for i, query in enumerate(args.query):
        try:
            result = engine.search(query, face=args.face)
        except QueryError as err:  # this query cannot be searched: say so, go on with the rest
            failed += 1
            _report(err)
            if args.json:
                doc = {"query": {"path": str(query)}, "error": err.title, "hint": err.hint}
                print(json.dumps(doc), flush=True)
            continue
        if args.json:
            print(json.dumps(result.to_json()), flush=True)
        else:
            print(("\n" if i else "") + format_result(result), flush=True)
    return UserError.exit_code if failed else 0


def _print_result(result: SearchResult, as_json: bool) -> int:
    if as_json:
        json.dump(result.to_json(), sys.stdout, indent=2)
        print()
    else:
        print(format_result(result))
    return 0


def _people(engine: Engine, args: argparse.Namespace) -> int:
    from engine.frontends.people_output import format_people, format_person, person_json

    wanted = {"list": 0, "show": 1, "name": 2, "merge": 2, "remove": 2}[args.action]
    if len(args.args) != wanted:
        usage = {
            "list": "ris people [--json]",
            "show": "ris people show ID|NAME",
            "name": "ris people name ID|NAME NEW_NAME",
            "merge": "ris people merge ID|NAME OTHER",
            "remove": "ris people remove ID|NAME PATH [--at SECONDS]",
        }[args.action]
        raise UserError(f"ris people {args.action} takes {wanted} arguments", usage)
    if args.action == "list":
        found = engine.people()
        if args.json:
            for person in found.people:
                print(json.dumps(person_json(engine.person(str(person.id)))), flush=True)
        else:
            print(format_people(found))
        return 0
    if args.action == "show":
        person = engine.person(args.args[0])
    elif args.action == "name":
        person = engine.name_person(args.args[0], args.args[1] or None)
    elif args.action == "merge":
        person = engine.merge_people(args.args[0], args.args[1])
    else:
        person = engine.take_out(args.args[0], args.args[1], args.at)
    if args.json:
        print(json.dumps(person_json(person)))
    else:
        print(format_person(person))
    return 0


def _migrate(engine: Engine, args: argparse.Namespace) -> int:
    from engine.frontends.progress import CountBar

    if args.to is None:
        if engine.settings.catalog is None:
            raise UserError(
                "say what to migrate to",
                "--to milvus|usearch moves the vectors; --catalog postgresql://... the catalog",
            )
        return _migrate_catalog(engine)
    bar = CountBar("vectors")
    done = engine.migrate(args.to, args.replace, bar.update_count)
    bar.clear()
    print(
        f"ris: copied {done.vectors} vectors from {done.source} to {done.target} in "
        f"{done.seconds:.1f} s; counts equal; {done.checked} sampled vectors equal",
        file=sys.stderr,
    )
    print(f"ris: this library now uses {done.target}", file=sys.stderr)
    return 0


def _migrate_catalog(engine: Engine) -> int:
    from engine.frontends.progress import CountBar
    from engine.library.catalogs import catalog_name

    bar = CountBar("faces")
    copied, seconds = engine.migrate_catalog(bar.update_count)
    bar.clear()
    target = catalog_name(engine.settings)
    print(
        f"ris: copied {copied.files} files and {copied.faces} faces from "
        f"{engine.settings.catalog_path} to {target} in {seconds:.1f} s; every row verified",
        file=sys.stderr,
    )
    print(
        f"ris: use it with --catalog {target} (or RIS_CATALOG); {engine.settings.catalog_path} "
        "is left as it was",
        file=sys.stderr,
    )
    return 0


def _eval(engine: Engine, args: argparse.Namespace) -> int:
    from engine.errors import UserError
    from engine.tools.evaluation.run import run, table

    settings = engine.settings
    if args.data_dir is None:  # keep the benchmark indexes apart from the user's library
        settings = replace(settings, data_dir=Path("data/eval"))
    sections = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown or not sections:
        raise UserError(f"--only {args.only}: unknown benchmark", f"pick from {','.join(SECTIONS)}")
    for name, folder, maker in (
        ("video", args.bench, "make_video_benchmark.py"),
        ("hard", args.hard, "make_hard_video_benchmark.py"),
        ("people", args.bench, "make_video_benchmark.py"),
    ):
        if name in sections and not (folder / "truth.json").exists():
            raise UserError(
                f"no {name} video benchmark in {folder}",
                f"make it with: python data/{maker} ../shared/data/dev/lfw {folder}  "
                "(or run `just eval`)",
            )
    needs = {"lfw": "data/dev/lfw", "people": "data/dev/lfw", "dev": "data/dev"}
    for name in sections:  # checked before any benchmark runs, not when its turn comes
        if name in needs and not (args.shared / needs[name]).is_dir():
            raise UserError(
                f"--only {name} needs {args.shared / needs[name]}, which is not there",
                "point --shared at the folder holding data/dev (LFW and the dev media)",
            )
    from engine.events import IndexFinished, IndexPlanned, IndexProgressed
    from engine.frontends.progress import ProgressBar

    bar = ProgressBar()

    def on_event(ev: object) -> None:
        nonlocal bar
        if isinstance(ev, IndexPlanned):
            bar = ProgressBar()  # each index run its own clock
        elif isinstance(ev, IndexProgressed):
            bar.update(ev, force=ev.files_done == ev.files_total)
        elif isinstance(ev, IndexFinished):
            bar.clear()

    report = run(
        settings,
        args.shared,
        args.bench,
        lambda m: bar.message(f"ris eval: {m}"),
        on_event,
        hard=args.hard,
        sections=sections,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print(f"\nfull figures: {args.out} ({report['seconds']:.0f} s)")
    return 0


def format_result(r: SearchResult) -> str:
    q = r.query
    clip = q.kind == MediaKind.VIDEO
    what = "person" if clip else "face"
    lines = [
        f"query: {printable(q.path)} ({'clip' if clip else 'photo'}, {len(q.faces)} "
        f"{what}{'s' if len(q.faces) != 1 else ''}; searching {what} {q.chosen}"
        f"{' — pick another with --face N' if len(q.faces) > 1 else ''})",
        f"threshold: {r.threshold:.2f} cosine similarity"
        + (f"; possible matches down to {r.possible:.2f}" if r.possible is not None else ""),
    ]
    sure = sum(not v.possible for v in r.videos)
    lines += ["", f"videos ({sure}):" if sure else "videos: no match"]
    for i, v in enumerate(r.videos, 1):
        if i == sure + 1:  # possible matches come after every match
            lines.append(f"  possible, below the threshold ({len(r.videos) - sure}):")
        lines.append(
            f"{i:3d}. {v.score:.3f}  {printable(v.path)}  ({v.duration:.1f} s, {len(v.matches)} "
            f"{'possibly ' if v.possible else ''}matching samples)"
            f"{'' if v.reachable else '  [not reachable here]'}"
        )
        for s in v.segments:
            maybe = "  possible" if s.possible and not v.possible else ""  # a weaker appearance
            lines.append(
                f"        {clock(s.start)} – {clock(s.end)}  similarity {s.score:.3f}{maybe}"
            )
    sure = sum(not im.possible for im in r.images)
    lines += ["", f"photos ({sure}):" if sure else "photos: no match"]
    for i, im in enumerate(r.images, 1):
        if i == sure + 1:
            lines.append(f"  possible, below the threshold ({len(r.images) - sure}):")
        lines.append(
            f"{i:3d}. {im.score:.3f}  {printable(im.path)}"
            f"{'' if im.reachable else '  [not reachable here]'}"
        )
    return "\n".join(lines)


def _status(engine: Engine, args: argparse.Namespace) -> int:
    st = engine.status()
    if args.json:
        json.dump(asdict(st), sys.stdout, indent=2)
        print()
        return 0
    print(f"data directory: {printable(st.data_dir)}")
    if st.catalog.startswith("postgres"):
        print(f"catalog: {printable(st.catalog)}")
    if not st.files:
        print("nothing indexed yet: run `ris index FOLDER`")
        return 0
    print(f"weights: {printable(str(st.weights))}")
    print(f"vector store: {printable(st.store)}")
    if st.vectors is not None:
        behind = f", {st.vectors_behind} changes behind the catalog" if st.vectors_behind else ""
        print(f"vectors: {st.vectors} saved{behind}")
    print(
        f"indexed: {st.videos} videos, {st.images} photos, {st.faces} faces; {len(st.failed)} failed"
    )
    print("files:")
    for path, status, faces in st.files:
        print(f"  {status:8s} {faces:5d} faces  {printable(path)}")
    if st.failed:
        print(f"failed ({len(st.failed)}):")
        for f in st.failed:
            print(f"  {printable(f.path)}\n    {printable(f.reason)}")
    return 0


def _forget(engine: Engine, args: argparse.Namespace) -> int:
    """The files at or under the paths given taken out of the index."""
    wanted = [str(Path(p).expanduser().resolve()) for p in args.paths]
    held = [
        path
        for path, _, _ in engine.status().files
        if any(path == w or path.startswith(w.rstrip("/") + "/") for w in wanted)
    ]
    if not held:
        raise UserError(
            f"nothing indexed at or under {', '.join(printable(w) for w in wanted)}",
            "`ris status` lists what the library holds",
        )
    taken = engine.forget(held)
    print(
        f"ris: took {taken} file{'s' if taken != 1 else ''} out of the index; the files are not "
        "touched, and indexing their folder again brings them back",
        file=sys.stderr,
    )
    return 0


def _faces(engine: Engine, args: argparse.Namespace) -> int:
    failed = 0
    for found in engine.faces(args.paths):
        failed += bool(found.error)
        if args.json:
            print(json.dumps(found.to_json()), flush=True)
            continue
        if found.error:
            print(f"{printable(found.path)}: {printable(found.error)}", file=sys.stderr)
            continue
        size = f"{found.width}x{found.height}"
        print(f"{printable(found.path)} ({found.kind}, {size}): {len(found.faces)} faces")
        for f in found.faces:
            box = ", ".join(f"{v:.0f}" for v in f.bbox)
            mark = "  chosen" if f.chosen else ""
            print(f"  {clock(f.t)}  [{box}]  prob {f.prob:.3f}{mark}")
    return 1 if failed else 0


def _check(engine: Engine, args: argparse.Namespace) -> int:
    report = engine.check()
    if args.json:
        json.dump(
            {**asdict(report), "healthy": report.healthy, "advice": report.advice()},
            sys.stdout,
            indent=2,
        )
        print()
        return 0 if report.healthy else 1
    print(f"catalog: {printable(report.catalog)}")
    if report.catalog_problems:
        print(f"  DAMAGED: {len(report.catalog_problems)} problems, SQLite says:")
        for line in report.catalog_problems[:10]:
            print(f"    {printable(line)}")
    elif report.damaged_vectors:
        print(
            f"  DAMAGED: {report.damaged_vectors} face vectors fail their checksum (SQLite's "
            f"own check passed), in {len(report.damaged_files)} files:"
        )
        for path in report.damaged_files[:10]:
            print(f"    {printable(path)}")
    else:
        print("  sound (SQLite integrity check passed, every vector matches its checksum)")
    v = report.vectors
    if v is not None:
        print(f"vectors: {printable(v.store)}")
        print(
            f"  {v.vectors} vectors for {v.faces} catalog faces; {v.missing} missing, {v.extra} "
            f"extra; {v.differing} of {v.sampled} sampled differ from the catalog's"
            + (" (whose damage is above)" if v.differing and report.damaged_vectors else "")
        )
        if v.damaged_file:
            print("  DAMAGED: the vector file does not match its checksum")
        elif v.behind and not v.healthy:
            print("  behind the catalog (an interrupted run): caught up by the next run")
    print(f"{'healthy' if report.healthy else 'to do'}: {report.advice()}")
    return 0 if report.healthy else 1


def _repair(engine: Engine, args: argparse.Namespace) -> int:
    done = engine.repair(progress=lambda text: print(f"ris: {printable(text)}", file=sys.stderr))
    mended = done.mended
    if mended.damaged:
        print(
            f"ris: {mended.damaged} damaged vectors in the catalog: {mended.restored} restored "
            "from the vector store's sound copies",
            file=sys.stderr,
        )
        _listed(
            "files with damaged vectors and no sound copy will be embedded again by the next "
            "`ris index` of their folders",
            mended.to_reindex,
        )
    if done.salvage is None:
        print(
            f"ris: the catalog was sound; {done.vectors} vectors rebuilt from it", file=sys.stderr
        )
        return 0
    got = done.salvage
    print(
        f"ris: recovered {got.files} files and {got.faces} faces into a new catalog; "
        f"{len(got.lost_files)} file records and {got.lost_faces} faces were lost",
        file=sys.stderr,
    )
    print(f"ris: the damaged catalog is kept at {printable(done.kept or '')}", file=sys.stderr)
    _listed(
        "file records were lost; those still on disk are indexed again by the next `ris index` "
        "of their folders",
        got.lost_files,
    )
    _listed(
        "files lost faces and will be embedded again by the next `ris index` of their folders",
        got.to_reindex,
    )
    print(f"ris: {done.vectors} vectors rebuilt from the new catalog", file=sys.stderr)
    return 0


def _listed(what: str, paths: Sequence[str]) -> None:
    """`ris: N <what>:` and the paths, one a line, on stderr; nothing when there are none."""
    if paths:
        print(f"ris: {len(paths)} {what}:", file=sys.stderr)
        for path in paths:
            print(f"  {printable(path)}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
