"""steadystate: a streaming SQL database with Materialize-style clusters and replicas."""

__version__ = "0.1.0"
