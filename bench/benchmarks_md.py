"""One `## ` section of BENCHMARKS.md, written by the bench script that measured it.

Each script renders its whole section (heading first) and hands it here: the section
under the same heading is replaced, or the section is appended when the file has
none yet, so the other sections stay as their own scripts last wrote them."""

import pathlib
import re


def write_section(path, section):
    heading = section.split("\n", 1)[0]
    if not heading.startswith("## "):
        raise ValueError(f"a section starts with its `## ` heading, not {heading!r}")
    p = pathlib.Path(path)
    text = p.read_text() if p.exists() else "# Benchmarks\n"
    pattern = re.compile("^" + re.escape(heading) + r"\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    p.write_text(text)
