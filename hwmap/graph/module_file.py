"""A model from the user's own Python file: the MODEL spec 'path/to/file.py:Name'.

The file is imported as a module (importlib, under a name of its own, with its folder on sys.path while it runs so
that it can import its neighbours); Name is an nn.Module subclass, a function returning an nn.Module, or an
nn.Module instance defined at module level. Classes and functions are called without arguments (num_classes is
passed when given and the callable takes it), under torch's meta device: no weights are allocated.
Every failure (no such file, an import that raises, no such name, not a module, a constructor that raises) is one
ModelError naming the file and the name.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from hwmap.errors import ModelError

PY_SUFFIX = ".py"
SPEC_FORM = "path/to/file.py:ClassOrFactory"


def is_module_file_spec(spec: object) -> bool:
    """A MODEL written as 'file.py:Name' (or a bare 'file.py', which is an error naming the missing ':Name')."""
    if not isinstance(spec, str | Path):
        return False
    text = str(spec)
    path, _, _name = text.rpartition(":")
    return path.lower().endswith(PY_SUFFIX) or text.lower().endswith(PY_SUFFIX)


def split_spec(spec: str) -> tuple[Path, str]:
    """'dir/mynet.py:MyNet' -> (Path('dir/mynet.py'), 'MyNet')."""
    path, colon, name = spec.rpartition(":")
    if not colon or not path.lower().endswith(PY_SUFFIX):
        raise ModelError(f"{spec}: name the model class or factory in the file: {spec}:Name (MODEL {SPEC_FORM})")
    if not name.isidentifier():
        raise ModelError(f"{spec}: {name!r} is not a Python name; expected {SPEC_FORM}")
    return Path(path), name


def build_module(spec: str, *, num_classes: int | None = None) -> tuple[Any, str, dict]:
    """(nn.Module on the meta device, its name, provenance) for a 'file.py:Name' spec."""
    import torch

    path, name = split_spec(spec)
    namespace = _import_file(path)
    if not hasattr(namespace, name):
        raise ModelError(f"{path} defines no {name!r}; its nn.Module classes and functions: "
                         f"{', '.join(_candidates(namespace, torch)) or 'none'}")
    target = getattr(namespace, name)
    if isinstance(target, torch.nn.Module):
        if num_classes is not None:
            raise ModelError(f"{path}:{name} is a module instance: num_classes does not apply (define a class or a "
                             "factory that takes num_classes)")
        module = target.to("meta")  # traced like every model: shapes only, no arithmetic on its weights
    elif callable(target):
        module = _call(path, name, target, num_classes, torch)
    else:
        raise ModelError(f"{path}:{name} is a {type(target).__name__}, not an nn.Module class or a function "
                         "returning one")
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    return module, name, {"source": f"Python file {path}", "file_sha256": sha256}


def _import_file(path: Path):
    if not path.is_file():
        raise ModelError(f"{path}: no such file (MODEL {SPEC_FORM} imports a model from a Python file)")
    resolved = path.resolve()
    module_name = f"hwmap_user_model_{hashlib.sha256(str(resolved).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    if spec is None or spec.loader is None:
        raise ModelError(f"{path}: cannot be imported as a Python module")
    namespace = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = namespace  # dataclasses and pickling look the module up by name
    folder = str(resolved.parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(namespace)
    except BaseException as exc:  # the user's code: any failure (SyntaxError, ImportError, SystemExit) is one line
        sys.modules.pop(module_name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ModelError(f"{path}: importing it raised {type(exc).__name__}: {_one_line(exc)}") from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return namespace


def _call(path: Path, name: str, target, num_classes: int | None, torch) -> Any:
    kwargs = {}
    if num_classes is not None:
        if not _takes(target, "num_classes"):
            raise ModelError(f"{path}:{name} takes no num_classes argument; drop num_classes or add the parameter")
        kwargs["num_classes"] = num_classes
    try:
        with torch.device("meta"):
            module = target(**kwargs)
    except Exception as exc:
        raise ModelError(f"{path}:{name}() raised {type(exc).__name__}: {_one_line(exc)} (hwmap calls it without "
                         "arguments, on torch's meta device)") from None
    if not isinstance(module, torch.nn.Module):
        raise ModelError(f"{path}:{name}() returned a {type(module).__name__}; expected an nn.Module (a model "
                         "class, or a function returning a model)")
    return module


def _takes(target, parameter: str) -> bool:
    try:
        parameters = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False
    return parameter in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def _candidates(namespace, torch) -> list[str]:
    """The file's own nn.Module subclasses, and its functions (factories), by name."""
    names = []
    for attr, value in vars(namespace).items():
        if attr.startswith("_") or getattr(value, "__module__", None) != namespace.__name__:
            continue
        if (inspect.isclass(value) and issubclass(value, torch.nn.Module)) or inspect.isfunction(value):
            names.append(attr)
    return names


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or "(no message)"
