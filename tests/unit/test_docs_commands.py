"""The docs name only what exists: every `textrepair` command and flag shown in README.md and
docs/*.md is in the CLI, every `make` target is in the Makefile, every test a page names as
`tests/...py::test_name` is there, and every relative link (and its #anchor) resolves.

Commands are read from fenced code blocks and inline code. A command starts a shell segment,
after optional `VAR=value` assignments and `nice -n N` / `time`; `kubectl -n textrepair ...` is
not one. Placeholders such as `<name>`, `...` and `[--flag VALUE]` brackets are understood.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer

from textrepair.cli import app

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
INLINE = re.compile(r"`([^`]+)`")  # inline code may wrap onto the next line
# Shell separators; `\|` is a literal bar inside a Markdown table cell, not a pipe.
SEPARATORS = re.compile(r"(?<!\\)\|\|?|&&|;|\$\(|\)|(?:^|\s)#")
PREFIXES = {"nice", "time", "/usr/bin/time", "exec", "sudo", "{", "!", "if", "then", "elif", "else"}
ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
MAKE_OPTIONS_WITH_VALUE = {"-o", "-C", "-f", "-j", "-W"}
TEST_REFERENCE = re.compile(r"(tests/[\w/]+\.py)((?:::\w+)?)((?:`?, `?::\w+)*)")


@dataclass(frozen=True)
class Shown:
    page: str
    line: int
    program: str  # "textrepair" or "make"
    words: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.program} {' '.join(self.words)}"


def snippets(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every fenced block's logical lines and every inline code span."""
    found: list[tuple[int, str]] = []
    for block in FENCE.finditer(text):
        start = text.count("\n", 0, block.start(1)) + 1
        lines = block.group(1).split("\n")
        i = 0
        while i < len(lines):
            line, first = lines[i], i
            while line.endswith("\\") and i + 1 < len(lines):  # continuation lines
                i += 1
                line = line[:-1] + " " + lines[i]
            found.append((start + first, line))
            i += 1
    outside = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    for span in INLINE.finditer(outside):
        number = outside.count("\n", 0, span.start()) + 1
        found.append((number, span.group(1).replace("\n", " ")))
    return found


def words_of(segment: str) -> list[str]:
    segment = segment.replace("\\|", "/")
    try:
        words = shlex.split(segment)
    except ValueError:  # an unbalanced quote in an inline fragment
        words = segment.split()
    return [w.strip("[]") for w in words if w.strip("[]") and "..." not in w and "…" not in w]


def commands_in(text: str, page: str) -> list[Shown]:
    shown: list[Shown] = []
    for number, code in snippets(text):
        for segment in SEPARATORS.split(code):
            words = words_of(segment)
            while words and (words[0] in PREFIXES or ENV.match(words[0])):
                prefix, words = words[0], words[1:]
                while prefix in PREFIXES and words and words[0].startswith("-"):
                    words = words[2:] if words[0] == "-n" else words[1:]  # nice -n 10, time -v
            if not words:
                continue
            if words[0] == "make":
                shown.append(Shown(page, number, "make", tuple(words[1:])))
            elif words[0] in {"textrepair", "/textrepair"} or words[0].endswith("bin/textrepair"):
                shown.append(Shown(page, number, "textrepair", tuple(words[1:])))
    return shown


def cli_problems(words: tuple[str, ...], root) -> list[str]:
    """What in `textrepair WORDS` the CLI does not have (empty: all of it exists)."""
    command, path, expect_value = root, ["textrepair"], False
    positional = 0
    for word in words:
        if expect_value:
            expect_value = False
            continue
        if "<" in word or (word.isupper() and not word.startswith("-")):
            continue  # a placeholder (<name>, TEXT, PATH_OR_URI) stands for a value
        if word.startswith("-") and len(word) > 1:
            name, has_value = word.split("=", 1)[0], "=" in word
            option = next(
                (p for p in command.params if name in p.opts or name in p.secondary_opts), None
            )
            if name == "--help":
                continue
            if option is None:
                return [f"`{' '.join(path)}` has no option {name}"]
            flag = getattr(option, "is_flag", False) or getattr(option, "count", False)
            expect_value = not flag and not has_value
            continue
        if hasattr(command, "commands") and positional == 0:  # a group: WORD may be a sub-command
            sub = command.commands.get(word)
            if sub is not None:
                command, path = sub, [*path, word]
                continue
            if not _arguments(command):
                return [f"`{' '.join(path)}` has no sub-command {word!r}"]
        if not _arguments(command):
            return [f"`{' '.join(path)}` takes no argument, but {word!r} is given"]
        positional += 1
    return []


def _arguments(command) -> list:
    # Typer ships its own copy of Click, so duck types rather than click.Argument.
    return [p for p in command.params if p.param_type_name == "argument"]


def make_targets(makefile: Path) -> set[str]:
    targets = set()
    for line in makefile.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", line)
        if match and not match.group(1).startswith("."):
            targets.add(match.group(1))
    return targets


def make_problems(words: tuple[str, ...], targets: set[str]) -> list[str]:
    problems, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in MAKE_OPTIONS_WITH_VALUE:
            skip = True
        elif word.startswith("-") or "=" in word or "<" in word:
            continue
        elif word not in targets:
            problems.append(f"the Makefile has no target {word!r}")
    return problems


def referenced_tests(text: str) -> list[tuple[str, str]]:
    """(file, test name or "") for every `tests/...py[::name][, ::name]` a page mentions."""
    found = []
    for match in TEST_REFERENCE.finditer(text):
        file = match.group(1)
        names = [match.group(2), *re.findall(r"::\w+", match.group(3))]
        found += [(file, name.removeprefix("::")) for name in names]
    return found


def problems_in(pages: list[Path], makefile: Path) -> list[str]:
    root = typer.main.get_command(app)
    targets = make_targets(makefile)
    problems = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        root_dir = page.parents[1] if page.parent.name == "docs" else page.parent
        name = page.relative_to(root_dir).as_posix()
        for shown in commands_in(text, name):
            found = (
                cli_problems(shown.words, root)
                if shown.program == "textrepair"
                else make_problems(shown.words, targets)
            )
            problems += [f"{shown}: {problem}" for problem in found]
        for file, test in referenced_tests(text):
            path = root_dir / file
            if not path.is_file():
                problems.append(f"{name}: {file} does not exist")
            elif test and not re.search(rf"^\s*(async )?def {test}\(", path.read_text(), re.M):
                problems.append(f"{name}: {file} has no test {test}")
    return problems


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives a page's headings (lower case, punctuation dropped, - for space)."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in FENCE.sub("", text).split("\n"):
        heading = re.match(r"^#{1,6}\s+(.*)$", line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            anchors.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
            seen[slug] = seen.get(slug, 0) + 1
    return anchors


def broken_links(page: Path) -> list[str]:
    problems = []
    for link in re.finditer(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
        target = link.group(1)
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto: not checked here
        file, _, anchor = target.partition("#")
        dest = page.parent / file if file else page
        if not dest.exists():
            problems.append(f"{page.name}: link to a missing file: {target}")
        elif anchor and dest.suffix == ".md" and anchor not in heading_anchors(dest.read_text()):
            problems.append(f"{page.name}: link to a missing heading: {target}")
    return problems


def test_every_relative_link_and_anchor_resolves():
    problems = [problem for page in PAGES for problem in broken_links(page)]
    assert not problems, "\n".join(problems)


def test_a_broken_link_is_reported(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Real heading\n\n[a](#real-heading) [b](#gone) [c](nowhere.md)\n")
    assert broken_links(page) == [
        "page.md: link to a missing heading: #gone",
        "page.md: link to a missing file: nowhere.md",
    ]


def test_every_command_flag_target_and_test_the_docs_show_exists():
    problems = problems_in(PAGES, ROOT / "Makefile")
    assert not problems, "\n".join(problems)


def test_the_docs_show_commands_at_all():
    # Guards the checker itself: if it stopped finding commands, the test above would pass empty.
    shown = [s for page in PAGES for s in commands_in(page.read_text(encoding="utf-8"), page.name)]
    programs = {s.program for s in shown}
    assert programs == {"textrepair", "make"}
    assert sum(s.program == "textrepair" for s in shown) > 50
    assert any(s.words[:2] == ("stream", "produce") for s in shown)


@pytest.mark.parametrize(
    ("snippet", "problem"),
    [
        ("`textrepair train --no-such-flag`", "`textrepair train` has no option --no-such-flag"),
        ("`textrepair no-such-command`", "`textrepair` has no sub-command 'no-such-command'"),
        ("```bash\ntextrepair stream produce --cont 5\n```", "has no option --cont"),
        ("`textrepair promote 3`", "`textrepair promote` takes no argument"),
        ("`make no-such-target`", "the Makefile has no target 'no-such-target'"),
        ("`nice -n 10 make run bench-nothing`", "no target 'bench-nothing'"),
        ("`X=1 .venv/bin/textrepair serve --prot 1`", "`textrepair serve` has no option --prot"),
        ("see `tests/unit/test_no_such_file.py`", "tests/unit/test_no_such_file.py does not exist"),
        ("`tests/unit/test_configdoc.py::test_nothing`", "has no test test_nothing"),
        ("`tests/unit/test_configdoc.py::test_real`, `::test_gone`", "has no test test_gone"),
    ],
)
def test_a_name_that_does_not_exist_is_reported(tmp_path, snippet, problem):
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text(f"# A page\n\n{snippet}\n", encoding="utf-8")
    (tmp_path / "tests" / "unit").mkdir(parents=True)
    (tmp_path / "tests" / "unit" / "test_configdoc.py").write_text("def test_real():\n    pass\n")
    problems = problems_in([page], ROOT / "Makefile")
    assert len(problems) == 1 and problem in problems[0], problems


@pytest.mark.parametrize(
    "snippet",
    [
        "`textrepair train [--minutes M] [--family byt5\\|causal_lora\\|edit] [--resume]`",
        '`textrepair mutate "hello world" --profile heavy --seed 1 --json`',
        "```bash\ntextrepair stream --landing data/stream/landing \\\n  --checkpoint x  # run\n```",
        "`TEXTREPAIR_SPARK__MASTER=local[2] textrepair data`",
        "`kubectl -n textrepair create secret generic textrepair-api-key`",
        "`textrepair.data.tables` and `~/.cache/textrepair`",
        "`make serve MODEL=build/model`",
        "`textrepair monitor --fail-on-drift || { dvc repro && textrepair promote; }`",
        "`textrepair evaluate --model PATH_OR_URI`",
    ],
)
def test_real_commands_and_other_text_pass(tmp_path, snippet):
    page = tmp_path / "README.md"
    page.write_text(f"# A page\n\n{snippet}\n", encoding="utf-8")
    assert problems_in([page], ROOT / "Makefile") == []
