"""Errors for bad input: each names the field that is wrong."""


class ConfigError(ValueError):
    """A configuration, fault plan or option is invalid.

    ``field`` names what is wrong (``"acceptors"``, ``"faults[2].at"``...); the
    message is one line a person can act on."""

    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)

    def __reduce__(self):
        # So the error survives pickling (a sweep's worker process sends it back).
        return (type(self), (self.field, self.problem))
