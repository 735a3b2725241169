"""Flow templates and `flows new`: start a bot from a working one.

A template is a complete function (app.py, world.wit, flow.yaml, README.md,
samples/ with recorded events, tests/) that ships with flows in its
functions/ folder. `flows new TEMPLATE NAME` copies it to functions/NAME and
adds the flow to app.yaml, keeping the file's comments and layout.
"""

from __future__ import annotations

import io
import keyword
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from flows import builtin
from flows.errors import ConfigError, FlowsError
from flows.project.config import FLOW_NAME, parse_config
from flows.project.manifest import Manifest, load_manifest

# where the built-in templates live (in the wheel, or the checkout's functions/)
TEMPLATE_HOME = builtin.folder("functions")
TEMPLATES = {
    "code-review": "code_review",
    "pr-summary": "pr_summary",
    "issue-triage": "issue_triage",
    "release-notes": "release_notes",
}
COPY_IGNORE = shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc")


class ScaffoldError(FlowsError):
    """`flows new` was asked for something it cannot do; nothing was written."""


@dataclass
class Template:
    name: str
    manifest: Manifest

    @property
    def folder(self) -> Path:
        return self.manifest.folder


def list_templates(home: Path = TEMPLATE_HOME) -> list[Template]:
    """The built-in templates, in a stable order."""
    found = []
    for name, folder in TEMPLATES.items():
        m = load_manifest(home / folder)
        if m is not None:
            found.append(Template(name, m))
    return found


def get_template(name: str, home: Path = TEMPLATE_HOME) -> Template:
    for t in list_templates(home):
        if t.name == name:
            return t
    known = ", ".join(t.name for t in list_templates(home)) or "none"
    raise ScaffoldError(f"unknown template {name!r} (templates: {known}; see `flows templates`)")


def folder_name(flow: str) -> str:
    """The function folder of a flow: `my-bot` -> `my_bot`."""
    return flow.replace("-", "_")


def check_name(name: str) -> None:
    if not FLOW_NAME.match(name):
        raise ScaffoldError(
            f"{name!r} is not a valid flow name: start with a lower-case letter, "
            "then lower-case letters, digits, - or _"
        )
    if keyword.iskeyword(folder_name(name)):
        raise ScaffoldError(f"{name!r} is a Python keyword; choose another name")


def _yaml() -> YAML:
    y = YAML()  # round-trip: comments, order, quotes and flow style are kept
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def _flow_list(items: list) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def _flow_map(items: dict) -> CommentedMap:
    m = CommentedMap(items)
    m.fa.set_flow_style()
    return m


def flow_entry(t: Template, folder: str) -> CommentedMap:
    m = t.manifest
    entry = CommentedMap()
    entry["function"] = f"functions/{folder}"
    entry["integrations"] = _flow_list(m.integrations)
    if m.memory:
        entry["memory"] = True
    entry["on"] = CommentedMap({k: _flow_list(v) for k, v in m.on.items()})
    if m.limits:
        entry["limits"] = _flow_map(m.limits)
    entry["settings"] = CommentedMap(m.settings) if m.settings else _flow_map({})
    return entry


def add_flow_text(text: str, name: str, entry: CommentedMap, comment: str, source: str) -> str:
    """app.yaml's text with one more flow, everything else as it was."""
    y = _yaml()
    try:
        doc = y.load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ConfigError(f"{where}: invalid YAML: {e.problem}; nothing was written") from None
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise ConfigError(f"{source}: the top level must be a mapping; nothing was written")
    flows = doc.get("flows")
    if flows is None:
        flows = doc["flows"] = CommentedMap()
    if not isinstance(flows, CommentedMap) or flows.fa.flow_style():
        raise ConfigError(f"{source}: `flows:` must be a block mapping; nothing was written")
    if name in flows:
        raise ScaffoldError(f"{source}: a flow named {name!r} is already in app.yaml")
    flows[name] = entry
    flows.yaml_set_comment_before_after_key(name, before=comment, indent=2)
    out = io.StringIO()
    y.dump(doc, out)
    return out.getvalue()


def scaffold(template: str, name: str, config_path: Path) -> Path:
    """Copy TEMPLATE to functions/NAME and add NAME to app.yaml; all or nothing."""
    t = get_template(template)
    check_name(name)
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScaffoldError(f"{config_path}: no such config file (use --config)") from None
    root = config_path.resolve().parent
    cfg = parse_config(text, root, source=str(config_path))  # refuse to extend a broken file
    if name in cfg.flows:
        raise ScaffoldError(f"{config_path}: a flow named {name!r} is already in app.yaml")
    folder = folder_name(name)
    target = root / "functions" / folder
    if target.exists():
        raise ScaffoldError(f"{target} exists already; choose another name")
    comment = f"from template {t.name}: {t.manifest.description}"
    new_text = add_flow_text(text, name, flow_entry(t, folder), comment, str(config_path))
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder}.", dir=target.parent))
    try:
        shutil.copytree(t.folder, staging / folder, ignore=COPY_IGNORE)
        personalize(staging / folder, t, name, folder)
        os.rename(staging / folder, target)
        try:
            parse_config(new_text, root, source=str(config_path))
            tmp = config_path.with_name(f".{config_path.name}.new")
            tmp.write_text(new_text, encoding="utf-8")
            os.replace(tmp, config_path)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def personalize(folder: Path, t: Template, name: str, function_folder: str) -> None:
    """Name the copy after the new flow: flow.yaml's name and the test file's."""
    manifest = folder / "flow.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(re.sub(r"(?m)^name:.*$", f"name: {name}", text, count=1), encoding="utf-8")
    test = folder / "tests" / f"test_{t.folder.name}.py"
    if test.is_file():
        test.rename(folder / "tests" / f"test_{function_folder}.py")


def next_steps(name: str, target: Path, root: Path) -> str:
    rel = target.relative_to(root) if target.is_relative_to(root) else target
    samples = sorted((target / "samples").glob("*.json"))
    lines = [f"created {rel}/ and the flow {name!r} in app.yaml", "", "next steps:"]
    lines.append(f"  1. read {rel}/README.md; change settings in app.yaml or code in {rel}/app.py")
    if samples:
        sample = samples[0].relative_to(root) if samples[0].is_relative_to(root) else samples[0]
        lines.append(f"  2. flows run {name} --event {sample} --dry-run")
    lines.append(f"  3. python -m pytest {rel}")
    lines.append(f"  4. flows dev {name}      (rebuilds on save and replays the last event)")
    lines.append("  5. flows serve           (the flow now answers its events)")
    return "\n".join(lines)
