"""What a pass plans from: one snapshot of the operator's indexes (see `link_index`).

The publisher takes the snapshot when a pass starts, not when a change is requested, so a burst
of changes is planned once, from the newest state.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from shortlink_operator.link_index import IndexedLink, Indexes
from shortlink_operator.policy import Policy


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything a pass plans from: a snapshot of the operator's indexes."""

    links: Sequence[IndexedLink]
    policies: Sequence[Policy] = ()
    namespace_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


#: Returns the complete, current inputs; called once per pass.
Source = Callable[[], Inputs]


def inputs_of(indexes: Indexes) -> Inputs:
    """What the operator's indexes hold now."""
    return Inputs(
        links=indexes.links.snapshot(),
        policies=indexes.policies.snapshot(),
        namespace_labels={name: labels for (_, name), labels in indexes.namespaces.items()},
    )
