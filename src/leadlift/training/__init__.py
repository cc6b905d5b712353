"""Training: Lightning modules and data modules around the pure models of :mod:`leadlift.models`."""
