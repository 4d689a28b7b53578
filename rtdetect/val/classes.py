"""Which model class is which dataset category: matched by name (case and spaces ignored), so COCO's
91-id categories (person = 1) meet a model's 80 contiguous ids (person = 0). A dataset whose categories are
only numbered (YOLO folders without names) is matched by id."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..errors import ModelError
from ..notes import note
from .dataset import Category


def normalised(name: str) -> str:
    return " ".join(name.lower().replace("_", " ").split())


@dataclass(frozen=True)
class ClassMatch:
    """``to_category[model class id] = dataset category id`` for every matched class."""

    to_category: dict[int, int]

    @property
    def category_ids(self) -> list[int]:
        """The matched dataset categories, in order: the ones scored."""
        return sorted(self.to_category.values())


def match_classes(model_names: Sequence[str], categories: Sequence[Category], *,
                  numbered: bool = False, keep: Sequence[int] | None = None) -> ClassMatch:
    """Match the model's classes to the dataset's categories (``numbered``: by id, the dataset has no
    names; ``keep``: only these model ids, as ``--classes`` asks). Categories that match nothing are named
    in one note; ModelError naming them when none matches."""
    if numbered:
        by_name = {str(i): i for i in range(len(model_names))}
    else:
        by_name = {normalised(n): i for i, n in enumerate(model_names)}
    matched, unmatched = {}, []
    for category in categories:
        model_id = by_name.get(normalised(category.name))
        if model_id is None:
            unmatched.append(category.name)
        else:
            matched[model_id] = category.id
    to_category = {m: c for m, c in matched.items() if keep is None or m in keep}
    if matched and not to_category:
        raise ModelError("--classes keeps none of the classes the model and the dataset share")
    if not to_category:
        raise ModelError(f"no dataset class matches a model class by name (dataset: {', '.join(unmatched) or 'none'}; "
                         f"model: {', '.join(model_names[:10])}{', ...' if len(model_names) > 10 else ''})")
    if unmatched:
        note(f"not scored: dataset classes the model does not have: {', '.join(unmatched)}")
    return ClassMatch(to_category)
