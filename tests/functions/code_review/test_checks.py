"""The deterministic checks (checks.py): each rule on code that has the
problem and on code that does not, only changed lines, rules turned off."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[3] / "functions" / "code_review"))
import checks

ALL = set(range(1, 500))


def rules(source: str, changed=ALL, disabled=frozenset()) -> list[tuple[str, int]]:
    found, why = checks.run("app/x.py", source, changed, frozenset(disabled))
    assert why is None
    return [(p.rule, p.line) for p in found]


POSITIVE = {
    "eval-exec": "def f(request):\n    return eval(request.args['expr'])\n",
    "sql-injection": (
        "def f(cur, name):\n"
        "    q = f\"SELECT * FROM users WHERE name = '{name}'\"\n"
        "    cur.execute(q)\n"
    ),
    "shell-injection": "import subprocess\ndef f(p):\n    subprocess.run(f'ls {p}', shell=True)\n",
    "unsafe-deserialization": "import yaml\ndef f(s):\n    return yaml.load(s)\n",
    "tls-verify-disabled": "import requests\ndef f(u):\n    return requests.get(u, verify=False)\n",
    "hardcoded-secret": 'API_KEY = "9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c"\n',
    "resource-leak": "def f(p):\n    fh = open(p)\n    return fh.read()\n",
    "swallowed-exception": "def f():\n    try:\n        g()\n    except Exception:\n        pass\n",
    "division-by-len": "def avg(xs):\n    return sum(xs) / len(xs)\n",
    "undefined-name": "def f():\n    return missing_name + 1\n",
    "unused-import": "import os\n\ndef f():\n    return 1\n",
    "unused-variable": "def f():\n    unused = 2\n    return 1\n",
    "redefined": "def f():\n    return 1\n\ndef f():\n    return 2\n",
}
NEGATIVE = {
    "eval-exec": "import ast\ndef f(s):\n    return ast.literal_eval(s), eval('1 + 1')\n",
    "sql-injection": (
        "def f(cur, name):\n"
        "    cur.execute('SELECT * FROM users WHERE name = %s', (name,))\n"
        "    cur.execute('SELECT 1')\n"
    ),
    "shell-injection": (
        "import subprocess, os\n"
        "def f(p):\n"
        "    subprocess.run(['ls', p])\n"
        "    subprocess.run('ls -l', shell=True)\n"
        "    os.system('make')\n"
    ),
    "unsafe-deserialization": (
        "import yaml, json\n"
        "def f(s):\n"
        "    return yaml.safe_load(s), yaml.load(s, Loader=yaml.SafeLoader), json.loads(s)\n"
    ),
    "tls-verify-disabled": "import requests\ndef f(u):\n    return requests.get(u, verify=True)\n",
    "hardcoded-secret": (
        "import os\n"
        "API_KEY = os.environ['API_KEY']\n"
        "TOKEN = 'changeme'\n"
        "password_field = 'password'\n"
        "SECRET_KEY = '${SECRET_KEY}'\n"
    ),
    "resource-leak": (
        "def f(p):\n    with open(p) as fh:\n        return fh.read()\n"
        "def g(p):\n    fh = open(p)\n    try:\n        return fh.read()\n    finally:\n"
        "        fh.close()\n"
        "def h(p):\n    fh = open(p)\n    return fh\n"
    ),
    "swallowed-exception": (
        "import logging\n"
        "def f():\n    try:\n        g()\n    except ValueError:\n        pass\n"
        "def h():\n    try:\n        g()\n    except Exception:\n        logging.exception('g')\n"
    ),
    "division-by-len": (
        "def avg(xs):\n    if not xs:\n        return 0.0\n    return sum(xs) / len(xs)\n"
        "def avg2(xs):\n    return sum(xs) / len(xs) if xs else 0.0\n"
    ),
    "undefined-name": "def f():\n    x = 1\n    return x\n",
    "unused-import": "import os\n\ndef f():\n    return os.sep\n",
    "unused-variable": "def f():\n    used = 2\n    return used\n",
    "redefined": "def f():\n    return 1\n\ndef g():\n    return 2\n",
}


@pytest.mark.parametrize("rule", sorted(checks.RULES))
def test_each_rule_finds_its_problem(rule):
    assert rule in {r for r, _ in rules(POSITIVE[rule])}


@pytest.mark.parametrize("rule", sorted(checks.RULES))
def test_each_rule_stays_quiet_on_good_code(rule):
    assert rule not in {r for r, _ in rules(NEGATIVE[rule])}


def test_sql_built_every_way():
    for expr in ("'SELECT ' + col", "'SELECT %s' % col", "'SELECT {}'.format(col)", "f'{col}'"):
        assert rules(f"def f(db, col):\n    db.execute({expr})\n") == [("sql-injection", 2)]
    assert rules("from sqlalchemy import text\ndef f(c):\n    return text(f'x {c}')\n") == [
        ("sql-injection", 3)
    ]


def test_known_key_prefixes_anywhere():
    found = rules("def f():\n    return dict(key='AKIAABCDEFGHIJKLMNOP')\n")
    assert found == [("hardcoded-secret", 2)]
    assert rules("X = 'ghp_" + "a" * 36 + "'\n") == [("hardcoded-secret", 1)]


def test_only_changed_lines_and_rules_turned_off():
    src = POSITIVE["eval-exec"] + POSITIVE["division-by-len"]
    assert rules(src) == [("eval-exec", 2), ("division-by-len", 4)]
    assert rules(src, changed={4}) == [("division-by-len", 4)]
    assert rules(src, disabled={"eval-exec"}) == [("division-by-len", 4)]


def test_a_file_that_does_not_parse_is_not_checked():
    found, why = checks.run("a.py", "def f(:\n", ALL)
    assert found == [] and "not valid Python" in why


def test_every_problem_has_a_message_severity_and_category():
    for rule, src in POSITIVE.items():
        found, _ = checks.run("x.py", src, ALL)
        p = next(p for p in found if p.rule == rule)
        assert p.message and p.severity in ("low", "medium", "high", "critical") and p.category


def test_the_flow_settings_schema_lists_every_rule():
    import yaml

    path = Path(__file__).parents[3] / "functions" / "code_review" / "flow.yaml"
    flow = yaml.safe_load(path.read_text())
    ids = flow["settings_schema"]["properties"]["disabled_checks"]["items"]["enum"]
    assert sorted(ids) == sorted(checks.RULES)


def test_noqa_silences_the_linter_rules_the_repository_already_waived():
    """Modelled on a re-export this repository made (flows/capabilities/llm/
    backend.py, `# noqa: F401`), which `flows eval --history` found the
    review flagging as an unused import."""
    reexport = "from .tokens import (  # noqa: F401  (re-exported)\n    estimate,\n)\n"
    assert rules(reexport) == []
    assert rules("import os  # noqa\n") == []
    assert rules("import os  # NOQA: E501, F401\n") == []
    assert rules("import os  # noqa: E501\n") == [("unused-import", 1)]  # another code
    assert rules("def f():\n    x = 1  # noqa: F841\n    return 2\n") == []


def test_noqa_never_hides_a_security_finding():
    """The pull request's author writes the comments: `# noqa` on eval does
    not keep it from the reviewer."""
    source = "def f(request):\n    return eval(request.args['expr'])  # noqa\n"
    assert rules(source) == [("eval-exec", 2)]
    shell = (
        "import subprocess\ndef f(p):\n    subprocess.run(f'ls {p}', shell=True)  # noqa: S602\n"
    )
    assert rules(shell) == [("shell-injection", 3)]
