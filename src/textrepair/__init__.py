"""textrepair: restore text damaged by DNA-like mutations."""

__version__ = "0.1.0"
