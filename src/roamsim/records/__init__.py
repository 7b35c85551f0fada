"""Record schemas and the columnar buffers the engine appends to."""
