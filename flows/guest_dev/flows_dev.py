"""The entry module of a `flows dev` build (see README.md here).

At build time: import the component's own `app` and note the source hash of
each of the component's modules (those under /0/, where its folder is
mounted). On the first call of an export in a run: ask the host for the
sources on disk now; when one differs, drop the component's modules and
import `app` again from those sources. Standard-library and bundled modules
stay as the snapshot has them; one the snapshot lacks cannot be imported
(ModuleNotFoundError), and `flows dev` then rebuilds."""

import hashlib
import importlib.abc
import importlib.util
import sys

import app as _built_app
from wit_world.imports import dev_sources  # imported now: the snapshot must hold it

OWN = "/0/"  # the component's folder, as mounted while it is built


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _module_name(rel: str) -> str:
    parts = rel[: -len(".py")].split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _built_sources() -> dict[str, str]:
    """path relative to the folder -> sha256 of the source the snapshot ran."""
    out = {}
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None) or ""
        if f.startswith(OWN) and f.endswith(".py"):
            with open(f, encoding="utf-8") as fh:
                out[f[len(OWN) :]] = _sha(fh.read())
    return out


BUILT = _built_sources()


class _Sources(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the component's modules from the host's texts."""

    def __init__(self, texts: dict[str, str]) -> None:
        self.files = {_module_name(rel): (rel, text) for rel, text in texts.items()}

    def find_spec(self, name, path=None, target=None):
        hit = self.files.get(name)
        if hit is None:
            return None
        return importlib.util.spec_from_loader(
            name, self, origin=OWN + hit[0], is_package=hit[0].endswith("__init__.py")
        )

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        rel, text = self.files[module.__spec__.name]
        module.__file__ = OWN + rel
        exec(compile(text, OWN + rel, "exec"), module.__dict__)


_app = None
_instances: dict[str, object] = {}


def current_app():
    """The `app` module this run uses: the built one, or one from newer sources."""
    global _app
    if _app is not None:
        return _app
    texts = dict(dev_sources.sources())
    if all(rel in texts and _sha(texts[rel]) == h for rel, h in BUILT.items()):
        _app = _built_app
        return _app
    own = [n for n, m in sys.modules.items() if (getattr(m, "__file__", "") or "").startswith(OWN)]
    for name in own:
        del sys.modules[name]
    sys.meta_path.insert(0, _Sources(texts))
    import app as fresh

    _app = fresh
    return _app


def _wrap(name: str, cls: type) -> type:
    """A subclass of the built export class whose methods call the current one."""

    def method(attr: str):
        def call(self, *args):
            inst = _instances.get(name)
            if inst is None:
                inst = _instances[name] = getattr(current_app(), name)()
            return getattr(inst, attr)(*args)

        call.__name__ = attr
        return call

    attrs = [a for a in dir(cls) if not a.startswith("_") and callable(getattr(cls, a, None))]
    return type(name, (cls,), {a: method(a) for a in attrs})


def _exports() -> dict[str, type]:
    """The classes of `app` that implement a WIT export."""
    found = {}
    for name, obj in vars(_built_app).items():
        mine = isinstance(obj, type) and obj.__module__ == "app"
        if mine and any(b.__module__.startswith("wit_world") for b in obj.__mro__[1:]):
            found[name] = obj
    return found


for _name, _cls in _exports().items():
    globals()[_name] = _wrap(_name, _cls)
