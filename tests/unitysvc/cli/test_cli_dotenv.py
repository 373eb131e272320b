"""The ``.env`` parser behind ``usvc secrets upload`` (pure)."""

from __future__ import annotations

import pytest

from unitysvc.cli._dotenv import DotenvError, parse_dotenv


def _values(text: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    return {e.name: e.value for e in parse_dotenv(text, environ or {})}


def test_plain_assignments_comments_blank_lines_and_export() -> None:
    text = "# header\n\nA=1\nexport B=two words  \n\texport\tC=x=y\n"
    assert _values(text) == {"A": "1", "B": "two words", "C": "x=y"}


def test_trailing_comments_and_hashes_inside_words() -> None:
    assert _values("A=abc # note\nB=a#b\nC=#d\n") == {"A": "abc", "B": "a#b", "C": ""}


def test_quotes() -> None:
    text = (
        "A='single $HOME ${HOME} \\n kept'\n"
        'B="tab\\there \\"q\\" back\\\\slash"\n'
        'C="with # hash" # and a comment\n'
        "D=''\n"
    )
    assert _values(text, {"HOME": "/root"}) == {
        "A": "single $HOME ${HOME} \\n kept",
        "B": 'tab\there "q" back\\slash',
        "C": "with # hash",
        "D": "",
    }


def test_multi_line_quoted_values_keep_line_numbers_right() -> None:
    text = 'KEY="-----BEGIN KEY-----\nabc\n-----END KEY-----"\nNEXT=1\nbad line\n'
    with pytest.raises(DotenvError, match="line 5"):
        parse_dotenv(text, {})
    entries = parse_dotenv(text.replace("bad line\n", ""), {})
    assert entries[0].value == "-----BEGIN KEY-----\nabc\n-----END KEY-----"
    assert (entries[1].name, entries[1].line) == ("NEXT", 4)


def test_expansion_from_the_environment() -> None:
    env = {"REAL": "secret-value", "EMPTY": ""}
    text = (
        "A=${REAL}\n"
        'B="prefix-${REAL}-suffix"\n'
        "C=${MISSING:-fallback}\n"
        "D=${EMPTY:-fallback}\n"
        "E=${EMPTY-kept-empty}\n"
        'F="\\${REAL}"\n'
        "G=$REAL\n"
    )
    assert _values(text, env) == {
        "A": "secret-value",
        "B": "prefix-secret-value-suffix",
        "C": "fallback",
        "D": "fallback",
        "E": "",
        "F": "${REAL}",
        "G": "$REAL",
    }


def test_required_expansion_that_is_unset_fails_naming_the_variable() -> None:
    with pytest.raises(DotenvError, match=r"line 2: B needs \$\{NOPE\}"):
        parse_dotenv("A=1\nB=${NOPE}\n", {})


def test_descriptions_and_variable_marker() -> None:
    text = (
        "# File header, separated by a blank line\n"
        "\n"
        "# The OpenAI key.\n"
        "# Get one at platform.openai.com.\n"
        "OPENAI_API_KEY=sk-1\n"
        "NOTIFY_EMAIL=me@example.com  # variable\n"
        "OTHER=x # just a comment\n"
    )
    entries = {e.name: e for e in parse_dotenv(text, {})}
    assert (
        entries["OPENAI_API_KEY"].description == "The OpenAI key.\nGet one at platform.openai.com."
    )
    assert entries["OPENAI_API_KEY"].sensitive is None
    assert entries["NOTIFY_EMAIL"].sensitive is False
    assert entries["NOTIFY_EMAIL"].description is None
    assert entries["OTHER"].sensitive is None


def test_last_assignment_wins_in_first_position() -> None:
    entries = parse_dotenv("A=1\nB=2\nA=3\n", {})
    assert [(e.name, e.value) for e in entries] == [("A", "3"), ("B", "2")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("JUST_A_NAME\n", "line 1: expected NAME=value"),
        ("1BAD=x\n", "line 1: '1BAD' is not a variable name"),
        ("A='open\n", "line 1: unterminated ' quote in A"),
        ('A="x" trailing\n', "line 1: unexpected 'trailing' after the closing quote of A"),
    ],
)
def test_malformed_lines_are_errors_not_skipped(text: str, message: str) -> None:
    with pytest.raises(DotenvError, match=message):
        parse_dotenv(text, {})


def test_crlf_files() -> None:
    assert _values("A=1\r\nB='2'\r\n") == {"A": "1", "B": "2"}
