"""Regenerate the committed JSON Schema files: ``python -m schemas``."""

from schemas.generate import write_all

if __name__ == "__main__":
    for path in write_all():
        print(path)
