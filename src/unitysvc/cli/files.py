"""``usvc files``: your account files: list, download, upload, share a download URL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from unitysvc.cli._context import client
from unitysvc.cli._output import JsonFlag, emit, examples, info, print_table

if TYPE_CHECKING:
    from unitysvc.files import FileScope

app = typer.Typer(
    help="Your account files: ls, get, put, url. Paths are relative to your own folder "
    "(or the team's, with --shared).",
    no_args_is_help=True,
    epilog=examples(
        "usvc files put report.csv reports",
        "usvc files ls reports",
        "usvc files get reports/report.csv",
    ),
)

Shared = Annotated[
    bool, typer.Option("--shared", help="The team's shared folder instead of your own.")
]
Key = Annotated[
    str,
    typer.Argument(help="The file, e.g. reports/report.csv.", metavar="KEY", show_default=False),
]


def _scope(shared: bool) -> FileScope:
    return "shared" if shared else "personal"


@app.command(
    "ls", epilog=examples("usvc files ls", "usvc files ls reports --json", "usvc files ls --shared")
)
def list_files(
    path: Annotated[
        str, typer.Argument(help="The folder (default: the top).", metavar="[FOLDER]")
    ] = "",
    shared: Shared = False,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=1000, help="Entries to show at most.")
    ] = 100,
    as_json: JsonFlag = False,
) -> None:
    """List one folder level: subfolders first, then files with size and time."""
    listing = client().files.list(path, scope=_scope(shared), max_keys=limit)

    def render(page: Any) -> None:
        rows: list[list[Any]] = [[folder, "-", "folder"] for folder in page.common_prefixes]
        rows += [[o.key, o.size, o.last_modified] for o in page.objects]
        print_table(
            ["Name", "Bytes", "Modified"], rows, empty=f"No files in {path or 'the top folder'}."
        )
        if page.is_truncated:
            info(f"More entries follow; raise --limit (now {limit}).")

    emit(listing, as_json, render)


@app.command(
    "get",
    epilog=examples("usvc files get reports/report.csv", "usvc files get reports/report.csv out/"),
)
def get_file(
    key: Key,
    dest: Annotated[
        Path | None,
        typer.Argument(
            help="Where to write it: a file, or a folder (default: its name, here).",
            metavar="[DEST]",
            show_default=False,
        ),
    ] = None,
    shared: Shared = False,
    as_json: JsonFlag = False,
) -> None:
    """Download one file; it appears only once complete."""
    written = client().files.download(key, dest, scope=_scope(shared))
    emit({"key": key, "path": str(written)}, as_json, done=f"Downloaded {key} to {written}")


@app.command(
    "put",
    epilog=examples(
        "usvc files put report.csv",
        "usvc files put report.csv reports --name 2026-04.csv",
    ),
)
def put_file(
    src: Annotated[
        Path,
        typer.Argument(
            help="The local file.",
            exists=True,
            dir_okay=False,
            readable=True,
            metavar="FILE",
            show_default=False,
        ),
    ],
    folder: Annotated[
        str, typer.Argument(help="The folder to put it in (default: the top).", metavar="[FOLDER]")
    ] = "",
    name: Annotated[
        str | None, typer.Option("--name", help="Its name there (default: the local name).")
    ] = None,
    content_type: Annotated[
        str | None, typer.Option("--content-type", metavar="TYPE", help="Its media type.")
    ] = None,
    shared: Shared = False,
    as_json: JsonFlag = False,
) -> None:
    """Upload one file into a folder (a file of the same name is replaced)."""
    key = client().files.upload(
        src,
        folder,
        scope=_scope(shared),
        filename=name,
        content_type=content_type,
    )
    emit({"key": key, "scope": _scope(shared)}, as_json, done=f"Uploaded {src} as {key}")


@app.command(
    "url",
    epilog=examples(
        "usvc files url reports/report.csv",
        'curl -o r.csv "$(usvc files url reports/report.csv --expires-in 60)"',
    ),
)
def file_url(
    key: Key,
    expires_in: Annotated[
        int,
        typer.Option("--expires-in", min=60, max=3600, metavar="SECONDS", help="Validity."),
    ] = 900,
    shared: Shared = False,
    as_json: JsonFlag = False,
) -> None:
    """Print a short-lived URL that downloads the file without credentials."""
    ticket = client().files.download_url(key, scope=_scope(shared), expires_in=expires_in)
    # The bare URL on stdout, so that it can be used in a pipe or $(...).
    emit(ticket, as_json, lambda t: typer.echo(t.url))
