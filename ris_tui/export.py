"""e: the results of a search written where the user says: as JSON (what `ris search --json`
prints), or, to a name ending in .csv, as a table of the segments with their times for a
spreadsheet or an editor's cut list. An existing file is overwritten only when the user says so.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

from .dialogs import Confirm, ExportDialog
from .formatting import clock, printable

if TYPE_CHECKING:
    from textual.app import App

    from engine.results import SearchResult, VideoHit


def export_results(app: App, result: SearchResult, shown: str = "") -> None:
    """Ask where (the query's name beside the working directory by default), then write.
    `result` is what the lists show (filtered, in their order); `shown` says so, if they
    are filtered."""
    default = str(Path.cwd() / f"{Path(result.query.path).stem}.ris.json")

    def write(path: str | None, sure: bool = False) -> None:
        if path is None:
            return
        target = Path(path).expanduser()
        if target.is_dir():
            target = target / Path(default).name
        if target.exists() and not sure:
            question = f"{printable(str(target))} exists. Overwrite it?"

            def answered(yes: bool | None) -> None:
                if yes:
                    write(str(target), True)

            app.push_screen(Confirm(question), answered)
            return
        try:
            target.write_text(document(result, target.suffix))
        except OSError as err:
            app.notify(str(err), title="Cannot write the results", severity="error")
            return
        app.notify(str(target.resolve()), title="Results exported")

    app.push_screen(ExportDialog(default, shown), write)


CSV_COLUMNS = ["kind", "path", "start", "end", "from", "to", "score", "possible"]


def document(result: SearchResult, suffix: str) -> str:
    """The file's text: a CSV table for .csv (a row per segment of each video, best video
    first, then a row per photo), else the JSON document."""
    if suffix.lower() != ".csv":
        return json.dumps(result.to_json(), indent=2) + "\n"
    out = io.StringIO()
    rows = csv.writer(out, lineterminator="\n")
    rows.writerow(CSV_COLUMNS)
    for v in result.videos:
        for s in v.segments:
            maybe = "yes" if v.possible or s.possible else ""
            rows.writerow(
                ["video", v.path, f"{s.start:.2f}", f"{s.end:.2f}", clock(s.start), clock(s.end)]
                + [f"{s.score:.3f}", maybe]
            )
    for i in result.images:
        rows.writerow(
            ["photo", i.path, "", "", "", "", f"{i.score:.3f}", "yes" if i.possible else ""]
        )
    return out.getvalue()


def segments_text(video: VideoHit) -> str:
    """All of a video's segments, a line each: the path, the start and the end in seconds, and
    both as clock times, tab-separated (a spreadsheet or an editor's cut list takes them)."""
    return "".join(
        f"{video.path}\t{s.start:.2f}\t{s.end:.2f}\t{clock(s.start)}\t{clock(s.end)}"
        + ("\tpossible" if video.possible or s.possible else "")
        + "\n"
        for s in video.segments
    )
