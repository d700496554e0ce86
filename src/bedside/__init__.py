"""bedside: a self-hostable clinical answer engine with cited, traceable answers."""

from bedside.engine import Bedside
from bedside.errors import BedsideError

__version__ = "0.1.0"

__all__ = ["Bedside", "BedsideError", "__version__"]
