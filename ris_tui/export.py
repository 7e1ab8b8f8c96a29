"""e: the results of a search written as JSON (what `ris search --json` prints), where the
user says; an existing file is overwritten only when the user says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from .dialogs import Confirm, ExportDialog
from .formatting import printable

if TYPE_CHECKING:
    from textual.app import App

    from engine.results import SearchResult


def export_results(app: App, result: SearchResult) -> None:
    """Ask where (the query's name beside the working directory by default), then write."""
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
            target.write_text(json.dumps(result.to_json(), indent=2) + "\n")
        except OSError as err:
            app.notify(str(err), title="Cannot write the results", severity="error")
            return
        app.notify(str(target.resolve()), title="Results exported")

    app.push_screen(ExportDialog(default), write)
