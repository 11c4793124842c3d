"""The interface every migratable feature implements.

A feature has a Python reference and a native candidate with one signature
and one exception contract. Callers call the feature (`feature(x)`); the
rollout layer decides who answers. `verify` and the tests use the same
object to compare both sides over the feature's cases.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from copilot_hybrid.rollout.modes import SHADOW, Mode

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(frozen=True)
class Case(Generic[In]):
    """One verify input; `kind` is corpus, generated or edge."""

    kind: str
    value: In
    label: str = ""


class Feature(ABC, Generic[In, Out]):
    name: ClassVar[str]
    summary: ClassVar[str]
    #: C exports the native side needs; missing ones disable only this feature.
    native_symbols: ClassVar[tuple[str, ...]]
    #: Every feature starts in shadow until verify passes and someone promotes it.
    default_mode: ClassVar[Mode] = SHADOW

    @abstractmethod
    def reference(self, x: In) -> Out: ...

    @abstractmethod
    def native(self, x: In) -> Out:
        """Raises NativeUnavailable when the library is not usable."""

    def compare(self, reference: Out, native: Out) -> bool:
        return reference == native

    def compare_errors(self, reference: BaseException, native: BaseException) -> bool:
        """Both sides failing counts as a match when they fail the same way:
        same exception type (messages differ between implementations)."""
        return type(reference) is type(native)

    def same_outcome(
        self, reference: Any, reference_error: BaseException | None, native: Any, native_error: BaseException | None
    ) -> bool:
        """Whether two outcomes agree: equal values, or matching failures;
        one side failing and the other not is always a mismatch."""
        if reference_error is not None or native_error is not None:
            return (
                reference_error is not None
                and native_error is not None
                and self.compare_errors(reference_error, native_error)
            )
        return self.compare(reference, native)

    @abstractmethod
    def cases(self, *, count: int, seed: int) -> Iterator[Case[In]]:
        """Corpus, edge and `count` seeded generated inputs for verify."""

    @abstractmethod
    def case_to_json(self, x: In) -> Any:
        """A JSON value from which case_from_json rebuilds `x` exactly."""

    @abstractmethod
    def case_from_json(self, data: Any) -> In: ...

    def redact(self, x: In) -> Any:
        """What the mismatch log may publish about `x` (secrets masked, size capped)."""
        from copilot_hybrid.redact import redact_value

        return redact_value(self.case_to_json(x))

    def input_size(self, x: In) -> int:
        """Size of `x` in bytes, for throughput figures; 0 when meaningless."""
        return 0

    def __call__(self, x: In, *, key: str | None = None) -> Out:
        from copilot_hybrid.rollout.runner import run

        return run(self, x, key=key)
