"""Every SQL example of the documentation runs, and shows what it prints.

The convention (docs/testing.md, "The docs test"): in README.md and every
docs/*.md page, each ```sql block is run in the sqlite3 shell, the blocks of a
page in order, in one shell on a fresh database file, with the built
extension loaded first and the repository root as the working directory.
The ```text block that follows a ```sql block (nothing but blank lines
between them) is the exact output of that block, errors included as the shell
prints them (stdout and stderr together, with the shell's `near line N` left
out); a ```sql block without one must print nothing. Fences of any other
language (sh, python, rust, toml, json, or none) are never run."""
import difflib
import re
import subprocess
import tempfile

import pytest

from conftest import EXT, ROOT, SQLITE3, needs_shell

PAGES = ["README.md"] + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^( *)(`{3,}|~{3,})\s*([\w+-]*)")
NEAR_LINE = re.compile(r"^(Parse error|Runtime error|Error) near line \d+:", re.M)
# The path the docs load the extension from; the test loads the one it tests.
DOC_EXTENSION = "./target/release/libsqlite_triggers"


def blocks(text):
    """The fenced blocks of a Markdown text: (language, body, line number, index of
    the line after the closing fence)."""
    lines = text.split("\n")
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = len(m.group(1)), m.group(2), m.group(3).lower()
        start, body, i = i + 1, [], i + 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        out.append((lang, "\n".join(body), start, i + 1))
        i += 1
    return out


def examples(text):
    """The page's ```sql blocks with the output each must print:
    [(line number, sql, expected output)]."""
    found = blocks(text)
    lines = text.split("\n")
    out = []
    for k, (lang, body, line, after) in enumerate(found):
        if lang != "sql":
            continue
        expected = ""
        if k + 1 < len(found):
            nlang, nbody, nline, _ = found[k + 1]
            between = lines[after : nline - 1]
            if nlang == "text" and all(not l.strip() for l in between):
                expected = nbody
        out.append((line, body, expected))
    return out


def normalize(output):
    output = NEAR_LINE.sub(r"\1:", output)
    return "\n".join(l.rstrip() for l in output.strip("\n").split("\n")) if output.strip() else ""


def run_page(text, db):
    """Runs a page's examples in one sqlite3 shell; returns
    [(line number, expected, actual)]."""
    cases = examples(text)
    marks = [f"@@docs-example-{n}@@" for n in range(len(cases))]
    script = f".load {EXT}\n"
    for mark, (_, sql, _) in zip(marks, cases):
        script += f".print {mark}\n{sql.replace(DOC_EXTENSION, EXT)}\n"
    run = subprocess.run([SQLITE3, db], input=script, text=True, cwd=ROOT, timeout=120,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    pieces = re.split(r"^@@docs-example-\d+@@\n?", run.stdout, flags=re.M)
    assert normalize(pieces[0]) == "", f"loading the extension printed: {pieces[0]}"
    actual = pieces[1:] + [""] * (len(cases) + 1 - len(pieces))
    return [(line, normalize(exp), normalize(got)) for (line, _, exp), got in zip(cases, actual)]


def mismatches(text, db):
    out = []
    for line, expected, actual in run_page(text, db):
        if expected != actual:
            diff = "\n".join(difflib.unified_diff(expected.split("\n"), actual.split("\n"),
                                                  "shown", "printed", lineterm=""))
            out.append(f"the ```sql block at line {line}:\n{diff}")
    return out


@needs_shell
@pytest.mark.parametrize("page", PAGES)
def test_every_sql_example_prints_what_the_page_shows(page, tmp_path):
    failures = mismatches((ROOT / page).read_text(), str(tmp_path / "docs.db"))
    assert not failures, f"{page}:\n\n" + "\n\n".join(failures)


def test_the_pages_have_examples():
    assert sum(len(examples((ROOT / p).read_text())) for p in PAGES) >= 20


@needs_shell
def test_a_wrong_shown_output_fails(tmp_path):
    right = "```sql\nSELECT 1 + 1;\n```\n\n```text\n2\n```\n\n```sql\nSELECT 'one';\n```\n```text\none\n```\n"
    assert not mismatches(right, str(tmp_path / "a.db"))
    wrong_output = right.replace("```text\n2\n", "```text\n3\n")
    assert len(mismatches(wrong_output, str(tmp_path / "b.db"))) == 1
    output_not_shown = right.replace("```text\none\n```\n", "")
    assert len(mismatches(output_not_shown, str(tmp_path / "c.db"))) == 1


@needs_shell
def test_errors_are_shown_as_the_shell_prints_them(tmp_path):
    page = ("```sql\nSELECT trigger_install('nope');\nSELECT 'next';\n```\n\n```text\n"
            "Runtime error: trigger_install(): argument 1 (pack): unknown pack \"nope\" (packs: counter_cache, counts, default_album, fsm, fts_sync, history, protect, soft_delete, task_state, touch)\nnext\n```\n")
    assert not mismatches(page, str(tmp_path / "d.db"))


if __name__ == "__main__":
    # python tests/hosts/test_docs.py PAGE...: prints what each ```sql block of
    # the pages prints, to paste into its ```text block.
    import sys

    for page in sys.argv[1:]:
        with tempfile.TemporaryDirectory() as tmp:
            for line, expected, actual in run_page((ROOT / page).read_text(), f"{tmp}/docs.db"):
                state = "ok" if expected == actual else "DIFFERS"
                print(f"--- {page}:{line} ({state})\n{actual}")
