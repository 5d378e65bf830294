"""The registries: every method, network architecture, preset table and in-memory dataset the package
knows, by name. Every other list of names (config checks, the CLI's choices, result labels) is
derived from them.

The entries live in catalogue modules, one per package that provides them (ddgan/core/catalog.py for
DDGAN and its networks, baselines/catalog.py for the baselines): plain dictionaries naming
"module:attribute", so that nothing is imported before it is used and a catalogue imports nothing.
The package on top (ddgan/__init__.py) hands the catalogues over with `add_catalogues`, so that this
framework names no higher layer. Code (a test, a notebook, another package) can add entries with
`register`. The layers of the code and what may import what are described in CONTRIBUTING.md.
"""
import importlib

# Catalogue modules, read in this order on the first lookup after they were added.
CATALOGUES = []


def add_catalogues(*modules):
    """Catalogue modules ("package.module") whose entries the registries hold from their next lookup on."""
    CATALOGUES.extend(module for module in modules if module not in CATALOGUES)


def resolve(target):
    """The object a "module:attribute" string names (anything else is returned as it is)."""
    if not isinstance(target, str):
        return target
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


class Registry:
    """Name -> "module:attribute" (or the object itself), filled from the catalogues' `field` on lookup."""

    def __init__(self, field):
        self.field = field
        self.entries = {}
        self.catalogues_read = 0

    def load(self):
        while self.catalogues_read < len(CATALOGUES):
            catalogue = CATALOGUES[self.catalogues_read]
            self.catalogues_read += 1
            for name, target in getattr(importlib.import_module(catalogue), self.field, {}).items():
                self.register(name, target)
        return self.entries

    def register(self, name, target):
        """Add an entry; the same name twice with different targets is an error."""
        if self.entries.get(name, target) != target:
            raise ValueError(f"{self.field} entry {name!r} is already registered as {self.entries[name]!r}")
        self.entries[name] = target

    def unregister(self, name):
        self.load().pop(name, None)

    def names(self):
        """The registered names, in catalogue order."""
        return tuple(self.load())

    def __contains__(self, name):
        return name in self.load()

    def get(self, name):
        """The registered object (imported on first use); KeyError for an unknown name."""
        return resolve(self.load()[name])


METHODS = Registry("METHODS")                  # method name -> Method subclass
ARCHITECTURES = Registry("ARCHITECTURES")      # network arch -> nn.Module class
PRESET_TABLES = Registry("PRESET_TABLES")      # table name -> {preset name: () -> config}
DATASETS = Registry("DATASETS")                # in-memory dataset -> (size, seed) -> array in [-1, 1]
RESULT_LABELS = Registry("RESULT_LABELS")      # result-row method labels that are not methods -> what they are


def result_methods():
    """Every value of a result row's `method`: the methods, then the other labels (e.g. ddim, official)."""
    return METHODS.names() + tuple(label for label in RESULT_LABELS.names() if label not in METHODS)


def presets():
    """Every named config: preset name -> factory, over all preset tables."""
    merged = {}
    for table in PRESET_TABLES.names():
        for name, factory in PRESET_TABLES.get(table).items():
            if name in merged:
                raise ValueError(f"preset {name!r} is defined by two preset tables")
            merged[name] = factory
    return merged
