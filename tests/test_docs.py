"""The user documentation in docs/ stays true to the code.

Checks, each of which fails when a page and the code drift apart:

* every relative link of every ``docs/*.md`` page (and of README.md) points to an existing file, and every
  ``#anchor`` to an existing heading of its target page (GitHub's heading slugs);
* every ``kdscope ...`` command line written in the pages (code blocks and inline code) names an existing
  command of the CLI, and every ``--option`` on it exists for that command;
* in docs/cli.md, every command of the CLI has its own section, every option named in a command's section
  exists for that command, and the Setting-options table lists every Setting field;
* the documented exit codes are those the CLI returns (2 invalid input, 3 not converged);
* the notation table of docs/model.md lists every Setting field with its actual default;
* docs/statuses.md describes every member of :class:`kdscope.theory.Status`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
LINKED = PAGES + [ROOT / "README.md"]

_FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[ \t]*$", re.S | re.M)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)
_OPTION = re.compile(r"(?<![\w-])--[a-z0-9][a-z0-9-]*")


# ----------------------------------------------------------------- helpers
def _prose(text: str) -> str:
    """The page without fenced code blocks (their lines are not Markdown)."""
    return _FENCE.sub("", text)


def _code_blocks(text: str) -> list[str]:
    return [m.group(0) for m in _FENCE.finditer(text)]


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: markup dropped, lower case, punctuation removed, spaces to dashes."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links keep their text
    text = text.replace("`", "").replace("*", "")
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for m in _HEADING.finditer(_prose(path.read_text())):
        base = _slug(m.group(2))
        n = seen.get(base, 0)
        out.add(base if n == 0 else f"{base}-{n}")
        seen[base] = n + 1
    return out


def _links(path: Path) -> list[str]:
    text = _INLINE_CODE.sub("code", _prose(path.read_text()))
    return [m.group(1) for m in _LINK.finditer(text)]


@functools.lru_cache(maxsize=1)
def _cli():
    """The click command tree of the typer app (built once: building it takes ~0.2 s)."""
    import typer.main

    from kdscope.cli import app

    return typer.main.get_command(app)


def _is_group(cmd) -> bool:
    return hasattr(cmd, "commands")


def _options(cmd) -> set[str]:
    names = {"--help"}
    for p in cmd.params:
        names.update(o for o in list(p.opts) + list(getattr(p, "secondary_opts", [])) if o.startswith("--"))
    return names


def _resolve(words: list[str]):
    """(command object, its path) for the words after 'kdscope'; an unknown subcommand fails the test."""
    cmd, path = _cli(), ["kdscope"]
    for w in words:
        if not _is_group(cmd) or w.startswith("-"):
            break
        assert w in cmd.commands, f"`{' '.join(path + [w])}`: no such command; known under " \
                                  f"`{' '.join(path)}`: {sorted(cmd.commands)}"
        cmd = cmd.commands[w]
        path.append(w)
    return cmd, path


def _leaves(cmd, path=("kdscope",)):
    if not _is_group(cmd):
        return [(" ".join(path), cmd)]
    out = []
    for name, sub in cmd.commands.items():
        out += _leaves(sub, path + (name,))
    return out


def _command_lines(path: Path) -> list[str]:
    """Every 'kdscope ...' command written in a page: lines of code blocks and inline code spans."""
    text = path.read_text()
    lines = []
    for block in _code_blocks(text):
        for line in block.splitlines()[1:-1]:
            line = line.strip().removeprefix("$ ")
            if line.startswith("kdscope "):
                lines.append(line)
    for m in _INLINE_CODE.finditer(_prose(text)):
        if m.group(1).startswith("kdscope "):
            lines.append(m.group(1))
    return lines


def _table_rows(text: str, heading: str) -> list[list[str]]:
    """Cells of the first Markdown table after the heading line ``heading``."""
    start = text.index(heading)
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not all(set(c) <= set("-: ") for c in cells):
                rows.append(cells)
        elif rows:
            break
    return rows[1:]  # without the header row


def _sections(text: str, level: str = "## ") -> dict[str, str]:
    """Top-level sections of a page: heading text -> body (up to the next heading of that level)."""
    prose = _prose(text)
    parts = re.split(rf"^{re.escape(level)}(?!#)", prose, flags=re.M)
    return {p.splitlines()[0].strip(): p for p in parts[1:]}


# ------------------------------------------------------------------- tests
def test_the_pages_exist():
    names = {p.name for p in PAGES}
    for required in ("index.md", "model.md", "equations.md", "numerics.md", "statuses.md", "conventions.md",
                     "cli.md", "simulations.md", "empirical.md", "multiclass.md"):
        assert required in names


@pytest.mark.parametrize("page", LINKED, ids=lambda p: p.name)
def test_relative_links_resolve(page):
    for target in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        assert dest.exists(), f"{page.name}: link to {target!r}, but {dest} does not exist"
        if anchor and dest.suffix == ".md":
            assert anchor in _anchors(dest), f"{page.name}: link to {target!r}, but {dest.name} has no heading " \
                                             f"with that anchor; anchors: {sorted(_anchors(dest))}"


def test_slug_follows_github():
    assert _slug("`kdscope figures list`") == "kdscope-figures-list"
    assert _slug("Prior (ridge)") == "prior-ridge"
    assert _slug("Notation and Setting fields") == "notation-and-setting-fields"
    assert _slug("The sign of a gain") == "the-sign-of-a-gain"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_written_command_exists(page):
    for line in _command_lines(page):
        words = [w.strip("[]") for w in shlex.split(line, comments=True)][1:]
        cmd, path = _resolve([w for w in words if w])
        known = _options(cmd)  # a group's own options (e.g. `kdscope --help`) or the command's
        for w in words:
            for opt in _OPTION.findall(w.split("=")[0]):
                assert opt in known, f"{page.name}: `{line}`: {' '.join(path)} has no option {opt}"


def test_cli_page_has_a_section_per_command_and_its_options_exist():
    text = (DOCS / "cli.md").read_text()
    sections = _sections(text)
    documented = {}
    for title, body in sections.items():
        m = re.fullmatch(r"`(kdscope [a-z -]+)`", title)
        if m:
            documented[m.group(1)] = body
    leaves = dict(_leaves(_cli()))
    missing = sorted(set(leaves) - set(documented))
    assert not missing, f"docs/cli.md has no section for {missing}"
    for name, body in documented.items():
        cmd, _ = _resolve(name.split()[1:])
        known = _options(cmd)
        for span in _INLINE_CODE.findall(body):
            if span.startswith("kdscope "):
                continue  # whole command lines are checked against their own command
            for opt in _OPTION.findall(span):
                assert opt in known, f"docs/cli.md section `{name}` names {opt}, which `{name}` does not have"


def test_setting_options_table_lists_every_field_and_the_options_exist():
    from kdscope import Setting

    rows = _table_rows((DOCS / "cli.md").read_text(), "## Setting options")
    fields = {r[1].strip("`") for r in rows if r[1]}
    assert set(Setting.field_names()) <= fields, sorted(set(Setting.field_names()) - fields)
    for command in ("theory", "simulate", "curve"):
        cmd, _ = _resolve([command])
        known = _options(cmd)
        for r in rows:
            for opt in _OPTION.findall(r[0]):
                assert opt in known, f"Setting option {opt} is not an option of `kdscope {command}`"


def test_documented_exit_codes_are_the_cli_exit_codes():
    from typer.testing import CliRunner

    from kdscope.cli import app

    rows = _table_rows((DOCS / "cli.md").read_text(), "## Exit codes")
    codes = {int(r[0]): r[1] for r in rows}
    assert {0, 2, 3} <= set(codes)
    assert "invalid" in codes[2] and "converge" in codes[3]
    runner = CliRunner()
    bad = runner.invoke(app, ["theory", "--rho", "1.5"])
    assert bad.exit_code == 2, bad.output
    separable = runner.invoke(app, ["theory", "--alpha", "2", "--lam-t", "0"])  # alpha* = 3.70: no finite minimiser
    assert separable.exit_code == 3, separable.output
    ok = runner.invoke(app, ["theory", "--alpha", "2", "--lam-t", "0.1", "--json"])
    assert ok.exit_code == 0, ok.output


def test_notation_table_lists_every_setting_field_with_its_default():
    from kdscope import Setting

    rows = _table_rows((DOCS / "model.md").read_text(), "## Notation and Setting fields")
    table = {r[0].strip("`"): r for r in rows}
    defaults = {f.name: f.default for f in dataclasses.fields(Setting)}
    missing = sorted(set(defaults) - set(table))
    assert not missing, f"docs/model.md notation table lacks the Setting field(s) {missing}"
    unknown = sorted(set(table) - set(defaults))
    assert not unknown, f"docs/model.md notation table lists {unknown}, which are not Setting fields"
    for name, default in defaults.items():
        assert table[name][-1] == f"`{default!r}`", f"docs/model.md gives {name} the default {table[name][-1]}, " \
                                                    f"Setting has {default!r}"


def test_statuses_page_describes_every_status():
    from kdscope.theory import Status

    text = (DOCS / "statuses.md").read_text()
    for member in Status:
        assert f"`{member.name}`" in text, f"docs/statuses.md does not describe Status.{member.name}"
