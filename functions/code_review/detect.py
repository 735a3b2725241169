"""The deterministic breaking changes of one pull request: the Python API
(breaking.py) and database schemas (migrations.py), with files read
through the github integration at the merge base and the head commit.
Every file that cannot be compared is returned with its reason; nothing
here fails a review."""

import breaking
import diffmap
import layout
from componentize_py_types import Err
from state import Change
from surface import NotComparable
from wit_world.imports import github

import migrations

MAX_API_FILES = 80  # Python files whose API is compared per review
MAX_API_LINES = 20_000  # changed lines above which a file's API is not compared
MAX_READS = 400  # files read from GitHub per commit for the comparison


class Reader:
    """get_file at one commit, each path read once, within a budget;
    `known` holds files already at hand (the head of a changed file, the
    base rebuilt from it and its diff)."""

    def __init__(self, ref: str, known: dict[str, str | None] | None = None):
        self.ref, self.cache, self.reads = ref, dict(known or {}), 0

    def __call__(self, path: str) -> str | None:
        if path not in self.cache:
            if self.reads >= MAX_READS:
                raise NotComparable(f"over the budget of {MAX_READS} file reads per review")
            self.reads += 1
            try:
                self.cache[path] = github.get_file(path, self.ref)
            except Err as e:
                raise NotComparable(str(e.value)) from None
        return self.cache[path]


def who(b: breaking.Breaking, schema: bool = False) -> str:
    if schema:
        return f"queries and code that use `{b.symbol}`, and the data stored in it"
    if b.kind in ("module-removed", "module-moved"):
        return f"code that imports `{b.symbol}`"
    return f"callers and importers of `{b.symbol}`"


def _api(
    files: list, whole: dict, hunks_of, base: Reader, head: Reader, skipped: dict
) -> list[Change]:
    changed, compared = [], 0
    for f in files:
        name, old = f.filename, f.previous_filename or f.filename
        if not (name.endswith(".py") or old.endswith(".py")) or f.status == "added":
            continue
        if compared >= MAX_API_FILES:
            why = f"its API was not compared (over {MAX_API_FILES} Python files)"
            skipped.setdefault(name, why)
            continue
        if f.additions + f.deletions > MAX_API_LINES:
            skipped.setdefault(name, "its API was not compared (the diff is too large)")
            continue
        compared += 1
        if f.status != "removed" and whole.get(name) and name == old:
            try:  # the base rebuilt from head and its diff against the base saves a fetch
                after = head(name)
                before = diffmap.base_text(after or "", hunks_of(whole[name])) if after else None
                if before is not None:
                    base.cache.setdefault(old, before)
            except NotComparable:
                pass
        changed.append(breaking.FileChange(name, f.status, f.previous_filename or None))
    if not changed:
        return []
    try:
        lay, problems = layout.load(base)
    except NotComparable as e:
        lay, problems = layout.Layout(roots=["src/"]), [f"package layout not read: {e}"]
    for p in problems:
        skipped.setdefault(p.split(":", 1)[0], p)
    found, not_compared = breaking.api_changes(changed, base, head, lay)
    for path, why in not_compared.items():
        skipped.setdefault(path, why)
    return [Change(b.path, b.line, b.symbol, b.kind, b.detail, who(b), "api") for b in found]


def _models_reader(base: Reader):
    """A migration's old field definitions from its app's models.py at the base."""

    def old_field(path: str):
        app = path.split("/migrations/", 1)[0] if "/migrations/" in path else ""

        def lookup(model: str, field: str):
            try:
                text = base(f"{app}/models.py" if app else "models.py")
            except NotComparable:
                return None
            return migrations.model_field(text, model, field) if text else None

        return lookup

    return old_field


def _schema(files: list, hunks_of, head: Reader, base: Reader, skipped: dict) -> list[Change]:
    out, old_field = [], _models_reader(base)
    for f in files:
        name = f.filename
        if not f.patch or f.status == "removed" or not migrations.is_migration(name):
            continue
        hunks = hunks_of(f.patch)
        added = {n for n, _t in diffmap.added_lines(hunks)}
        if not added:
            continue
        try:
            if f.status == "added":  # the whole file is in its diff
                text = "\n".join(t for _n, t in diffmap.added_lines(hunks))
            else:
                text = head(name) or ""
            found = migrations.changes(name, text, added, old_field(name))
        except NotComparable as e:
            skipped.setdefault(name, f"its schema changes were not read: {e}")
            continue
        except (SyntaxError, ValueError, RecursionError) as e:
            why = getattr(e, "msg", None) or type(e).__name__
            skipped.setdefault(name, f"its schema changes were not read: not valid Python ({why})")
            continue
        for b in found:
            out.append(Change(b.path, b.line, b.symbol, b.kind, b.detail, who(b, True), "schema"))
    return out


def breaking_changes(
    files: list, whole: dict, hunks_of, base_sha: str, head: Reader, skipped: dict
) -> list[Change]:
    """API and schema breaking changes of `files` (the files to review, each
    with its diff since the last review; `whole`: path -> diff against the
    base); files not compared go into `skipped` with the reason."""
    base = Reader(base_sha)
    api = _api(files, whole, hunks_of, base, head, skipped)
    schema = _schema(files, hunks_of, head, base, skipped)
    return [c for c in api if not any(_same_field(c, s) for s in schema)] + schema


def _same_field(api: Change, schema: Change) -> bool:
    """A model class losing an attribute (`app.models.Tag.name`) and the
    migration dropping or renaming that column (`tag.name`) are one change:
    the schema row, which also says what happens to the data, is kept."""
    parts = api.symbol.lower().split(".")
    return (
        api.kind == "object-removed"
        and len(parts) >= 2
        and ".".join(parts[-2:]) == schema.symbol.lower()
        and schema.kind in ("column-dropped", "column-renamed")
    )
