"""The message catalogue: one place for command codes, names and result codes."""

from roamsim.catalogue.diameter import (
    COMMANDS,
    EMM_CAUSE_NAMES,
    RESULT_NAMES,
    Command,
    emm_cause_for,
)

__all__ = ["COMMANDS", "EMM_CAUSE_NAMES", "RESULT_NAMES", "Command", "emm_cause_for"]
