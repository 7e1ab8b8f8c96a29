"""b or ctrl+o: choosing the query from the disk instead of typing its path. Folders and the
photos and clips ris can read are shown; enter on a file searches it, space marks several photos
or clips of one person, and enter then searches them as one query."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Static
from textual.widgets._tree import TreeNode

from .backend import is_media
from .formatting import count, keys_line, printable

MARK = "● "


class Changed(Message):
    """A file was marked or unmarked, or the folder shown changed."""


class MediaTree(DirectoryTree):
    """Folders and readable media only, hidden ones left out; space marks a file."""

    BINDINGS = [
        Binding("space", "mark", "mark", show=False),
        Binding("backspace,left", "up", "up a folder", show=False),
        Binding("j", "cursor_down", "down", show=False),
        Binding("k", "cursor_up", "up", show=False),
    ]

    def __init__(self, path: Path, **kw: object) -> None:
        self.marked: list[Path] = []  # in the order marked
        super().__init__(path, **kw)  # type: ignore[arg-type]
        self.show_root = False  # the folder is named above the tree

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if not p.name.startswith(".") and (_is_dir(p) or is_media(p))]

    def render_label(self, node: TreeNode, base_style, style) -> Text:  # type: ignore[no-untyped-def, override]
        label = super().render_label(node, base_style, style)
        if node.data is not None and node.data.path in self.marked:
            return Text.assemble((MARK, "bold yellow"), label)
        return label

    def action_mark(self) -> None:
        node = self.cursor_node
        if node is None or node.data is None or _is_dir(node.data.path):
            if node is not None:
                node.toggle()
            return
        path = node.data.path
        if path in self.marked:
            self.marked.remove(path)
        else:
            self.marked.append(path)
        self._refresh_node(node)
        self.action_cursor_down()
        self.post_message(Changed())

    def action_up(self) -> None:
        """To the parent folder (the tree's root is the folder shown)."""
        parent = Path(self.path).resolve().parent
        if parent != Path(self.path).resolve():
            self.path = parent
            self.post_message(Changed())


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


class QueryBrowser(ModalScreen[list[Path] | None]):
    """Dismisses with the files to search for (several: one person), None when left."""

    BINDINGS = [Binding("escape,q", "dismiss(None)", "cancel")]
    DEFAULT_CSS = """
    QueryBrowser { align: center middle; }
    QueryBrowser > Vertical {
        width: 90%; height: 90%; border: round $accent; padding: 0 1; background: $surface;
    }
    QueryBrowser #browse-where { height: 1; text-style: bold; }
    QueryBrowser #browse-tree { height: 1fr; }
    QueryBrowser #browse-marked { height: 1; color: $text-muted; }
    QueryBrowser #browse-keys { height: 1; color: $text-muted; }
    """

    def __init__(self, start: Path) -> None:
        super().__init__()
        self.start = start

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("", id="browse-where")
            yield MediaTree(self.start, id="browse-tree")
            yield Static("", id="browse-marked")
            yield Static(
                keys_line(
                    (
                        ("enter", "search / open a folder"),
                        ("space", "mark several of one person"),
                        ("⌫ ←", "up a folder"),
                        ("esc", "cancel"),
                    )
                ),
                id="browse-keys",
            )

    def on_mount(self) -> None:
        self._say()
        self.query_one(MediaTree).focus()

    def _say(self) -> None:
        tree = self.query_one(MediaTree)
        where = printable(str(Path(tree.path).resolve()))
        self.query_one("#browse-where", Static).update(Text(f"Query from {where}", no_wrap=True))
        marked = tree.marked
        text = (
            f"{count(len(marked), 'file')} marked: enter searches them as one person"
            if marked
            else "Photos and clips ris can read, and folders"
        )
        self.query_one("#browse-marked", Static).update(Text(text, no_wrap=True))

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        marked = self.query_one(MediaTree).marked
        chosen = list(marked) if marked else [event.path]
        if marked and event.path not in marked:
            chosen.append(event.path)
        self.dismiss(chosen)

    def on_changed(self, event: Changed) -> None:
        event.stop()
        self._say()
