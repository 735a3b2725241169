"""Deterministic checks on the head version of a changed Python file, run in
the review's own sandbox: pyflakes (undefined names, unused imports and
variables, redefinitions) and a small rule set written with `ast`. Only
problems on lines the pull request adds or changes are reported. Each rule
has an id, a severity and a message; a repository turns rules off with
`disabled_checks` in .github/flows.yaml. Pure Python; host tests import it."""

import ast
import contextlib
import math
import re
from dataclasses import dataclass

import pyflakes.checker  # at import: a component has no files to import from at run time
import pyflakes.messages as pm

with contextlib.suppress(ImportError):  # Python 3.14's ast.unparse imports it lazily
    import _ast_unparse  # noqa: F401


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    category: str  # the review's rule family (security, bug, ...)
    title: str


RULES = {
    r.id: r
    for r in [
        Rule("eval-exec", "critical", "security", "eval/exec of input that is not a literal"),
        Rule("sql-injection", "high", "security", "SQL text built from values, then executed"),
        Rule("shell-injection", "high", "security", "a shell command built from values"),
        Rule("unsafe-deserialization", "high", "security", "deserializing untrusted data"),
        Rule("tls-verify-disabled", "high", "security", "TLS certificate checks turned off"),
        Rule("hardcoded-secret", "high", "security", "a secret written into the code"),
        Rule("resource-leak", "medium", "resource-leak", "a file opened and never closed"),
        Rule("swallowed-exception", "medium", "error-handling", "errors silently swallowed"),
        Rule("division-by-len", "medium", "bug", "division by len() of what may be empty"),
        Rule("undefined-name", "high", "bug", "a name that is not defined"),
        Rule("unused-import", "low", "maintainability", "an import that is not used"),
        Rule("unused-variable", "low", "maintainability", "a variable that is never used"),
        Rule("redefined", "medium", "bug", "a definition that replaces one never used"),
    ]
}
PYFLAKES = {
    pm.UndefinedName: "undefined-name",
    pm.UndefinedLocal: "undefined-name",
    pm.UnusedImport: "unused-import",
    pm.UnusedVariable: "unused-variable",
    pm.RedefinedWhileUnused: "redefined",
}
# the flake8/ruff codes of the pyflakes rules: `# noqa` (bare, or naming the
# code) on the line silences them, as it does for the linters the repository
# runs. Only these: a comment in the pull request never hides a security or
# data finding from its reviewer.
NOQA_CODES = {
    "unused-import": {"F401"},
    "unused-variable": {"F841"},
    "redefined": {"F811"},
    "undefined-name": {"F821", "F822", "F823"},
}
_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*))?",
                   re.I)  # fmt: skip
SQL_CALLS = {"execute", "executemany", "raw", "text", "executescript", "mogrify"}
SUBPROCESS = {"run", "call", "check_call", "check_output", "Popen", "getoutput", "getstatusoutput"}
SECRET_NAME = re.compile(r"(?i)(^|_)(api_?key|key|token|secret|password|passwd|pwd|credentials?)$")
KNOWN_SECRET = re.compile(
    r"AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}"
    r"|sk-(?:proj-|live-)?[A-Za-z0-9_-]{20,}|sk_live_[A-Za-z0-9]{20,}|xox[abpr]-[A-Za-z0-9-]{10,}"
    r"|AIza[0-9A-Za-z_-]{35}|-----BEGIN (?:RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----"
)
PLACEHOLDER = re.compile(
    r"(?i)^(|x+|\*+|changeme|change-me|secret|password|todo|none|null|"
    r"example|dummy|test|fake|<[^>]*>|\$\{[^}]*\}|\{[^}]*\})$"
)


@dataclass
class Problem:
    rule: str
    line: int
    end_line: int
    message: str

    @property
    def severity(self) -> str:
        return RULES[self.rule].severity

    @property
    def category(self) -> str:
        return RULES[self.rule].category

    @property
    def title(self) -> str:
        return RULES[self.rule].title


def _name(node) -> str:
    """`a.b.c(...)` -> "a.b.c"; "" when not a plain dotted name."""
    if isinstance(node, ast.Call):
        node = node.func
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _literal(node) -> bool:
    return isinstance(node, ast.Constant) or (
        isinstance(node, ast.JoinedStr)
        and not any(isinstance(v, ast.FormattedValue) for v in node.values)
    )


def _built_string(node, tainted: set[str]) -> bool:
    """A string made from values at run time: an f-string with fields, `%`,
    `+` with a non-literal, `.format(...)`, or a name assigned one of those."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        sides = (node.left, node.right)
        text = any(isinstance(s, ast.Constant) and isinstance(s.value, str) for s in sides)
        mixed = text and any(not _literal(s) for s in sides)
        return mixed or any(_built_string(s, tainted) for s in sides)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
    ):
        return bool(node.args or node.keywords)
    return isinstance(node, ast.Name) and node.id in tainted


def _entropy(s: str) -> float:
    counts = {c: s.count(c) for c in set(s)}
    return -sum(n / len(s) * math.log2(n / len(s)) for n in counts.values())


class _Visitor(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: list[Problem] = []
        self.tainted: set[str] = set()  # names assigned a built string (per function)
        self.parents: dict[int, ast.AST] = {}

    def add(self, rule: str, node, message: str) -> None:
        end = getattr(node, "end_lineno", None) or node.lineno
        self.found.append(Problem(rule, node.lineno, end, message))

    def visit_FunctionDef(self, node) -> None:
        saved, self.tainted = self.tainted, set()
        self._leaks(node)
        self._divisions(node)
        self.generic_visit(node)
        self.tainted = saved

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Assign(self, node: ast.Assign) -> None:
        for t in node.targets:
            if isinstance(t, ast.Name):
                if _built_string(node.value, self.tainted):
                    self.tainted.add(t.id)
                else:
                    self.tainted.discard(t.id)
                self._secret(t.id, node.value, node)
            elif isinstance(t, ast.Attribute):
                self._secret(t.attr, node.value, node)
                if t.attr == "check_hostname" and _is_false(node.value):
                    self.add(
                        "tls-verify-disabled",
                        node,
                        "`check_hostname = False` turns off hostname checks",
                    )
                if t.attr == "verify_mode" and _name(node.value).endswith("CERT_NONE"):
                    self.add(
                        "tls-verify-disabled",
                        node,
                        "`verify_mode = CERT_NONE` accepts any certificate",
                    )
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if isinstance(node.target, ast.Name) and node.value is not None:
            self._secret(node.target.id, node.value, node)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and KNOWN_SECRET.search(node.value):
            self.add(
                "hardcoded-secret",
                node,
                "a string shaped like a real credential (a known "
                "key prefix); load it from the environment or a secret store",
            )

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg is not None:
            self._secret(node.arg, node.value, node.value)
        self.generic_visit(node)

    def _secret(self, name: str, value, node) -> None:
        if not (SECRET_NAME.search(name) and isinstance(value, ast.Constant)):
            return
        text = value.value
        if not isinstance(text, str) or KNOWN_SECRET.search(text) or PLACEHOLDER.match(text):
            return  # (a known prefix is reported by visit_Constant)
        strong = len(text) >= 16 and _entropy(text) >= 3.5
        if strong or (re.search(r"(?i)pass|pwd", name) and len(text) >= 6 and " " not in text):
            self.add(
                "hardcoded-secret",
                node,
                f"`{name}` is set to a literal secret; load it "
                "from the environment or a secret store",
            )

    def visit_Call(self, node: ast.Call) -> None:
        name = _name(node)
        last = name.rsplit(".", 1)[-1]
        arg0 = node.args[0] if node.args else None
        if name in ("eval", "exec") and arg0 is not None and not _literal(arg0):
            self.add(
                "eval-exec",
                node,
                f"`{name}()` runs whatever its argument holds; parse "
                "the input instead (ast.literal_eval, json)",
            )
        if last in SQL_CALLS and arg0 is not None and _built_string(arg0, self.tainted):
            self.add(
                "sql-injection",
                node,
                f"SQL passed to `{last}()` is built from values; pass them as query parameters",
            )
        shell = next((k for k in node.keywords if k.arg == "shell"), None)
        if (
            (name.startswith("subprocess.") or last in SUBPROCESS)
            and shell is not None
            and not _is_false(shell.value)
            and arg0 is not None
            and not (_literal(arg0))
        ):
            self.add(
                "shell-injection",
                node,
                f"`{name}(..., shell=True)` with a command built "
                "from values; pass a list of arguments without a shell",
            )
        if name in ("os.system", "os.popen") and arg0 is not None and not _literal(arg0):
            self.add(
                "shell-injection",
                node,
                f"`{name}()` runs a command built from values in "
                "a shell; use subprocess with a list of arguments",
            )
        if name in ("yaml.load", "yaml.load_all") and not _safe_loader(node):
            self.add(
                "unsafe-deserialization",
                node,
                f"`{name}()` without a safe Loader can build any Python object; use yaml.safe_load",
            )
        if name in ("yaml.unsafe_load", "yaml.full_load"):
            self.add(
                "unsafe-deserialization",
                node,
                f"`{name}()` can build Python objects from the document; use yaml.safe_load",
            )
        if name in (
            "pickle.load",
            "pickle.loads",
            "marshal.load",
            "marshal.loads",
            "cPickle.loads",
            "dill.loads",
        ):
            self.add(
                "unsafe-deserialization",
                node,
                f"`{name}()` runs code from the data it "
                "reads; never use it on data you did not write",
            )
        for k in node.keywords:
            if k.arg == "verify" and _is_false(k.value):
                self.add(
                    "tls-verify-disabled",
                    node,
                    f"`{name or 'a call'}(..., verify=False)` "
                    "accepts any certificate, so traffic can be intercepted",
                )
        if name == "ssl._create_unverified_context":
            self.add(
                "tls-verify-disabled", node, "an unverified SSL context accepts any certificate"
            )
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is None:
            self.add(
                "swallowed-exception",
                node,
                "a bare `except:` also catches "
                "KeyboardInterrupt and SystemExit; catch what you expect",
            )
        elif _name(node.type) in ("Exception", "BaseException") and all(
            isinstance(b, ast.Pass | ast.Continue)
            or (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))
            for b in node.body
        ):
            self.add(
                "swallowed-exception",
                node,
                f"`except {_name(node.type)}:` that does "
                "nothing hides every error; log it or let it propagate",
            )
        self.generic_visit(node)

    def _leaks(self, fn) -> None:
        """`f = open(...)` outside `with` in a function that never closes f,
        returns it, yields it or hands it on."""
        opened = {}
        for node in ast.walk(fn):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and _name(node.value) in ("open", "io.open", "codecs.open")
            ):
                opened[node.targets[0].id] = node
        for var, node in opened.items():
            if not _handle_used(fn, var):
                self.add(
                    "resource-leak",
                    node,
                    f"`{var}` is opened here and never closed; use `with open(...) as ...`",
                )

    def _divisions(self, fn) -> None:
        for node in ast.walk(fn):
            if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div | ast.FloorDiv)):
                continue
            right = node.right
            if not (isinstance(right, ast.Call) and _name(right) == "len" and right.args):
                continue
            what = ast.dump(right.args[0])
            if not _checked_before(fn, what, node.lineno):
                self.add(
                    "division-by-len",
                    node,
                    f"division by `len({ast.unparse(right.args[0])})`"
                    " raises ZeroDivisionError when it is empty; check it first",
                )


def _is_false(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _safe_loader(call: ast.Call) -> bool:
    loader = next((k.value for k in call.keywords if k.arg == "Loader"), None)
    if loader is None and len(call.args) > 1:
        loader = call.args[1]
    return loader is not None and "Safe" in _name(loader)


def _handle_used(fn, var: str) -> bool:
    for node in ast.walk(fn):
        if isinstance(node, ast.Call):
            f = node.func
            if (
                isinstance(f, ast.Attribute)
                and isinstance(f.value, ast.Name)
                and f.value.id == var
                and f.attr in ("close", "__exit__")
            ):
                return True
            owner = _name(node).rsplit(".", 1)[-1]
            if owner in ("closing", "enter_context", "push", "register") and any(
                isinstance(a, ast.Name) and a.id == var for a in node.args
            ):
                return True  # handed to something that closes it
        if isinstance(node, ast.Return | ast.Yield | ast.YieldFrom) and node.value is not None:
            values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            if any(isinstance(v, ast.Name) and v.id == var for v in values):
                return True  # the caller gets the handle
        if isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                if isinstance(item.context_expr, ast.Name) and item.context_expr.id == var:
                    return True
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Attribute) for t in node.targets)
            and isinstance(node.value, ast.Name)
            and node.value.id == var
        ):
            return True  # stored on an object that owns it
    return False


def _checked_before(fn, what: str, line: int) -> bool:
    """Whether `what` (an ast dump) is tested for emptiness before `line`:
    in an if/while/assert/conditional expression/boolean operation."""
    for node in ast.walk(fn):
        tests = []
        if isinstance(node, ast.If | ast.While | ast.IfExp | ast.Assert):
            tests = [node.test]
        elif isinstance(node, ast.BoolOp):
            tests = node.values
        for t in tests:
            if getattr(t, "lineno", line + 1) > line:
                continue
            if any(ast.dump(n) == what for n in ast.walk(t)):
                return True
    return False


def silenced(p: Problem, lines: list[str]) -> bool:
    """A pyflakes rule's problem with `# noqa` (bare, or naming its code) on its lines."""
    codes = NOQA_CODES.get(p.rule)
    if not codes:
        return False
    for text in lines[p.line - 1 : p.end_line]:
        m = _NOQA.search(text)
        if m and (m["codes"] is None or codes & set(re.split(r"[\s,]+", m["codes"].upper()))):
            return True
    return False


def _changed(p: Problem, lines: set[int]) -> bool:
    return any(n in lines for n in range(p.line, p.end_line + 1))


def run(
    path: str, source: str, changed: set[int], disabled: frozenset[str] = frozenset()
) -> tuple[list[Problem], str | None]:
    """Problems on the changed lines of one Python file, and why it could not
    be checked (None when it was)."""
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as e:
        return [], f"not checked: not valid Python ({e.msg}, line {e.lineno})"
    except (ValueError, RecursionError) as e:
        return [], f"not checked: cannot be parsed ({type(e).__name__})"
    v = _Visitor()
    try:
        v.visit(tree)
        flakes = pyflakes.checker.Checker(tree, filename=path)
    except RecursionError:
        return [], "not checked: nested too deeply"
    found = list(v.found)
    for m in flakes.messages:
        rule = PYFLAKES.get(type(m))
        if rule is None or (rule == "unused-import" and path.endswith("__init__.py")):
            continue  # an __init__ imports to re-export
        found.append(Problem(rule, m.lineno, m.lineno, m.message % m.message_args))
    out, seen, text = [], set(), source.splitlines()
    for p in sorted(found, key=lambda p: (p.line, p.rule)):
        if p.rule in disabled or not _changed(p, changed) or (p.rule, p.line) in seen:
            continue
        if silenced(p, text):
            continue
        seen.add((p.rule, p.line))
        out.append(p)
    return out, None
