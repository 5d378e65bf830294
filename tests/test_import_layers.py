"""The import graph of ddgan, baselines, reproduce and benchmarks has no cycle and points only down the
layers described in CONTRIBUTING.md. Every module is parsed (not imported); imports inside functions count."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ddgan", "baselines", "reproduce", "benchmarks")

# Lowest first; a module may import its own layer and the layers below. An entry ending in "." holds
# every module below that package; any other entry is one module (a package's __init__ by its name).
LAYERS = [
    ("base", ("ddgan.base", "ddgan.base.")),
    ("datasets, metrics, networks", ("ddgan.datasets", "ddgan.datasets.", "ddgan.metrics", "ddgan.metrics.",
                                     "ddgan.nets", "ddgan.nets.")),
    ("framework", ("ddgan.core", "ddgan.core.")),
    ("methods", ("ddgan.denoising_gan", "ddgan.official", "ddgan.presets", "ddgan.small_presets", "baselines",
                 "baselines.")),
    ("applications", ("ddgan", "ddgan.__main__", "ddgan.cli", "ddgan.preset_cards", "ddgan.sample_cli",
                      "ddgan.sampling", "ddgan.evaluate", "ddgan.demo", "ddgan.demo.", "reproduce", "reproduce.",
                      "benchmarks", "benchmarks.")),
]

def module_files():
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


MODULES = module_files()


def owning_module(name):
    """The module of ours that `name` (a module or module.attribute) lives in, or None."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def constant_strings(node):
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def called(call):
    """The name of the function a call node calls (`f` of f(...) and of x.f(...))."""
    return getattr(call.func, "attr", getattr(call.func, "id", None))


def imports_of(name, path):
    """Modules of ours that `name` imports anywhere in its source (importlib calls with literal names
    and the catalogues it hands to the registry with add_catalogues included). `from pkg import sub`
    depends on pkg.sub, not on pkg's own code."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            submodules = [f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in MODULES]
            targets.update(submodules)
            if len(submodules) < len(node.names):
                targets.add(module)
        elif isinstance(node, ast.Call) and called(node) == "import_module":
            targets.update(a.value for a in node.args[:1] if isinstance(a, ast.Constant))
        elif isinstance(node, ast.Call) and called(node) == "add_catalogues":
            targets.update(constant_strings(node))
    return {owner for owner in map(owning_module, targets) if owner and owner != name}


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def layer_of(name):
    found = [index for index, (_, entries) in enumerate(LAYERS)
             if any(name.startswith(e) if e.endswith(".") else name == e for e in entries)]
    assert len(found) == 1, f"{name} is in {len(found)} layers: give it one in LAYERS (tests/test_import_layers.py)"
    return found[0]


def upward_imports(graph):
    """(importer, imported) pairs of `graph` whose import runs from a lower layer to a higher one."""
    return {(name, target) for name, targets in graph.items() for target in targets
            if layer_of(target) > layer_of(name)}


def test_every_module_has_a_layer_and_the_graph_sees_nested_imports():
    for name in MODULES:
        layer_of(name)
    assert LAYERS[layer_of("ddgan.nets.small")][0] == LAYERS[layer_of("ddgan.nets")][0] == "datasets, metrics, networks"
    # imports inside functions count: ddgan.core.config imports the registry inside validate()
    assert "ddgan.base.registry" in GRAPH["ddgan.core.config"]
    # the catalogues handed to the registry count as imports of the module that hands them
    assert {"ddgan.core.catalog", "baselines.catalog"} <= GRAPH["ddgan"]


def test_the_upward_imports_of_the_old_layout_are_caught():
    """The three imports from datasets, metrics and networks back into the framework that the base layer
    removed (provenance and the registry lived in ddgan/core/) would each fail the layer test."""
    old = {"ddgan.metrics.timing": {"ddgan.core"}, "ddgan.datasets.prepare": {"ddgan.core"},
           "ddgan.nets": {"ddgan.core"}}
    assert upward_imports(old) == {(name, "ddgan.core") for name in old}


def test_no_import_cycle():
    state, stack = {}, []

    def visit(name):
        state[name] = "open"
        stack.append(name)
        for target in sorted(GRAPH[name]):
            if state.get(target) == "open":
                cycle = stack[stack.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[name] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name)


def test_imports_point_down_the_layers():
    upward = upward_imports(GRAPH)
    assert not upward, "imports from a lower layer to a higher one: " + ", ".join(
        f"{a} ({LAYERS[layer_of(a)][0]}) -> {b} ({LAYERS[layer_of(b)][0]})" for a, b in sorted(upward))
