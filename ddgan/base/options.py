"""Declared config options: each key of a config section is declared once, with its type, allowed
range or choices, default and a help line, next to the code that reads it.

    Option("lazy_reg", int, None, min=1, allow_none=True, help="R1 penalty every lazy_reg D steps")

`check_section` refuses unknown keys (naming the nearest valid ones), wrongly typed or out-of-range
values (naming the key, the value and what is allowed), and returns the section with every
applicable default filled in, so a saved config says exactly what ran.
"""
import copy
import difflib
import json
from dataclasses import dataclass

REQUIRED = object()    # the default of an option that has none


class ConfigError(ValueError):
    """A config is incomplete, inconsistent or does not match a checkpoint."""


@dataclass(frozen=True)
class Option:
    name: str
    type: type                  # int, float, bool, str, list or dict
    default: object = REQUIRED  # a value, REQUIRED, or a function of the section (dataset-dependent)
    help: str = ""
    min: float | None = None
    below: float | None = None  # exclusive upper bound
    above: float | None = None  # exclusive lower bound
    choices: tuple | None = None
    allow_none: bool = False
    items: type | None = None   # element type of a list, value type of a mapping (checked with min/above)
    length: int | None = None   # the exact length of a list
    schema: tuple | None = None  # the options of a nested section (type dict)
    when: tuple | None = None   # (key, values): the option applies only while that sibling key has one of values
    bookkeeping: bool = False   # does not change what is computed: may differ when a run is resumed

    def allowed(self):
        """What the option accepts, in words: 'an integer >= 1 or null'."""
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.schema is not None:
            text = "a mapping of the options " + ", ".join(o.name for o in self.schema)
        else:
            text = TYPE_WORDS[self.type]
            if self.items is not None:
                count = f" {self.length}" if self.length is not None else ""
                text += f" of{count} {PLURAL_WORDS[self.items]}"
            bounds = [f">= {self.min:g}" if self.min is not None else "",
                      f"> {self.above:g}" if self.above is not None else "",
                      f"< {self.below:g}" if self.below is not None else ""]
            bounds = " and ".join(b for b in bounds if b)
            if bounds:
                text += (" each " if self.items is not None else " ") + bounds
        return text + (" or null" if self.allow_none else "")

    def describe(self):
        """One line for `ddgan options`: name, what it accepts, default, help."""
        if self.default is REQUIRED:
            default = "required"
        elif callable(self.default):
            default = "default depends on the dataset"
        else:
            default = f"default {json.dumps(self.default)}"
        condition = f"; only when {self.when[0]} is {' or '.join(repr(v) for v in self.when[1])}" if self.when else ""
        condition += "; may change when a run is resumed" if self.bookkeeping else ""
        return f"{self.name}: {self.allowed()} ({default}{condition}). {self.help}".rstrip()


TYPE_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string", list: "a list",
              dict: "a mapping"}
PLURAL_WORDS = {int: "integers", float: "numbers", str: "strings"}


def suggestion(name, names, prefix=""):
    """'did you mean method.lazy_reg? ' for a misspelt name (empty when nothing is close)."""
    close = difflib.get_close_matches(name, names, n=2, cutoff=0.6)
    return f"did you mean {' or '.join(prefix + c for c in close)}? " if close else ""


def _value_fits(value, kind):
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _in_bounds(option, value):
    return not ((option.min is not None and value < option.min)
                or (option.above is not None and value <= option.above)
                or (option.below is not None and value >= option.below))


def check_value(option, value, key):
    """The value, converted where lossless (1 -> 1.0 for a number); ConfigError if not allowed."""
    def refuse():
        help_text = f" ({option.help})" if option.help else ""
        raise ConfigError(f"{key} must be {option.allowed()}, got {value!r}{help_text}")

    if value is None:
        if not option.allow_none:
            refuse()
        return None
    if option.schema is not None:
        if not isinstance(value, dict):
            refuse()
        return check_section(option.schema, value, key + ".")
    if option.choices is not None:
        if value not in option.choices:
            refuse()
        return value
    if not _value_fits(value, option.type):
        refuse()
    if option.type in (list, dict):
        elements = list(value.values()) if option.type is dict else value
        if option.length is not None and len(value) != option.length:
            refuse()
        if option.items is not None and not all(_value_fits(v, option.items) and _in_bounds(option, v)
                                                for v in elements):
            refuse()
        return value
    if not _in_bounds(option, value):
        refuse()
    return float(value) if option.type is float else value


def applies(option, values):
    return option.when is None or values.get(option.when[0]) in option.when[1]


def check_section(options, values, prefix, extra=()):
    """Check the dict `values` against `options` (plus the undeclared keys in `extra`, e.g. "name") and
    return a copy with the defaults of every applicable option filled in."""
    declared = {o.name: o for o in options}
    for key in values:
        if key not in declared and key not in extra:
            raise ConfigError(f"unknown key {prefix}{key}; {suggestion(key, list(declared), prefix)}"
                              f"the keys of {prefix.rstrip('.')} are {', '.join(declared)}")
    out = {k: values[k] for k in extra if k in values}
    # options without a condition first: conditions read their (filled) values
    for option in sorted(options, key=lambda o: o.when is not None):
        key = prefix + option.name
        if not applies(option, out):
            if option.name in values:
                condition, wanted = option.when
                raise ConfigError(f"{key} applies only when {prefix}{condition} is "
                                  f"{' or '.join(repr(v) for v in wanted)} (it is {out.get(condition)!r}); "
                                  f"remove it or set {prefix}{condition}")
            continue
        if option.name in values:
            out[option.name] = check_value(option, values[option.name], key)
        elif option.default is REQUIRED:
            raise ConfigError(f"{key} is required: {option.allowed()}" + (f" ({option.help})" if option.help else ""))
        else:
            out[option.name] = option.default(out) if callable(option.default) else copy.deepcopy(option.default)
    return {**{k: out[k] for k in extra if k in out}, **{o.name: out[o.name] for o in options if o.name in out}}


def bookkeeping_keys(options, prefix):
    return {prefix + o.name for o in options if o.bookkeeping}
