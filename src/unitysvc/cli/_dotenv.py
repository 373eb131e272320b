"""A strict ``.env`` parser for ``usvc secrets upload``.

Accepted syntax, as shells and python-dotenv read it:

- ``NAME=value`` and ``export NAME=value``; blank lines and ``#`` comments;
- unquoted values end at an unquoted `` #`` (a trailing comment) and are trimmed;
- ``'single quotes'`` keep the text verbatim (newlines included);
- ``"double quotes"`` understand ``\\n \\t \\r \\" \\\\ \\$`` and may span lines;
- ``${NAME}`` and ``${NAME:-default}`` in unquoted and double-quoted values are taken
  from the environment. ``${NAME}`` without a default must be set: a missing
  credential fails the upload instead of uploading an empty value.

Two conventions of the official CLI are kept: the ``#`` lines directly above an
assignment become the secret's description, and a trailing ``# variable`` comment
stores a readable variable (``sensitive=False``) rather than a write-only secret.

Anything else (a line without ``=``, an unterminated quote, text after a closing
quote) is an error naming the line, never silently skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EXPANSION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}
_VARIABLE_MARKER = "variable"


class DotenvError(ValueError):
    """The file is not valid ``.env`` syntax (the message names the line)."""


@dataclass(frozen=True, slots=True)
class DotenvEntry:
    """One assignment.

    Attributes:
        name: The variable name.
        value: The resolved value.
        description: The comment block directly above, if any.
        sensitive: False for ``# variable`` entries; None keeps the server default.
        line: The 1-based line number of the assignment.
    """

    name: str
    value: str
    description: str | None
    sensitive: bool | None
    line: int


def parse_dotenv(text: str, environ: Mapping[str, str]) -> list[DotenvEntry]:
    """Parse ``.env`` text; later assignments of a name replace earlier ones.

    Args:
        text: The file contents.
        environ: Where ``${NAME}`` expansions are looked up.

    Returns:
        The entries in order of first appearance.

    Raises:
        DotenvError: Malformed syntax or a required ``${NAME}`` that is unset.
    """
    entries: dict[str, DotenvEntry] = {}
    comments: list[str] = []
    pos = 0
    line_no = 1
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        line = text[pos:end].strip()
        if not line:
            comments = []
            pos, line_no = end + 1, line_no + 1
            continue
        if line.startswith("#"):
            comments.append(line[1:].strip())
            pos, line_no = end + 1, line_no + 1
            continue
        entry, pos, lines_used = _assignment(text, pos, line_no, comments, environ)
        entries[entry.name] = entry
        comments = []
        line_no += lines_used
    return list(entries.values())


def _assignment(
    text: str, pos: int, line_no: int, comments: list[str], environ: Mapping[str, str]
) -> tuple[DotenvEntry, int, int]:
    """Parse the assignment starting at ``pos``; return it, the next position, lines used."""
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    line = text[pos:end].lstrip()
    if line.startswith(("export ", "export\t")):
        line = line[len("export") :].lstrip()
    name, sep, _ = line.partition("=")
    name = name.strip()
    if not sep:
        raise DotenvError(f"line {line_no}: expected NAME=value, got {line.strip()!r}")
    if not _NAME.fullmatch(name):
        raise DotenvError(f"line {line_no}: {name!r} is not a variable name")
    value_start = text.index("=", pos) + 1
    while value_start < len(text) and text[value_start] in " \t":
        value_start += 1
    quote = text[value_start] if value_start < len(text) else ""
    if quote in ("'", '"'):
        close = _closing_quote(text, value_start + 1, quote)
        if close < 0:
            raise DotenvError(f"line {line_no}: unterminated {quote} quote in {name}")
        raw = text[value_start + 1 : close]
        line_end = text.find("\n", close)
        line_end = len(text) if line_end < 0 else line_end
        trailer = text[close + 1 : line_end].strip()
        if trailer and not trailer.startswith("#"):
            raise DotenvError(
                f"line {line_no}: unexpected {trailer!r} after the closing quote of {name}"
            )
        comment = trailer[1:].strip() if trailer else ""
        # Single quotes are literal; double quotes unescape, then expand.
        value = raw if quote == "'" else _expand(_unescape(raw), environ, name, line_no)
        lines_used = text.count("\n", pos, line_end) + 1
        next_pos = line_end + 1
    else:
        raw, comment = _split_comment(text[value_start:end])
        value = _expand(raw.strip(), environ, name, line_no)
        lines_used = 1
        next_pos = end + 1
    entry = DotenvEntry(
        name=name,
        value=value,
        description="\n".join(comments).strip() or None,
        sensitive=False if comment.lower() == _VARIABLE_MARKER else None,
        line=line_no,
    )
    return entry, next_pos, lines_used


def _closing_quote(text: str, start: int, quote: str) -> int:
    i = start
    while i < len(text):
        char = text[i]
        if char == "\\" and quote == '"':
            i += 2
            continue
        if char == quote:
            return i
        i += 1
    return -1


def _unescape(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char == "\\" and i + 1 < len(raw) and raw[i + 1] in _ESCAPES:
            # ``\$`` stays escaped until expansion so that it is not expanded.
            out.append("\\$" if raw[i + 1] == "$" else _ESCAPES[raw[i + 1]])
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _split_comment(raw: str) -> tuple[str, str]:
    """Split an unquoted value at the first `` #`` (a ``#`` inside a word is kept)."""
    for i, char in enumerate(raw):
        if char == "#" and (i == 0 or raw[i - 1] in " \t"):
            return raw[:i], raw[i + 1 :].strip()
    return raw, ""


def _expand(value: str, environ: Mapping[str, str], name: str, line_no: int) -> str:
    def substitute(match: re.Match[str]) -> str:
        var, op, default = match.group(1), match.group(2), match.group(3)
        current = environ.get(var)
        if op == ":-":
            return current if current else default
        if op == "-":
            return current if current is not None else default
        if current is None:
            raise DotenvError(
                f"line {line_no}: {name} needs ${{{var}}}, which is not set; export {var} "
                f"first, or write ${{{var}:-default}} to allow a default"
            )
        return current

    parts = value.split("\\$")
    return "$".join(_EXPANSION.sub(substitute, part) for part in parts)
