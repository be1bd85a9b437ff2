"""Sphinx configuration for the lconv documentation.

Build: ``sphinx-build -W --keep-going -n -b html docs docs/_build/html`` (strict: a broken
reference fails the build).
"""

import lconv

project = "lconv"
author = "lconv authors"
copyright = "lconv authors, MIT licence"
release = lconv.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_parser",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]

# Markdown: $...$ maths, definition lists, heading anchors for links such as page.md#section.
myst_enable_extensions = ["dollarmath", "deflist", "colon_fence"]
myst_heading_anchors = 3

# Docstrings: Google-style (Args:, Returns:) and numpy-style sections, read by napoleon; types stay as written.
napoleon_google_docstring = True
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_custom_sections = ["Shapes", "Init"]  # the docstrings' own sections, shown as headed blocks
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
# Each page under docs/api/ asks for :members: (and lconv.nn for the members its classes
# inherit from private bases); lconv and lconv.generators show only their docstring.
autodoc_default_options: dict = {}
autodoc_inherit_docstrings = False  # torch.nn.Module's docstrings are torch's, not ours

# Strict references (-n): names from packages whose inventories are not fetched (the build
# runs offline) are not checked.
nitpicky = True
nitpick_ignore = [
    ("py:meth", "forward"),  # torch.nn.Module's forward, which the classes here implement undocumented
    ("py:attr", "out_space"),  # an attribute set in Lifting.__init__, described in its docstring
    # private helpers that lconv.discovery's docstrings name for the reader of the source
    ("py:data", "AFFINE_GAIN"),
    ("py:data", "AFFINE_FLOOR"),
    ("py:data", "COUNT_RULES"),
    ("py:func", "_fit_t_starts"),
    ("py:class", "_Kernel"),
    ("py:mod", "lconv.discovery._starts"),
]
nitpick_ignore_regex = [
    ("py:class", r"(torch|numpy|np|pathlib|os|collections|typing|matplotlib)(\..*)?"),
    ("py:class", r"(Tensor|Path|Module|ndarray|Callable|Sequence|Iterable|Mapping|Any)"),
]

html_theme = "furo"
html_title = f"lconv {release}"


# -- Re-exported names ------------------------------------------------------------------
# ``lconv.LConv`` is ``lconv.nn.LConv``, ``lconv.generators.rotation`` is
# ``lconv.algebra.rotation``: each object is documented once, on the page of the package
# that defines it, and a reference to any public name of the same object resolves there.


def _lookup(path):
    import importlib

    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for name in parts[i:]:
                obj = getattr(obj, name)
        except AttributeError:
            return None
        return obj
    return None


_DOCUMENTED: dict = {}  # id(object) -> its documented name, filled once the sources are read


def _forget_documented(app, env):
    _DOCUMENTED.clear()


def _documented(env):
    cache = _DOCUMENTED
    if not cache:
        for name in env.get_domain("py").objects:
            obj = _lookup(name)
            if obj is not None and not isinstance(obj, (int, float, str, bool, type(None))):
                cache.setdefault(id(obj), name)
    return cache


def _resolve_reexport(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    module, cls = node.get("py:module"), node.get("py:class")
    candidates = [target]
    if module:
        candidates = [f"{module}.{cls}.{target}"] * bool(cls) + [f"{module}.{target}", target]
    documented = _documented(env)
    for path in candidates:
        obj = _lookup(path)
        if obj is None or isinstance(obj, (int, float, str, bool, type(None))):
            continue
        name = documented.get(id(obj))
        if name is not None:
            py = env.get_domain("py")
            return py.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], name, node, contnode) or (
                py.resolve_any_xref(env, node["refdoc"], app.builder, name, node, contnode) or [(None, None)]
            )[0][1]
    # ``Grid.rot90`` written in a module that does not import Grid: the one documented
    # object whose full name ends so.
    matches = {name for name in documented.values() if name.endswith("." + target)}
    if len(matches) == 1:
        (name,) = matches
        py = env.get_domain("py")
        return py.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], name, node, contnode)
    return None


# -- Constants ----------------------------------------------------------------------------
# A constant re-exported by a package (``lconv.data.VARIANTS``) has its ``#:`` comment in the
# module that defines it; autodoc looks only in the package, so the constants are listed here.


def _constants(module):
    import importlib
    import types

    try:
        mod = importlib.import_module(module)
    except Exception:  # reported by autodoc when it documents the module
        return []
    return [
        name
        for name in getattr(mod, "__all__", ())
        if not callable(getattr(mod, name)) and not isinstance(getattr(mod, name), types.ModuleType)
    ]


def _is_package(module):
    import importlib.util

    spec = importlib.util.find_spec(module)
    return spec is not None and spec.submodule_search_locations is not None


def _comment(name, obj):
    import importlib
    import pkgutil

    from sphinx.pycode import ModuleAnalyzer

    for info in pkgutil.walk_packages(lconv.__path__, "lconv."):
        try:
            module = importlib.import_module(info.name)
        except Exception:  # a module that fails to import is reported by autodoc itself
            continue
        if getattr(module, name, None) is not obj:
            continue
        try:
            docs = ModuleAnalyzer.for_module(info.name).find_attr_docs()
        except Exception:
            continue
        if ("", name) in docs:
            return list(docs[("", name)])
    return None


def _constant_docstring(app, what, name, obj, options, lines):
    if what == "data" and name.startswith("lconv."):
        comment = _comment(name.rsplit(".", 1)[1], obj)
        lines[:] = comment if comment is not None else []


def _list_constants(app, docname, source):
    if docname.startswith("api/lconv."):
        module = docname[len("api/"):]
        package = module not in ("lconv", "lconv.generators") and _is_package(module)
        names = _constants(module) if package else []
        if names:
            block = "\n".join(f".. autodata:: {module}.{n}" for n in names)
            source[0] += f"\n## Constants\n\n```{{eval-rst}}\n{block}\n```\n"


def _skip_namedtuple_fields(app, what, name, obj, skip, options):
    # A NamedTuple's fields are described in its Attributes section; their own docstrings
    # ("Alias for field number 0") would describe them twice.
    if type(obj).__name__ == "_tuplegetter":
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_namedtuple_fields)
    app.connect("env-updated", _forget_documented)
    app.connect("missing-reference", _resolve_reexport)
    app.connect("autodoc-process-docstring", _constant_docstring)
    app.connect("source-read", _list_constants)
