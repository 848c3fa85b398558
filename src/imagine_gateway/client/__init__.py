"""The Python SDK; import it from the package root: ``from imagine_gateway import Client``."""
