"""Text and Markdown reports shared by the bench scripts (imports nothing heavy)."""

import importlib.metadata
import platform


def distribution_versions(names):
    """Python's and the installed distributions' versions, from package metadata."""
    found = {"Python": platform.python_version()}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


class Report:
    """Lines and tables, printed as plain text or written as Markdown."""

    def __init__(self):
        self.blocks = []

    def line(self, text=""):
        self.blocks.append(("line", text))

    def heading(self, text):
        self.blocks.append(("heading", text))

    def table(self, header, rows):
        rows = [[str(cell) for cell in row] for row in rows]
        self.blocks.append(("table", (header, rows)))

    def as_text(self):
        out = []
        for kind, content in self.blocks:
            if kind == "line":
                out.append(content)
            elif kind == "heading":
                out += ["", content, "-" * len(content)]
            else:
                header, rows = content
                columns = zip(header, *rows, strict=True)
                widths = [max(len(cell) for cell in column) for column in columns]
                for row in [header, *rows]:
                    cells = zip(row, widths, strict=True)
                    out.append("  ".join(cell.rjust(width) for cell, width in cells))
        return "\n".join(out)

    def as_markdown(self):
        out = []
        for kind, content in self.blocks:
            if kind == "line":
                if content or (out and out[-1]):
                    # two trailing spaces: a Markdown line break
                    out.append(f"{content}  " if content else "")
                continue
            if out and out[-1]:
                out.append("")  # headings and tables need a blank line before
            if kind == "heading":
                out += [f"## {content}", ""]
            else:
                header, rows = content
                out.append("| " + " | ".join(header) + " |")
                out.append("|" + "---:|" * len(header))
                out += ["| " + " | ".join(row) + " |" for row in rows]
                out.append("")
        return "\n".join(out).strip() + "\n"

    def emit(self, output=None):
        """Print the report as text; also write it as Markdown to ``output``."""
        print(self.as_text())
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(self.as_markdown())
            print(f"\nMarkdown report written to {output}")
