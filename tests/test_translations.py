"""Every word a person reads goes through gettext, so a translation can be added without touching templates."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# What a person never reads as text: Jinja comments, tags and expressions, trans blocks (already
# translated), HTML comments, scripts and styles, and the tags themselves (attributes are checked apart).
_HIDDEN = [
    re.compile(r"\{#.*?#\}", re.S),
    re.compile(r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}", re.S),
    re.compile(r"\{%.*?%\}", re.S),
    re.compile(r"\{\{.*?\}\}", re.S),
    re.compile(r"<!--.*?-->", re.S),
    re.compile(r"<(script|style)\b.*?</\1>", re.S),
]
_TAG = re.compile(r"<[^>]*>", re.S)
# Attributes whose values people read (or hear, from a screen reader).
_READ_ATTRIBUTES = re.compile(r'\b(?:title|alt|placeholder|aria-label|aria-description|content|label)="([^"]*)"')
# Text that is not language: numbers, punctuation, symbols, entities, and a few marks used as icons.
_NOT_WORDS = re.compile(r"^(?:[\W\d_]|&[a-z#0-9]+;)*$")


def untranslated(source: str) -> list[str]:
    """Pieces of text in a template that a person would read and that no gettext call wraps."""
    text = source
    for pattern in _HIDDEN:
        text = pattern.sub(" ", text)
    found = [value for value in _READ_ATTRIBUTES.findall(text) if not _NOT_WORDS.match(value.strip())]
    found += [piece.strip() for piece in _TAG.sub("\n", text).split("\n")
              if piece.strip() and not _NOT_WORDS.match(piece.strip())]
    return found


@pytest.mark.parametrize("path", sorted(TEMPLATES.rglob("*.html")) + sorted(TEMPLATES.rglob("*.txt")),
                         ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_template_text_goes_through_gettext(path):
    assert untranslated(path.read_text()) == []


def test_the_scanner_finds_plain_text():
    assert untranslated('<p>Hello {{ name }}</p><img alt="A dog">') == ["A dog", "Hello"]
    assert untranslated('<p>{{ _("Hello") }} {% trans %}Bye{% endtrans %} 12 · &nbsp;</p>') == []


ROOT = TEMPLATES.parent
PYTHON = [p for folder in ("blueprints", "forms", "services") for p in sorted((ROOT / folder).rglob("*.py"))]
PYTHON += [ROOT / name for name in ("access.py", "rendering.py", "models.py")]
# Calls whose text a person reads: messages of refusals and notices, and the labels and hints of fields.
_MESSAGE_CALLS = {"DomainError", "FieldErrors", "ConflictError", "AlreadyDecided", "DuplicateEvent", "done", "flash",
                  "Conflict", "RowError"}
_GETTEXT = {"_", "_l", "gettext", "lazy_gettext", "ngettext", "lazy_ngettext", "pgettext"}


def _name(node) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _plain_text(node) -> bool:
    """A literal with words in it (or an f-string), not wrapped in a gettext call."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(re.search(r"[A-Za-z]{2}", node.value))
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.Constant) and re.search(r"[A-Za-z]{2}", v.value) for v in node.values)
    if isinstance(node, ast.Dict):
        return any(_plain_text(v) for v in node.values)
    return False


def untranslated_python(source: str) -> list[str]:
    """Messages and field labels in Python code that do not go through gettext."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or _name(node) in _GETTEXT:
            continue
        name = _name(node)
        readable = []
        if name in _MESSAGE_CALLS or name.endswith("Field"):
            readable += node.args[:1] if name != "Conflict" and name != "RowError" else node.args[-1:]
        readable += [kw.value for kw in node.keywords if kw.arg in ("description", "message", "label")]
        found += [f"line {node.lineno}: {ast.unparse(arg)[:80]}" for arg in readable if _plain_text(arg)]
    return found


@pytest.mark.parametrize("path", PYTHON, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_messages_go_through_gettext(path):
    assert untranslated_python(path.read_text()) == []


def test_the_python_scanner_finds_plain_messages():
    source = 'raise DomainError("No.", "f")\nraise DomainError(_("Yes."))\nx = StringField("Name")\ndone(f"Hi {n}", u)'
    assert untranslated_python(source) == ["line 1: 'No.'", "line 3: 'Name'", "line 4: f'Hi {n}'"]
