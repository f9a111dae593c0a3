"""study: how customer-service response speed and resolution quality drive satisfaction and repeat purchase."""

__version__ = "0.1.0"
