"""Reading a column map file safely: its size, YAML aliases, repeated keys, sections and unknown keys.

:mod:`study.data.map_file` reads the tickets section from what :func:`read_yaml` returns; the other
sections' readers use :func:`read_yaml_section` and :func:`check_keys`.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from study.data.convert import nearest, short
from study.data.schema import DataError

SECTIONS = ("tickets", "experiment", "drivers", "feedback")
MAX_MAP_BYTES = 1_000_000
MAX_MAP_NODES = 100_000


def check_keys(found: dict, allowed, where: str, name: str) -> None:
    """Refuse a key of ``found`` that is not in ``allowed``, naming the nearest allowed key.

    Parameters
    ----------
    found : dict
        A mapping read from the map file.
    allowed : iterable of str
    where : str
        Where in the map, for the message (``the experiment section``).
    name : str
        The map file's name.

    Raises
    ------
    DataError
        ``map.yml: unknown key 'covarate' in the experiment section (did you mean 'covariate'?)``.
    """
    allowed = list(allowed)
    for key in found:
        if key not in allowed:
            close = nearest(str(key), allowed)
            hint = f"did you mean {close!r}?" if close else f"known keys: {', '.join(allowed)}"
            raise DataError(f"{name}: unknown key {short(key)} in {where} ({hint})")


def _count_nodes(node, budget: int) -> int:
    """Values of a composed YAML document with its aliases expanded, counting stops past ``budget``.

    An alias is a reference to a node composed once, so composing a "billion laughs" file is cheap;
    building it is what would take the memory. Counting each reference as often as it is used, and
    stopping at the budget, finds such a file without building it (and ends on a cyclic alias).
    """
    count, stack = 0, [node]
    while stack and count <= budget:
        current = stack.pop()
        count += 1
        if isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
        elif isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                stack.extend((key, value))
    return count


def _repeated_key(node):
    """The first key node that repeats a key of its mapping (YAML keeps the last without a word), or ``None``."""
    stack, seen = [node], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:  # an alias: the same node, already looked at
            continue
        seen.add(id(current))
        if isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
        elif isinstance(current, yaml.MappingNode):
            keys = set()
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                    if key.value in keys:
                        return key
                    keys.add(key.value)
                stack.append(value)
    return None


def read_yaml(path: str | Path) -> dict:
    """A whole column map file, checked for size, alias expansion and its top-level sections.

    Raises
    ------
    DataError
        When the file is missing, too large, not YAML, expands past :data:`MAX_MAP_NODES` values,
        is not a mapping, or has a section other than :data:`SECTIONS`.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such column map")
    size = path.stat().st_size
    if size > MAX_MAP_BYTES:
        raise DataError(f"{path.name}: {size:,} bytes is too large for a column map (at most {MAX_MAP_BYTES:,})")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path.name}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _count_nodes(node, MAX_MAP_NODES) > MAX_MAP_NODES:
            raise DataError(f"{path.name}: expands to more than {MAX_MAP_NODES:,} values (YAML aliases); "
                            "a column map is a few dozen lines")
        repeated = _repeated_key(node) if node is not None else None
        if repeated:
            raise DataError(f"{path.name}: key {short(repeated.value)} appears twice in one mapping (line "
                            f"{repeated.start_mark.line + 1}); YAML would keep only the last")
        content = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        raise DataError(f"{path.name}: not valid YAML ({str(error).splitlines()[0][:200]})") from None
    except RecursionError:
        raise DataError(f"{path.name}: nested too deeply to be a column map") from None
    finally:
        loader.dispose()
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise DataError(f"{path.name}: a column map is a mapping with a 'tickets' and/or an 'experiment' section")
    check_keys(content, SECTIONS, "the column map (its sections)", path.name)
    return content


def read_yaml_section(path: str | Path, section: str) -> dict | None:
    """One section of a column map file, or ``None`` when the file has no such section.

    Raises
    ------
    DataError
        When the file is missing, not YAML, or fails :func:`read_yaml`'s checks, or the section is
        not a mapping.
    """
    found = read_yaml(path).get(section)
    if found is not None and not isinstance(found, dict):
        raise DataError(f"{Path(path).name}: the '{section}' section must be a mapping")
    return found
