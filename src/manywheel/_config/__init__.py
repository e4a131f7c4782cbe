"""Configuration: option registry, options model, cibuildwheel translation, the project."""
