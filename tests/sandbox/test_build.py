"""`flows build`: content-hash cache, dependency bundling, errors at file:line."""

import shutil
from pathlib import Path

import pytest

from flows.errors import BuildError
from flows.project.config import load_config
from flows.project.events import Event
from flows.runtime import Runtime
from flows.sandbox.build import ComponentSource, build_one, digest
from tests.conftest import COMPONENTS

DIRECT = COMPONENTS / "functions" / "direct"

WORLD = """package flows-test:tmp-fn;

world tmp {
  include flows:function/function@0.1.0;
}
"""
APP = """import json
import wit_world
{imports}

class WitWorld(wit_world.WitWorld):
    def handle(self, event, context):
        return json.dumps({result})
"""


def make(tmp_path: Path, app: str, world: str = WORLD, **files: str) -> ComponentSource:
    d = tmp_path / "fn"
    d.mkdir(exist_ok=True)
    (d / "world.wit").write_text(world)
    (d / "app.py").write_text(app)
    for name, text in files.items():
        (d / name.replace("__", ".")).write_text(text)
    return ComponentSource("function", "fn", d)


def test_digest_follows_content_not_location(tmp_path):
    a = tmp_path / "a"
    shutil.copytree(DIRECT, a)
    src_a = ComponentSource("function", "direct", a)
    assert digest(src_a) == digest(ComponentSource("function", "direct", DIRECT))
    (a / "__pycache__").mkdir(exist_ok=True)
    (a / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"junk")
    assert digest(src_a) == digest(ComponentSource("function", "direct", DIRECT))
    (a / "app.py").write_text((a / "app.py").read_text() + "\n# changed\n")
    assert digest(src_a) != digest(ComponentSource("function", "direct", DIRECT))


@pytest.mark.slow
def test_unchanged_component_comes_from_cache():
    src = ComponentSource("function", "direct", DIRECT)
    build_one(src)
    again = build_one(src)
    assert again.cached
    assert again.wasm.is_file() and again.wasm.stat().st_size > 1_000_000


@pytest.mark.slow
def test_syntax_error_points_at_file_and_line(tmp_path):
    src = make(tmp_path, "import json\n\ndef broken(:\n    pass\n")
    with pytest.raises(BuildError) as e:
        build_one(src)
    first = str(e.value).splitlines()[1]
    assert first.startswith(f"{src.path}/app.py:3: SyntaxError")


@pytest.mark.slow
def test_import_time_error_points_at_the_module_that_raised(tmp_path):
    src = make(tmp_path, "import helper\n", helper__py="x = 1\nraise RuntimeError('nope')\n")
    with pytest.raises(BuildError) as e:
        build_one(src)
    assert f"{src.path}/helper.py:2: RuntimeError: nope" in str(e.value)


@pytest.mark.slow
def test_wit_error_points_at_world_file(tmp_path):
    world = WORLD.replace("}\n", "  import flows:github/nothere@0.1.0;\n}\n")
    src = make(tmp_path, APP.format(imports="", result="{}"), world=world)
    with pytest.raises(BuildError) as e:
        build_one(src)
    assert f"{src.path}/world.wit:5:" in str(e.value)
    assert "interface not found" in str(e.value)


def test_missing_world_file(tmp_path):
    d = tmp_path / "fn"
    d.mkdir()
    (d / "app.py").write_text("")
    with pytest.raises(BuildError, match=r"world\.wit: missing"):
        build_one(ComponentSource("function", "fn", d))


@pytest.mark.slow
def test_pure_python_dependency_is_bundled_and_runs(tmp_path):
    app = APP.format(imports="import six", result='{"six": six.__version__}')
    src = make(tmp_path, app, requirements__txt="six==1.16.0\n")
    built = build_one(src)
    assert built.wasm.is_file()
    yaml = f"flows:\n  t:\n    function: {src.path}\n"
    (tmp_path / "app.yaml").write_text(yaml)
    report = Runtime(load_config(tmp_path / "app.yaml")).run("t", Event("ping", {"zen": "z"}))
    assert report.ok, report.error
    assert report.result == {"six": "1.16.0"}


@pytest.mark.slow
def test_dependency_without_pure_python_wheel_is_a_clear_error(tmp_path):
    src = make(tmp_path, "", requirements__txt="flows-no-such-package-xyz==1.0\n")
    with pytest.raises(BuildError, match=r"requirements\.txt: cannot install pure-Python"):
        build_one(src)


@pytest.mark.slow
def test_host_packages_do_not_leak_into_guest(tmp_path):
    # PyYAML is installed in the host environment but not declared by the component.
    src = make(tmp_path, APP.format(imports="import yaml", result="{}"))
    with pytest.raises(BuildError, match=r"app\.py:3: ModuleNotFoundError: No module named 'yaml'"):
        build_one(src)
