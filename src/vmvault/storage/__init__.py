"""Storage backends: bytes under names, nothing more (DESIGN.md §2).

Backends never import the vault layer. Every backend passes ``tests/storage``'s conformance
suite; ``memory`` and ``faulty`` ship in the package for tests.
"""
