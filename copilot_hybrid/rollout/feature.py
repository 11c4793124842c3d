"""The interface every migratable feature implements.

A feature is the mechanism only: a Python reference and a native candidate
with one signature and one exception contract, plus its verify cases. It
never decides who answers. The rest of the code calls the callable that
`rollout.wrap(feature)` makes (runner.py decides per call); `verify` and
the tests use the feature object itself to compare both sides over its
cases. This module imports nothing of any feature.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from copilot_hybrid.native.smoke import SmokeCall
from copilot_hybrid.redact import redact_value
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
    #: Every C export the native side calls, each with the smoke call the
    #: build's fresh-process check makes (copilot_hybrid/features.py collects
    #: them). A library lacking one of them disables only this feature.
    native_exports: ClassVar[Mapping[str, SmokeCall]]
    #: Every feature starts in shadow until verify passes and someone promotes it.
    default_mode: ClassVar[Mode] = SHADOW

    @property
    def native_symbols(self) -> tuple[str, ...]:
        """The exports the native side needs (the keys of native_exports)."""
        return tuple(self.native_exports)

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
        return redact_value(self.case_to_json(x))

    def input_size(self, x: In) -> int:
        """Size of `x` in bytes, for throughput figures; 0 when meaningless."""
        return 0
