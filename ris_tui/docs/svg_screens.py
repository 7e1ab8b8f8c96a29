"""The screenshots of docs/tui.md and the README, taken of the real app on a real library.

    python ris_tui/docs/svg_screens.py DATA_DIR PHOTO VIDEO OUT_FOLDER

DATA_DIR is a library (this project's: the dev media indexed), PHOTO a photo of someone in it
(the dev library's lin-manuel-miranda.png), VIDEO one of its videos (the Hamilton clip). The app
runs headless at 120x40 with the real engine, keys pressed as a user would, and each screen is
saved as SVG: results.svg (PHOTO searched, the second segment selected), moment.svg (v on it),
library-file.svg (VIDEO opened on the Library tab), people.svg (the People tab) and person.svg
(the first person opened).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from ris_tui.app import RisApp
from ris_tui.backend import Backend, settings_from


async def settle(pilot, seconds: float = 300) -> None:  # type: ignore[no-untyped-def]
    """Until no worker runs (pictures decoded, searches answered)."""
    deadline = time.monotonic() + seconds
    for _ in range(3):
        while any(w.is_running for w in pilot.app.workers) and time.monotonic() < deadline:
            await pilot.pause(0.1)
        await pilot.pause(0.3)


async def take(data_dir: Path, photo: Path, video: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    app = RisApp(Backend(settings_from(data_dir)), query=str(photo))
    async with app.run_test(size=(120, 40)) as pilot:

        def save(name: str) -> None:
            app.save_screenshot(name, str(out))
            print(out / name)

        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        save("results.svg")
        await pilot.press("v")
        await settle(pilot)
        save("moment.svg")
        await pilot.press("escape")
        await pilot.press("3")
        await settle(pilot)
        pane = app.query_one("LibraryPane")
        row = next(i for i, f in enumerate(pane.files) if Path(f.path) == video)  # type: ignore[attr-defined]
        app.query_one("#files").move_cursor(row=row)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(pilot)
        save("library-file.svg")
        await pilot.press("escape")
        await pilot.press("4")
        await settle(pilot)
        save("people.svg")
        await pilot.press("enter")
        await settle(pilot)
        save("person.svg")


if __name__ == "__main__":
    data, photo, video, folder = (Path(a) for a in sys.argv[1:5])
    asyncio.run(take(data, photo, video.resolve(), folder))
