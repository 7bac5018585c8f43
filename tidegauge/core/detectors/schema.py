"""Schema changes: the difference between two snapshots of a table's columns.

Columns are matched by (case-insensitive) name. What remains unmatched on both sides is paired
into *renames* when one removed and one added column agree on type family and either stand at
the same ordinal or have similar names; everything else is added or removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from enum import StrEnum

from tidegauge.core.model import ColumnInfo

RENAME_SIMILARITY = 0.6


class SchemaChangeType(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    TYPE_CHANGED = "type_changed"
    RENAMED = "renamed"
    NULLABILITY_CHANGED = "nullability_changed"


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """One column-level change, with a sentence for the alert."""

    change: SchemaChangeType
    column: str
    old: ColumnInfo | None = None
    new: ColumnInfo | None = None

    @property
    def breaking(self) -> bool:
        """Whether downstream readers of the column can break."""
        return self.change in (
            SchemaChangeType.REMOVED,
            SchemaChangeType.RENAMED,
            SchemaChangeType.TYPE_CHANGED,
        )

    @property
    def reason(self) -> str:
        o, n = self.old, self.new
        if self.change is SchemaChangeType.ADDED and n:
            return f"column `{n.name}` ({n.data_type}) was added"
        if self.change is SchemaChangeType.REMOVED and o:
            return f"column `{o.name}` ({o.data_type}) was removed"
        if self.change is SchemaChangeType.RENAMED and o and n:
            return f"column `{o.name}` was renamed to `{n.name}` ({n.data_type})"
        if self.change is SchemaChangeType.TYPE_CHANGED and o and n:
            return f"column `{n.name}` changed type from {o.data_type} to {n.data_type}"
        if o and n:
            was = "nullable" if o.nullable else "not null"
            now = "nullable" if n.nullable else "not null"
            return f"column `{n.name}` changed from {was} to {now}"
        return f"column `{self.column}` changed ({self.change})"


def _similar(a: str, b: str) -> float:
    return SequenceMatcher(None, a.lower(), b.lower()).ratio()


def diff_schemas(old: Sequence[ColumnInfo], new: Sequence[ColumnInfo]) -> list[SchemaChange]:
    """Changes from ``old`` to ``new``, in the new table's column order then removals.

    >>> from tidegauge.core.model import ColumnInfo, TypeFamily
    >>> a = [ColumnInfo("id", "INT", TypeFamily.INTEGER, ordinal=1)]
    >>> b = [ColumnInfo("order_id", "INT", TypeFamily.INTEGER, ordinal=1)]
    >>> [c.change.value for c in diff_schemas(a, b)]
    ['renamed']
    """
    old_by = {c.name.lower(): c for c in old}
    new_by = {c.name.lower(): c for c in new}
    changes: list[SchemaChange] = []
    for key, n in new_by.items():
        o = old_by.get(key)
        if o is None:
            continue
        if o.data_type.lower() != n.data_type.lower() or o.family != n.family:
            changes.append(SchemaChange(SchemaChangeType.TYPE_CHANGED, n.name, o, n))
        elif o.nullable != n.nullable:
            changes.append(SchemaChange(SchemaChangeType.NULLABILITY_CHANGED, n.name, o, n))
    removed = [c for k, c in old_by.items() if k not in new_by]
    added = [c for k, c in new_by.items() if k not in old_by]
    pairs: list[tuple[float, ColumnInfo, ColumnInfo]] = []
    for o in removed:
        for n in added:
            if o.family != n.family:
                continue
            sim = _similar(o.name, n.name)
            same_pos = o.ordinal == n.ordinal and o.ordinal > 0
            if same_pos or sim >= RENAME_SIMILARITY:
                pairs.append((sim + (1.0 if same_pos else 0.0), o, n))
    used_o: set[str] = set()
    used_n: set[str] = set()
    for _, o, n in sorted(pairs, key=lambda x: -x[0]):
        if o.name in used_o or n.name in used_n:
            continue
        used_o.add(o.name)
        used_n.add(n.name)
        changes.append(SchemaChange(SchemaChangeType.RENAMED, n.name, o, n))
    changes += [
        SchemaChange(SchemaChangeType.ADDED, n.name, None, n) for n in added if n.name not in used_n
    ]
    changes += [
        SchemaChange(SchemaChangeType.REMOVED, o.name, o, None)
        for o in removed
        if o.name not in used_o
    ]
    order = {c.name.lower(): i for i, c in enumerate(new)}
    changes.sort(key=lambda c: (c.new is None, order.get(c.column.lower(), 0)))
    return changes
