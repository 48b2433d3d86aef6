"""hpbroker: a high-performance message broker that speaks Apache Kafka's wire protocol."""

# The one place the version is written: pyproject.toml reads it from here
# ([tool.setuptools.dynamic]), and `hpbroker --version` prints it.
__version__ = "0.1.0"
