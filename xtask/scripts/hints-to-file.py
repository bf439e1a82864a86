#!/usr/bin/env python3
"""Moves each lesson's hints out of its Cargo.toml (`[package.metadata.workbook] hints`) into
`exercises/<lesson>/hints.md`, and replaces the `<details>` hint blocks of its page with an
`{{#include}}` of that file: one source, shown by the page and by `cargo xtask hint`.

Run from the course root: `python3 xtask/scripts/hints-to-file.py [--page-wins]`. Lessons
already converted are left alone, so it can be re-run after merging new lessons. When a page's
hints differ from the manifest's, the manifest's are kept (they are what `cargo xtask hint`
showed) and the difference is printed; `--page-wins` keeps the page's instead. Then run
`cargo xtask seal` (hints.md is a shipped file, the manifest changed) and `cargo xtask verify`.
"""
import pathlib
import re
import sys
import tomllib

BLOCK = re.compile(
    r"<details>\s*<summary>\s*Hint\s*\d+\s*</summary>\s*(.*?)\s*</details>", re.S)
RUN = re.compile(
    r"(?:<details>\s*<summary>\s*Hint\s*\d+\s*</summary>.*?</details>\s*)+", re.S)


def render(nn, hints):
    out = [f"<!-- Lesson {nn}'s hints: its page includes this file, and `cargo xtask hint {nn}` "
           "shows them one at a time. -->\n"]
    for i, h in enumerate(hints, 1):
        out.append(f"\n<details>\n<summary>Hint {i}</summary>\n\n{h.strip()}\n</details>\n")
    return "".join(out)


def drop_hints_array(text):
    lines = text.splitlines(keepends=True)
    out, skipping = [], False
    for line in lines:
        if not skipping and re.match(r"\s*hints\s*=\s*\[", line):
            skipping = not line.rstrip().endswith("]")
            continue
        if skipping:
            if line.strip() == "]":
                skipping = False
            continue
        out.append(line)
    return "".join(out)


def norm(s):
    return " ".join(s.split())


def main():
    page_wins = "--page-wins" in sys.argv
    root = pathlib.Path.cwd()
    for manifest in sorted(root.glob("exercises/lesson-*/Cargo.toml")):
        name = manifest.parent.name
        nn = name.split("-")[1]
        text = manifest.read_text()
        meta = tomllib.loads(text)["package"]["metadata"]["workbook"]
        hints = meta.get("hints")
        if hints is None:
            print(f"{name}: already converted")
            continue
        target = manifest.parent / "hints.md"
        if target.exists():
            sys.exit(f"{name}: has both hints.md and hints in Cargo.toml; merge them by hand")
        page = root / "lessons" / f"{name}.md"
        page_text = page.read_text() if page.exists() else ""
        page_hints = BLOCK.findall(page_text)
        if page_hints and [norm(h) for h in page_hints] != [norm(h) for h in hints]:
            print(f"{name}: the page's hints differ from Cargo.toml's; keeping "
                  f"{'the page' if page_wins else 'Cargo.toml'}'s:")
            for i in range(max(len(page_hints), len(hints))):
                a = page_hints[i] if i < len(page_hints) else "(none)"
                b = hints[i] if i < len(hints) else "(none)"
                if norm(a) != norm(b):
                    print(f"  hint {i + 1}\n    page:       {norm(a)}\n    Cargo.toml: {norm(b)}")
            if page_wins:
                hints = page_hints
        new_manifest = drop_hints_array(text)
        check = tomllib.loads(new_manifest)["package"]["metadata"]["workbook"]
        assert "hints" not in check and {k: v for k, v in meta.items() if k != "hints"} == check
        include = f"{{{{#include ../exercises/{name}/hints.md}}}}\n\n"
        if RUN.search(page_text):
            page_text = RUN.sub(lambda _: include, page_text, count=1)
        elif page.exists():
            print(f"{name}: the page had no hint blocks; add `{include.strip()}` where they belong")
        target.write_text(render(nn, hints))
        manifest.write_text(new_manifest)
        if page.exists():
            page.write_text(page_text)
        print(f"{name}: {len(hints)} hints moved to {target.relative_to(root)}")


if __name__ == "__main__":
    main()
